"""Comparison of one metric between two settings A and B."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np

from jaxstab.errors import UserError
from jaxstab.stats import _check, _effects, _tests
from jaxstab.stats._base import SPREAD_MIN_N, Record, is_constant, snap, std, tolerance
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


def _direction(x: float, tol: float = 0.0) -> str:
    return "greater" if x > tol else "less" if x < -tol else "equal"


def _spread_gap(a: np.ndarray, b: np.ndarray) -> float:
    # The std: what the primary spread test compares, the ranking orders by and the
    # effects bound.
    return float(np.std(a, ddof=1) - np.std(b, ddof=1))


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


def _degenerate(x: np.ndarray, y: np.ndarray, kind: str, paired: bool) -> tuple[str, str]:
    """("same" | "shift" | "", why): no difference at all, a difference without any
    seed variation, or ordinary data. "Constant" is decided by _base.is_constant."""
    if kind == "mean":
        if paired:
            d = x - y
            if not is_constant(d, x, y):
                return "", ""
            if abs(float(np.mean(d))) <= tolerance(x, y):
                return "same", "every seed gives A = B"
            return "shift", "A - B is the same at every seed"
        if not (is_constant(x, x, y) and is_constant(y, x, y)):
            return "", ""
        if abs(float(np.mean(x) - np.mean(y))) <= tolerance(x, y):
            return "same", "both samples constant and equal"
        return "shift", "neither setting varies across seeds"
    if is_constant(x, x, y) and is_constant(y, x, y):
        return "same", "both samples constant: equal (zero) spread"
    if paired:
        d = _effects.deviations(x) - _effects.deviations(y)
        if is_constant(d, x, y):
            if abs(float(np.mean(d))) <= tolerance(x, y):
                return "same", "every seed deviates equally from its median in A and B"
            return "shift", "the difference of deviations is the same at every seed"
    return "", ""


def _shift_tests(x, y, kind, paired, alternative, gen, n_resamples, why) -> list[TestResult]:
    """Tests when nothing varies but a difference exists: a t statistic would be
    infinite and its p-value 0 at any seed count, so only the rank and permutation
    tests are run, on exact values (a paired difference is tested as d against 0,
    which is what the paired tests see); the permutation test is exact when all
    arrangements fit in ``n_resamples`` (e.g. p = 2/2^3 = 0.25 for 3 pairs)."""
    if kind == "mean" and paired:
        d = snap(x - y, x, y)
        x, y = d, np.zeros_like(d)
    out = _run_tests(x, y, kind, paired, alternative, gen, n_resamples)
    undefined = {"Welch t", "paired t", "paired Brown-Forsythe"}
    return [TestResult(t.name, float("nan"), float("nan"), t.alternative,
                       f"undefined: {why}") if t.name in undefined else t for t in out]


def _pick_primary(tests: list[TestResult], case: str, why: str) -> tuple[int, str]:
    """Index of the test that gives the p-value, and why if it is not the first."""
    first = tests[0]
    if case == "shift":
        index = len(tests) - 1
        return index, (f"no seed variation ({why}): {first.name} undefined, p-value "
                       f"from the {tests[index].name} test")
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
    metric_kind="spread" (the spread is the std; SPREAD_MIN_N seeds a side at least, as
    no spread test holds its level below): a permutation test of log(std A / std B) on
    median-centered runs (primary; swaps within a seed when paired), then
    Brown-Forsythe and Fligner-Killeen (paired: the paired t on |x - median| and a
    paired permutation of the std difference). Effects: std(A) / std(B) with the
    interval that inverts the primary test, and std(A) - std(B). paired=True: ``a[i]`` and ``b[i]`` come from the same seed
    (same shape required); pairs with a non-finite side are dropped under
    ``nan_policy="omit"``. Values constant up to rounding (``_base.is_constant``) are
    treated as constant.
    """
    _check.choice(metric_kind, "metric_kind", KINDS)
    _check.choice(alternative, "alternative", ALTERNATIVES)
    if not isinstance(paired, (bool, np.bool_)):
        raise UserError(f"paired: must be True or False, got {paired!r}")
    paired = bool(paired)
    level = _check.level(level)
    n_resamples = _check.positive_int(n_resamples, "n_resamples", 100)
    gen = _check.rng(rng)
    min_n = SPREAD_MIN_N if metric_kind == "spread" else 2
    if paired:
        x, y = _check.paired(a, b, nan_policy=nan_policy, min_n=min_n)
    else:
        x = _check.sample(a, "a", nan_policy=nan_policy, min_n=min_n)
        y = _check.sample(b, "b", nan_policy=nan_policy, min_n=min_n)
    x, y = snap(x, x, y), snap(y, x, y)

    case, why = _degenerate(x, y, metric_kind, paired)
    if case == "shift":
        tests = _shift_tests(x, y, metric_kind, paired, alternative, gen, n_resamples, why)
    else:
        tests = _run_tests(x, y, metric_kind, paired, alternative, gen, n_resamples)
    if case == "same":
        tests, index, note = _no_difference(tests, why), 0, f"{why}: p = 1"
    else:
        index, note = _pick_primary(tests, case, why)
    primary = tests[index]
    p_value = primary.p_value if np.isfinite(primary.p_value) else 1.0
    tests = [primary] + [t for i, t in enumerate(tests) if i != index]

    tol = tolerance(x, y)
    if metric_kind == "mean":
        gap = float(np.mean(x) - np.mean(y))
        difference = _effects.mean_difference(x, y, paired=paired, level=level)
        effects = (_effects.hedges_g(x, y, paired=paired, level=level),
                   _effects.prob_improvement(x, y, paired=paired, level=level,
                                             rng=gen, n_resamples=n_resamples))
    else:
        gap = _spread_gap(x, y)
        difference = _effects.spread_difference(x, y, paired=paired, level=level,
                                                rng=gen, n_resamples=n_resamples)
        effects = (_effects.spread_ratio(x, y, paired=paired, level=level, rng=gen,
                                         n_resamples=n_resamples),)
    return Comparison(
        metric_kind=metric_kind, alternative=alternative, paired=paired,
        n_a=x.size, n_b=y.size, mean_a=float(np.mean(x)), mean_b=float(np.mean(y)),
        std_a=std(x, x, y), std_b=std(y, x, y), primary=primary.name, p_value=p_value,
        direction=_direction(gap, tol), tests=tuple(tests), difference=difference,
        effects=effects, note=note,
    )


def _reverse_effect(e: Effect) -> Effect:
    if e.name.startswith("P(A>B)"):
        return dataclasses.replace(e, point=1 - e.point, low=1 - e.high, high=1 - e.low)
    if "/" in e.name:  # a ratio
        inv = [1 / v if v != 0 else float("inf") for v in (e.point, e.high, e.low)]
        return dataclasses.replace(e, point=inv[0], low=inv[1], high=inv[2])
    return dataclasses.replace(e, point=-e.point, low=-e.high, high=-e.low)


# Two-sided tests whose statistic changes sign when A and B swap (the others are
# symmetric: F and chi-square statistics, Wilcoxon's min(W+, W-)).
_ANTISYMMETRIC = {"Welch t", "permutation", "paired t", "paired permutation",
                  "permutation (std ratio)", "paired permutation (std ratio)",
                  "paired Brown-Forsythe", "paired permutation (median-centered)"}


def reverse(c: Comparison) -> Comparison:
    """B against A from A against B, for a two-sided comparison: the same tests and
    p-values, effects and direction turned around (no recomputation)."""
    if c.alternative != "two-sided":
        raise UserError("reverse: only two-sided comparisons can be turned around")
    tests = []
    for t in c.tests:
        stat = t.statistic
        if t.name in _ANTISYMMETRIC:
            stat = -stat
        elif t.name == "Mann-Whitney U":
            stat = c.n_a * c.n_b - stat
        tests.append(dataclasses.replace(t, statistic=stat))
    flip = {"greater": "less", "less": "greater"}
    return dataclasses.replace(
        c, n_a=c.n_b, n_b=c.n_a, mean_a=c.mean_b, mean_b=c.mean_a, std_a=c.std_b,
        std_b=c.std_a, direction=flip.get(c.direction, c.direction), tests=tuple(tests),
        difference=_reverse_effect(c.difference),
        effects=tuple(_reverse_effect(e) for e in c.effects))
