"""Comparison of one metric between two settings A and B."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np

from jaxstab.errors import UserError
from jaxstab.stats import _check, _effects, _tests
from jaxstab.stats._base import Record, is_constant
from jaxstab.stats._effects import Effect

KINDS = ("mean", "spread")
ALTERNATIVES = ("two-sided", "greater", "less")


@dataclass(frozen=True)
class TestResult(Record):
    __test__ = False  # not a pytest test class, whatever its name

    name: str
    statistic: float
    p_value: float
    alternative: str
    note: str = ""


@dataclass(frozen=True)
class Comparison(Record):
    """A against B. ``p_value`` is the ``primary`` test's, uncorrected; ``tests`` lists
    the primary first, then the secondary tests. ``direction`` says whether A's mean
    (``metric_kind="mean"``) or spread (``"spread"``) is greater or less than B's, in
    the quantity the primary test looks at."""

    metric_kind: str
    alternative: str
    paired: bool
    n_a: int
    n_b: int
    mean_a: float
    mean_b: float
    std_a: float
    std_b: float
    primary: str
    p_value: float
    direction: str
    tests: tuple[TestResult, ...]
    difference: Effect
    effects: tuple[Effect, ...]
    note: str


def _direction(x: float) -> str:
    return "greater" if x > 0 else "less" if x < 0 else "equal"


def _spread_gap(a: np.ndarray, b: np.ndarray) -> float:
    # The mean absolute deviation from the median: what Brown-Forsythe compares.
    return float(np.mean(np.abs(a - np.median(a))) - np.mean(np.abs(b - np.median(b))))


def _run_tests(x, y, kind, paired, alternative, gen, n_resamples) -> list[TestResult]:
    out = []
    for name, fn in _tests.TESTS[(kind, paired)]:
        stat, p = fn(x, y, alternative, rng=gen, n_resamples=n_resamples)
        stat, p = float(stat), float(p)
        note = "" if np.isfinite(p) else "undefined for these data"
        out.append(TestResult(name, stat, p, alternative, note))
    return out


def _no_difference(tests: list[TestResult], why: str) -> list[TestResult]:
    return [TestResult(t.name, float("nan"), 1.0, t.alternative, why) for t in tests]


def _choose_primary(tests: list[TestResult], kind: str, a, b, paired) -> tuple[int, str]:
    """Index of the test that gives the p-value, and why if it is not the first."""
    first = tests[0]
    constant = is_constant(a - b) if paired else (is_constant(a) and is_constant(b))
    if kind == "mean" and constant:
        # With no seed variation a t statistic is infinite and its p-value 0 whatever
        # the number of seeds; the permutation p-value (exact for few seeds) stays honest.
        return len(tests) - 1, (f"no seed variation: {first.name} undefined, "
                                f"p-value from the permutation test")
    if not np.isfinite(first.p_value):
        return 0, f"{first.name} undefined for these data: p set to 1"
    return 0, ""


def compare(a: Any, b: Any, *, metric_kind: str = "mean", alternative: str = "two-sided",
            paired: bool = False, level: float = 0.95, rng: Any = None,
            n_resamples: int = 9999, nan_policy: str = "raise") -> Comparison:
    """Compare per-seed values ``a`` and ``b`` (shapes ``(n_a,)``, ``(n_b,)``).

    metric_kind="mean": Welch t (primary), Mann-Whitney U, permutation test; paired:
    paired t (primary), Wilcoxon signed-rank, paired permutation. Effects: Hedges' g
    (g_z when paired) and P(A>B); difference of means with its t interval.
    metric_kind="spread": Brown-Forsythe (primary), Fligner-Killeen; paired: a paired t
    on absolute deviations from the median (primary), a paired permutation test of the
    std difference on median-centered values. Effects: std ratio; difference of stds.
    paired=True: ``a[i]`` and ``b[i]`` come from the same seed (same shape required);
    pairs with a non-finite side are dropped under ``nan_policy="omit"``.
    """
    _check.choice(metric_kind, "metric_kind", KINDS)
    _check.choice(alternative, "alternative", ALTERNATIVES)
    if not isinstance(paired, (bool, np.bool_)):
        raise UserError(f"paired: must be True or False, got {paired!r}")
    level = _check.level(level)
    n_resamples = _check.positive_int(n_resamples, "n_resamples", 100)
    gen = _check.rng(rng)
    # Three seeds at least for spread: with two, both absolute deviations from the
    # median are equal and Brown-Forsythe's F is infinite.
    min_n = 3 if metric_kind == "spread" else 2
    if paired:
        x, y = _check.paired(a, b, nan_policy=nan_policy, min_n=min_n)
    else:
        x = _check.sample(a, "a", nan_policy=nan_policy, min_n=min_n)
        y = _check.sample(b, "b", nan_policy=nan_policy, min_n=min_n)

    tests = _run_tests(x, y, metric_kind, bool(paired), alternative, gen, n_resamples)
    if metric_kind == "mean":
        gap = float(np.mean(x) - np.mean(y))
        same = bool(np.all(x == y)) if paired else (
            is_constant(x) and is_constant(y) and x[0] == y[0])
        why = "every seed gives A = B" if paired else "both samples constant and equal"
    else:
        gap = _spread_gap(x, y)
        same = is_constant(x) and is_constant(y)
        why = "both samples constant: equal (zero) spread"
    if same:
        tests, index, note = _no_difference(tests, why), 0, f"{why}: p = 1"
    else:
        index, note = _choose_primary(tests, metric_kind, x, y, bool(paired))
    primary = tests[index]
    p_value = primary.p_value if np.isfinite(primary.p_value) else 1.0
    tests = [primary] + [t for i, t in enumerate(tests) if i != index]

    if metric_kind == "mean":
        difference = _effects.mean_difference(x, y, paired=bool(paired), level=level)
        effects = (_effects.hedges_g(x, y, paired=bool(paired), level=level),
                   _effects.prob_improvement(x, y, paired=bool(paired), level=level,
                                             rng=gen, n_resamples=n_resamples))
    else:
        difference = _effects.std_difference(x, y, paired=bool(paired), level=level,
                                             rng=gen, n_resamples=n_resamples)
        effects = (_effects.std_ratio(x, y, paired=bool(paired), level=level, rng=gen,
                                      n_resamples=n_resamples),)
    return Comparison(
        metric_kind=metric_kind, alternative=alternative, paired=bool(paired),
        n_a=x.size, n_b=y.size, mean_a=float(np.mean(x)), mean_b=float(np.mean(y)),
        std_a=float(np.std(x, ddof=1)), std_b=float(np.std(y, ddof=1)),
        primary=primary.name, p_value=p_value, direction=_direction(gap),
        tests=tuple(tests), difference=difference, effects=effects, note=note,
    )
