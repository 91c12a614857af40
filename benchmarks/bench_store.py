"""Speed and memory of the results store (jaxstab.store): committing a chunk's runs,
reading a study back, and the peak memory of ``jaxstab export``.

The runs are synthetic, shaped like article/example2's (15 metrics, two 10-epoch
curves), built as the sweep hands them to the store (``jaxstab.runs.Runs``): no
training, no JAX.
"""

from __future__ import annotations

import os
import tempfile

_KEEP: dict = {}  # per process: asv re-runs setup before every sample


def synthetic_runs(n: int, start: int = 0, rng_seed: int = 0):
    """``n`` runs of article/example2's two settings (seed index = run // 2)."""
    import numpy as np

    from jaxstab.runs import Runs
    from jaxstab.loader import load_study

    rng = np.random.default_rng(rng_seed)
    keys = [s.key for s in load_study("article/example2").settings()]
    runs = np.arange(start, start + n)
    div = rng.random(n) < 0.002
    metrics = {f"m{i:02d}": np.where(div, np.nan, rng.random(n, np.float32))
               for i in range(14)}
    metrics["diverged"] = div.astype(float)
    return Runs.build(keys, runs % 2, runs // 2, div, np.where(div, 5, -1), metrics,
                      {"loss": rng.random((n, 10), np.float32),
                       "accuracy": rng.random((n, 10), np.float32)})


class TimeStoreWrite:
    """``Store.write_chunk`` of N runs as one chunk into a fresh store: one transaction
    (N / 1024 block rows per setting, one row per block and metric or curve). Runs/s
    committed is N over the time."""

    params = [20_000, 200_000]
    param_names = ["runs"]
    number = 1
    repeat = (3, 10, 20.0)
    warmup_time = 0.0
    timeout = 300.0

    def setup(self, n):
        from jaxstab.store import Store
        from jaxstab.loader import load_study

        if ("runs", n) not in _KEEP:
            _KEEP[("runs", n)] = synthetic_runs(n)
        self.runs = _KEEP[("runs", n)]
        self.tmp = tempfile.TemporaryDirectory()
        self.store = Store(os.path.join(self.tmp.name, "w.sqlite"))
        self.fp = self.store.ensure_study(load_study("article/example2"))

    def teardown(self, n):
        self.store.close()
        self.tmp.cleanup()

    def time_write_chunk(self, n):
        self.store.write_chunk(self.fp, self.runs, 1.0, {})


class TimeStoreRead:
    """``Store.results`` of a study of N runs (what ``compare`` and the report read):
    every setting's seeds, metrics and curves as NumPy arrays."""

    params = [20_000, 200_000]
    param_names = ["runs"]
    timeout = 300.0

    def setup(self, n):
        from jaxstab.store import Store
        from jaxstab.loader import load_study

        if ("read", n) not in _KEEP:
            tmp = tempfile.TemporaryDirectory()
            store = Store(os.path.join(tmp.name, "r.sqlite"))
            fp = store.ensure_study(load_study("article/example2"))
            for a in range(0, n, 1024):  # as jaxstab run commits them, chunk by chunk
                store.write_chunk(fp, synthetic_runs(min(1024, n - a), a), 1.0, {})
            _KEEP[("read", n)] = (tmp, store, fp)
        _, self.store, self.fp = _KEEP[("read", n)]

    def time_results(self, n):
        self.store.results(self.fp)


class PeakMemExport:
    """Peak resident memory of a process that runs ``jaxstab export --out FILE`` on a
    store of 1,000,000 export rows (62,500 runs x 16 metrics): rows are streamed to the
    file block by block, so the peak is the interpreter's and one block's, whatever
    the number of rows."""

    timeout = 600.0

    def setup_cache(self):
        from jaxstab.store import Store
        from jaxstab.loader import load_study

        path = os.path.abspath("export-1M.sqlite")
        if os.path.exists(path):
            os.unlink(path)
        store = Store(path)
        fp = store.ensure_study(load_study("article/example2"))
        for a in range(0, 62_500, 4096):
            store.write_chunk(fp, synthetic_runs(min(4096, 62_500 - a), a), 1.0, {})
        store.close()
        return path

    def setup(self, path):
        self.out = tempfile.TemporaryDirectory()

    def teardown(self, path):
        self.out.cleanup()

    def peakmem_export_1M_rows(self, path):
        from jaxstab import cli

        assert cli.main(["export", "--store", path, "--out",
                         os.path.join(self.out.name, "e.csv")]) == 0
