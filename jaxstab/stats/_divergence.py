"""Divergence rates: are runs of A more likely to diverge than runs of B?

A comparison of metric values can only use the runs that finished, so it conditions on
survival. The rates themselves are tested here, and verdicts carry the result.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.stats as st

from jaxstab.errors import UserError
from jaxstab.stats import _check
from jaxstab.stats._base import Record, quiet

# Boschloo's exact test is uniformly more powerful than Fisher's, but its cost grows
# fast (0.14 s at 128 runs a side, 31 s at 1000): above this, Fisher's exact test.
BOSCHLOO_MAX = 100


@dataclass(frozen=True)
class DivergenceTest(Record):
    """Divergence of A against B. ``test``: Boschloo's or Fisher's exact test of the
    2x2 table (independent runs) or McNemar's exact test on the seeds both ran
    (paired runs share keys, so their divergences are correlated); ``p_value`` is
    two-sided and uncorrected."""

    diverged_a: int
    n_a: int
    diverged_b: int
    n_b: int
    paired: bool
    test: str
    p_value: float
    note: str


@dataclass(frozen=True)
class DivergenceRate(Record):
    """One setting's divergence rate with its Clopper-Pearson interval (None without
    runs)."""

    diverged: int
    n: int
    rate: float | None
    low: float | None
    high: float | None
    level: float


def divergence_rate(diverged: Any, *, level: float = 0.95) -> DivergenceRate:
    """Share of diverged runs with its exact (Clopper-Pearson) interval,
    ``scipy.stats.binomtest(...).proportion_ci(method="exact")``."""
    flags = _flags(diverged, "diverged")
    level = _check.level(level)
    n, k = int(flags.size), int(flags.sum())
    if n == 0:
        return DivergenceRate(0, 0, None, None, None, level)
    ci = st.binomtest(k, n).proportion_ci(level, method="exact")
    return DivergenceRate(k, n, k / n, float(ci.low), float(ci.high), level)


def _flags(x: Any, name: str) -> np.ndarray:
    arr = np.asarray(x)
    if arr.ndim != 1 or (arr.size and arr.dtype != bool):
        raise UserError(f"{name}: need a 1-D boolean array of per-seed divergence flags, "
                        f"got shape {arr.shape} and dtype {arr.dtype}")
    return arr.astype(bool)


def _check_inputs(a: Any, b: Any, paired: Any) -> tuple[np.ndarray, np.ndarray, bool]:
    x, y = _flags(a, "diverged_a"), _flags(b, "diverged_b")
    if not isinstance(paired, (bool, np.bool_)):
        raise UserError(f"paired: must be True or False, got {paired!r}")
    if paired and x.shape != y.shape:
        raise UserError(f"diverged_b: paired flags need the same shape as diverged_a, got "
                        f"{x.shape} and {y.shape}")
    return x, y, bool(paired)


def divergence_test(diverged_a: Any, diverged_b: Any, *,
                    paired: bool = False) -> DivergenceTest:
    """Two-sided exact test of equal divergence rates from per-seed boolean flags.

    Independent runs: Boschloo's exact test (``scipy.stats.boschloo_exact``) up to 100
    runs a side, Fisher's (``scipy.stats.fisher_exact``) above. Paired (``a[i]`` and
    ``b[i]`` share seed i's keys): McNemar's exact test, a binomial test of the seeds
    where only one side diverged (``scipy.stats.binomtest``).
    """
    x, y, paired = _check_inputs(diverged_a, diverged_b, paired)
    da, db = int(x.sum()), int(y.sum())
    if da + db == 0:
        return DivergenceTest(0, x.size, 0, y.size, paired, "none", 1.0, "no run diverged")
    if paired:
        only_a, only_b = int((x & ~y).sum()), int((y & ~x).sum())
        if only_a + only_b == 0:
            return DivergenceTest(da, x.size, db, y.size, True, "McNemar exact", 1.0,
                                  "the same seeds diverged in both settings")
        p = st.binomtest(only_a, only_a + only_b, 0.5).pvalue
        return DivergenceTest(da, x.size, db, y.size, True, "McNemar exact", float(p), "")
    if x.size == 0 or y.size == 0:
        return DivergenceTest(da, x.size, db, y.size, False, "none", 1.0,
                              "a setting has no runs")
    table = [[da, db], [x.size - da, y.size - db]]
    if max(x.size, y.size) <= BOSCHLOO_MAX:
        p, test = quiet(st.boschloo_exact, table).pvalue, "Boschloo exact"
    else:
        p, test = st.fisher_exact(table).pvalue, "Fisher exact"
    return DivergenceTest(da, x.size, db, y.size, False, test, float(min(p, 1.0)), "")
