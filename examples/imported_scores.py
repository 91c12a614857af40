"""Scores from another framework (say PyTorch) through jaxstab's statistics and report.

    python examples/imported_scores.py [--out DIR] [--seeds N]

Stands in for per-seed test accuracies of three training recipes, trained elsewhere:
numbers drawn by NumPy with a fixed seed, written as the CSV a training script would
write (wide: `setting,seed,accuracy`, one row per run). Runs with the same seed index
are paired across settings (same data order and initialization), as jaxstab's own are.
The same from the shell:

    jaxstab import scores.csv --study example/pytorch_recipes --claims claims.toml
"""

import argparse
import tempfile
from pathlib import Path

import numpy as np

import jaxstab

CLAIMS = """\
main_metric = "accuracy"

[[claims]]
text = "Label smoothing raises test accuracy"
metric = "accuracy"
kind = "mean"
direction = "greater"
a = { setting = "label_smoothing" }   # a plain label: the factor is called `setting`
b = { setting = "baseline" }

[[claims]]
text = "Mixup makes test accuracy more consistent across seeds"
metric = "accuracy"
kind = "spread"
direction = "less"
a = { setting = "mixup" }
b = { setting = "baseline" }
"""

# (mean shift, seed-to-seed sd of each recipe's own noise)
RECIPES = {"baseline": (0.0, 0.006), "label_smoothing": (0.004, 0.006),
           "mixup": (0.002, 0.002)}


def write_scores(path: Path, seeds: int) -> None:
    rng = np.random.default_rng(12)
    shared = rng.normal(0.0, 0.004, seeds)  # what a seed's data order does to every recipe
    lines = ["setting,seed,accuracy"]
    for name, (shift, sd) in RECIPES.items():
        acc = 0.91 + shift + shared + rng.normal(0.0, sd, seeds)
        lines += [f"{name},{k},{a:.4f}" for k, a in enumerate(acc)]
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", help="folder for the CSV, store and report (default: temp)")
    ap.add_argument("--seeds", type=int, default=20, help="runs per recipe")
    args = ap.parse_args()
    out = Path(args.out or tempfile.mkdtemp(prefix="jaxstab-example-"))
    out.mkdir(parents=True, exist_ok=True)
    write_scores(out / "scores.csv", args.seeds)
    (out / "claims.toml").write_text(CLAIMS)
    store = out / "results.sqlite"

    study, added = jaxstab.import_scores(str(out / "scores.csv"), "example/pytorch_recipes",
                                         store=store, claims_file=str(out / "claims.toml"))
    print(f"{study.name}: {added} runs imported ({len(study.settings())} settings)")
    for factors, acc in jaxstab.results(store, study.name).values("accuracy"):
        print(f"{factors}: mean {acc.mean():.4f}, sd {acc.std(ddof=1):.4f}")
    print()
    print(jaxstab.compare(store, study.name).format())
    print(f"\nreport: {jaxstab.report(store, out / 'report')[0]}")


if __name__ == "__main__":
    main()
