"""How fast the store commits and reads runs: N synthetic runs of article/example2's two
settings, each with 15 metrics (14 of the engine's and ``diverged``) and 2 curves of 10
epochs, as the engine returns them for a chunk (float32 arrays, a few runs diverged).

Timed: the chunk's columns built from the engine's arrays (``sweep.records``) and
committed (``Store.write_chunk``), all N runs as one chunk; the same runs again (all
already stored, as when another process stored them first); the N runs as chunks of
``--chunk`` runs (one transaction each, as ``jaxstab run`` commits them); reading the
study back (``Store.results``, what ``compare`` and the report read); and the export's
rows (``Store.export_rows``, without writing them).

    python benchmarks/store_write.py N [--chunk 1024] [--backend sqlite|postgresql|both]
        [--pg-url postgresql://...]

``--backend postgresql`` writes to a PostgreSQL database (``--pg-url``'s server, or a
local one started with pgserver); ``both`` runs SQLite then PostgreSQL in one process,
so that their ratio is measured on the machine as it is at that moment.
"""

import argparse
import os
import sys
import tempfile
import time

import numpy as np

from jaxstab.runs import Pairs
from jaxstab.loader import load_study
from jaxstab.store import open_store
from jaxstab.sweep import records


def engine_output(n: int, rng: np.random.Generator, epochs: int = 10) -> dict:
    """What ``sweep.execute`` returns for a chunk of n runs (one in 500 diverged)."""
    div = rng.random(n) < 0.002
    return {"metrics": {f"m{i:02d}": rng.random(n, np.float32) for i in range(14)},
            "curves": {"loss": rng.random((n, epochs), np.float32),
                       "accuracy": rng.random((n, epochs), np.float32)},
            "diverged": div, "diverged_step": np.where(div, 5, 0).astype(np.int32)}


def chunk(settings, n: int, start: int, rng):
    """Runs ``start..start+n`` alternating between the settings (seed index = run // 2),
    as the sweep holds a chunk's pairs (``jaxstab.runs.Pairs``: arrays, no object per
    run), and the engine's output for them."""
    runs = np.arange(start, start + n)
    return Pairs(tuple(settings), runs % 2, runs // 2), None, engine_output(n, rng)


def main(n: int, size: int, backend: str, pg_url: str | None) -> None:
    with tempfile.TemporaryDirectory() as d:
        if backend in ("sqlite", "both"):
            measure(n, size, lambda name: os.path.join(d, f"{name}.sqlite"), "sqlite")
        if backend in ("postgresql", "both"):
            from _pg import databases

            measure(n, size, databases(pg_url, os.path.join(d, "pg")), "postgresql")


def measure(n: int, size: int, where, backend: str) -> None:
    study = load_study("article/example2")
    settings = study.settings()
    rng = np.random.default_rng(0)
    per_run, seeds, out = chunk(settings, n, 0, rng)
    store = open_store(where("r"))
    fp = store.ensure_study(study)
    t0 = time.perf_counter()
    recs = records(per_run, seeds, out)
    built = time.perf_counter() - t0
    store.write_chunk(fp, recs, 1.0, {})
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    added = store.write_chunk(fp, records(per_run, seeds, out), 1.0, {})
    again = time.perf_counter() - t0
    print(f"{backend} n={n}: records + first write {first:.3f} s ({n / first:,.0f} runs/s; "
          f"records {built:.3f} s); the same runs again {again:.3f} s (added {added})")
    store.close()
    store = open_store(where("c"))
    fp = store.ensure_study(study)
    parts = [chunk(settings, min(size, n - a), a, rng) for a in range(0, n, size)]
    t0 = time.perf_counter()
    for p in parts:
        store.write_chunk(fp, records(*p), 1.0, {"chunk_size": size})
    chunked = time.perf_counter() - t0
    print(f"{backend} n={n}: records + write in {len(parts)} chunks of {size}: "
          f"{chunked:.3f} s ({n / chunked:,.0f} runs/s)")
    t0 = time.perf_counter()
    res = store.results(fp)
    read = time.perf_counter() - t0
    got = sum(len(s.seeds) for s in res.settings)
    t0 = time.perf_counter()
    rows = sum(1 for _ in store.export_rows())
    exported = time.perf_counter() - t0
    size_mb = (os.path.getsize(store.where) if backend == "sqlite" else store.db.execute(
        "SELECT pg_database_size(current_database())").fetchone()[0]) / 2**20
    store.close()
    print(f"{backend} n={n}: read back {got} runs in {read:.3f} s ({got / read:,.0f} "
          f"runs/s); {rows} export rows in {exported:.2f} s ({rows / exported:,.0f} "
          f"rows/s); store {size_mb:.0f} MiB")


if __name__ == "__main__":
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("n", type=int, nargs="?", default=20000)
    p.add_argument("--chunk", type=int, default=1024)
    p.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="sqlite")
    p.add_argument("--pg-url", default=None)
    a = p.parse_args(sys.argv[1:])
    main(a.n, a.chunk, a.backend, a.pg_url)
