"""Measured coverage of the share intervals of variance by seed source (issue 25), for
docs/statistics.md: the library's F (Satterthwaite) interval against a percentile
bootstrap over seeds (each source's runs resampled within its setting).

Run from the repository root (fixed seed):

    python docs/share_tables.py
"""

from __future__ import annotations

import time

import numpy as np

from jaxstab.stats import share_intervals

STUDIES = 4000  # simulated studies per row: a coverage of 0.95 is +-0.007 (2 SE)
RESAMPLES = 999
CASES = [((1.0, 2.0), "normal"), ((1.0, 2.0, 0.5), "normal"),
         ((1.0, 2.0, 0.5), "t(5)"), ((0.3, 0.3, 1.0, 0.6), "normal")]


def draw(rng, sd, n, dist):
    z = rng.normal(size=(STUDIES, len(sd), n)) if dist == "normal" else \
        rng.standard_t(5, size=(STUDIES, len(sd), n)) / np.sqrt(5 / 3)
    return z * np.asarray(sd)[None, :, None]


def bootstrap_cover(rng, x, true):
    """Percentile bootstrap of every share, vectorized over studies."""
    k, n = x.shape[1], x.shape[2]
    hits = np.zeros(k)
    for i in range(0, STUDIES, 200):
        part = x[i:i + 200]
        idx = rng.integers(0, n, size=(part.shape[0], RESAMPLES, k, n))
        xs = np.take_along_axis(part[:, None], idx, axis=-1)
        v = xs.var(axis=-1, ddof=1)
        share = v / v.sum(axis=-1, keepdims=True)
        lo, hi = np.percentile(share, [2.5, 97.5], axis=1)
        hits += ((lo <= true) & (true <= hi)).sum(axis=0)
    return hits / STUDIES


def main():
    rng = np.random.default_rng(25)
    print("| sources' stds | runs | seeds | F (Satterthwaite) coverage | percentile "
          "bootstrap coverage |")
    print("|---|---|---|---|---|")
    t0 = time.perf_counter()
    for sd, dist in CASES:
        sd = np.array(sd)
        true = sd**2 / np.sum(sd**2)
        for n in (5, 8, 16, 32):
            x = draw(rng, sd, n, dist)
            v = x.var(axis=-1, ddof=1)
            _, lo, hi = share_intervals(v, np.full(v.shape, n - 1))
            f_cov = ((lo <= true) & (true <= hi)).mean(axis=0)
            b_cov = bootstrap_cover(rng, x, true)
            fmt = lambda c: " ".join(f"{c_:.3f}" for c_ in c)  # noqa: E731
            print(f"| {', '.join(f'{s:g}' for s in sd)} | {dist} | {n} | {fmt(f_cov)} | "
                  f"{fmt(b_cov)} |")
    print(f"\n{time.perf_counter() - t0:.0f} s")


if __name__ == "__main__":
    main()
