"""DeLong's placement values of two samples, the one rank computation that P(A>B), its
interval and rliable's probability of improvement share."""

from __future__ import annotations

import numpy as np


def _below(sorted_y: np.ndarray, sorted_x: np.ndarray) -> np.ndarray:
    """For each x (ascending), the count of y below it plus half the count equal to it.
    Ascending queries: the binary searches walk the sorted y in order (4x faster than
    the same searches in random order at 300,000 runs)."""
    return (np.searchsorted(sorted_y, sorted_x, "left")
            + np.searchsorted(sorted_y, sorted_x, "right")) / 2


def placements(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """(v10, v01, u) for 1-D samples: for each x the share of y it beats (ties half), for
    each y one minus the share of x it beats (DeLong et al. 1988), and the Mann-Whitney
    U of x, sum(v10) * ny. The same numbers as from midranks (pooled rank minus rank
    within its own sample), to the last bit: both are counts of halves, exact in
    float64. One sort of each sample, where the midranks sorted the pooled sample and
    each sample again."""
    x, y = np.asarray(x, float), np.asarray(y, float)
    ox, oy = np.argsort(x), np.argsort(y)
    xs, ys = x[ox], y[oy]
    below_x = _below(ys, xs)
    v10, v01 = np.empty(x.size), np.empty(y.size)
    v10[ox] = below_x / y.size
    v01[oy] = 1.0 - _below(xs, ys) / x.size
    return v10, v01, float(below_x.sum())
