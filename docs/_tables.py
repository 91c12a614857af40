"""What the simulation scripts beside this file share: a reproducible generator per
table cell, and the command line that prints the named tables (all by default)."""

from __future__ import annotations

import time
import zlib

import numpy as np


def rng_for(*case: object) -> np.random.Generator:
    """The same draws for the same cell, whatever ran before it (a seed from the cell)."""
    return np.random.default_rng(zlib.crc32(repr(case).encode()))


def run_tables(tables: dict, names: list[str]) -> None:
    for name in names or list(tables):
        if name not in tables:
            raise SystemExit(f"unknown table {name!r}; one of {', '.join(tables)}")
        start = time.perf_counter()
        print(f"## {name}\n")
        tables[name]()
        print(f"\n({time.perf_counter() - start:.0f} s)\n", flush=True)
