"""Sizes a user controls, at the sizes issue 28 found breaking (not part of the test run):
an import of 20,000 plain labels, an import of 1,000 rows whose 3 factors take 1,000
values each, and the report of 16 runs with 1M-point curves.

    python benchmarks/reliability_sizes.py [--out /tmp/sizes] [--points 1000000]

Prints one line per case: seconds, and for the report its page's size.
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
import time
from contextlib import closing
from pathlib import Path
from types import SimpleNamespace

import numpy as np

from jaxstab import cli
from jaxstab.store import Store
from jaxstab.loader import study_from_dict


def _csv(path: Path, header, rows) -> Path:
    with open(path, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(header)
        w.writerows(rows)
    return path


def _timed(*args) -> float:
    t0 = time.perf_counter()
    rc = cli.main([str(a) for a in args])
    if rc != 0:
        raise SystemExit(f"jaxstab {args[0]} failed: exit {rc}")
    return time.perf_counter() - t0


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--out", default=None)
    p.add_argument("--points", type=int, default=1_000_000)
    p.add_argument("--runs", type=int, default=16)
    args = p.parse_args(argv)
    out = Path(args.out or tempfile.mkdtemp(prefix="jaxstab-sizes-"))
    out.mkdir(parents=True, exist_ok=True)
    for f in out.glob("*.sqlite*"):
        f.unlink()

    labels = _csv(out / "labels.csv", ["setting", "seed", "acc"],
                  [[f"label {i}", 0, 0.5] for i in range(20_000)])
    s = _timed("import", labels, "--study", "sizes/labels", "--store", out / "a.sqlite")
    print(f"import of 20,000 plain labels: {s:.1f} s")

    grid = _csv(out / "grid.csv", ["setting", "seed", "acc"],
                [[json.dumps({"a": i, "b": 2 * i, "c": f"v{i}"}), 0, 0.5]
                 for i in range(1000)])
    s = _timed("import", grid, "--study", "sizes/grid", "--store", out / "b.sqlite")
    print(f"import of 1,000 rows, 3 factors x 1,000 values: {s:.1f} s")

    study = study_from_dict({"name": "sizes/curves", "seeds": args.runs,
                             "data": {"n_samples": 64}, "model": {"hidden": [8]},
                             "train": {"batch_size": 16, "epochs": 1}})
    (setting,) = study.settings()
    rng = np.random.default_rng(0)
    with closing(Store(out / "c.sqlite")) as db:
        fp = db.ensure_study(study)
        db.write_chunk(fp, [SimpleNamespace(
            setting=setting.key, seed=k, diverged=False, diverged_step=None,
            metrics={"train_accuracy": 0.5 + k / 100, "test_accuracy": 0.5,
                     "diverged": 0.0},
            curves={"loss": np.exp(-np.arange(args.points) / (args.points / 4))
                    + rng.normal(0, 0.01, args.points)}) for k in range(args.runs)],
            1.0, {})
    s = _timed("report", "--store", out / "c.sqlite", "--out", out / "report")
    page = (out / "report" / "sizes-curves.html").stat().st_size
    data = (out / "report" / "sizes-curves.json").stat().st_size
    print(f"report of {args.runs} runs x {args.points:,}-point curves: {s:.1f} s, page "
          f"{page / 1e3:,.0f} kB, JSON {data / 1e3:,.0f} kB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
