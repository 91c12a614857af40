"""How many seeds per setting: for an interval half-width, or to detect an effect."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import scipy.stats as st

from jaxstab.errors import UserError
from jaxstab.stats import _check


def _positive(value: Any, name: str) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{name}: must be a number, got {value!r}") from None
    if not (math.isfinite(value) and value > 0):
        raise UserError(f"{name}: must be a positive finite number, got {value!r}")
    return value


def _smallest(ok: Callable[[int], bool], start: int, max_n: int) -> int | None:
    """Smallest n in [2, max_n] with ok(n), for ok monotone in n: gallop up from the
    normal-approximation ``start``, then bisect."""
    hi = min(max(2, start), max_n)
    while not ok(hi):
        if hi >= max_n:
            return None
        hi = min(max_n, 2 * hi)
    lo = 1  # never ok: a t interval or test needs two seeds
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if ok(mid) else (mid, hi)
    return hi


def t_power(effect_size: float, n: int, *, paired: bool = False, alpha: float = 0.05) -> float:
    """Power of the two-sided t test with n seeds per setting, for a standardized
    difference ``effect_size`` (Cohen's d; d_z when paired), from scipy.stats.nct."""
    df = n - 1 if paired else 2 * n - 2
    nc = effect_size * (math.sqrt(n) if paired else math.sqrt(n / 2))
    crit = st.t.ppf(1 - alpha / 2, df)
    upper = float(st.nct.sf(crit, df, nc))
    if not math.isfinite(upper):  # scipy's nct.sf returns NaN deep in the tail
        upper = 1.0 - float(st.nct.cdf(crit, df, nc))
    lower = float(st.nct.cdf(-crit, df, nc))
    power = upper + (lower if math.isfinite(lower) else 0.0)
    if not math.isfinite(power):  # both failed: the normal approximation
        power = float(st.norm.sf(crit - abs(nc)) + st.norm.cdf(-crit - abs(nc)))
    return min(1.0, max(0.0, power))


def f_power(std_ratio: float, n: int, *, alpha: float = 0.05) -> float:
    """Power of the two-sided F test of equal variances with n seeds per setting when
    the true std ratio is ``std_ratio`` (scipy.stats.f)."""
    df = n - 1
    lo, hi = st.f.ppf(alpha / 2, df, df), st.f.ppf(1 - alpha / 2, df, df)
    r2 = std_ratio**2
    return float(st.f.sf(hi / r2, df, df) + st.f.cdf(lo / r2, df, df))


SPREAD_TESTS = ("brown-forsythe", "F")


def brown_forsythe_effect(std_ratio: float, *, paired: bool = False,
                          correlation: float = 0.0) -> float:
    """The standardized effect Brown-Forsythe's t on |x - median| sees for normal data
    whose stds differ by ``std_ratio``: E|X - mu| = sigma sqrt(2/pi) and
    Var|X - mu| = sigma^2 (1 - 2/pi), so with sigma_B = 1

        delta = (r - 1) sqrt(2/pi) / sqrt((1 - 2/pi) (r^2 + 1) / 2)        (pooled)

    and, paired with correlation rho between A and B at a seed (bivariate normal:
    corr(|X|, |Y|) = (sqrt(1 - rho^2) + rho arcsin(rho) - 1) / (pi/2 - 1)),

        delta_z = (r - 1) sqrt(2/pi) / (sqrt(1 - 2/pi) sqrt(r^2 + 1 - 2 c r)).

    The t power of this effect matches Brown-Forsythe's simulated power within 0.02
    (docs/statistics.md), so no simulation is needed at call time."""
    r = std_ratio
    if paired:
        c = (math.sqrt(1 - correlation**2) + correlation * math.asin(correlation) - 1) / (
            math.pi / 2 - 1)
        return (r - 1) * math.sqrt(2 / math.pi) / (
            math.sqrt(1 - 2 / math.pi) * math.sqrt(r * r + 1 - 2 * c * r))
    return (r - 1) * math.sqrt(2 / math.pi) / math.sqrt((1 - 2 / math.pi) * (r * r + 1) / 2)


def seeds_needed(*, half_width: float | None = None, std: float | None = None,
                 effect_size: float | None = None, prob_improvement: float | None = None,
                 std_ratio: float | None = None, paired: bool = False,
                 correlation: float = 0.0, test: str = "brown-forsythe",
                 power: float = 0.8, alpha: float = 0.05, level: float = 0.95,
                 max_n: int = 100_000) -> int | None:
    """Seeds per setting for one target; give exactly one of:

    - ``half_width`` (with ``std``): the smallest n whose t interval for the mean at
      ``level`` is at most that wide on each side, t(n-1) * std / sqrt(n) <= half_width;
    - ``effect_size``: a standardized difference of means (Hedges' g; g_z when
      ``paired``) that the two-sided t test at ``alpha`` detects with ``power``
      (noncentral t, scipy.stats.nct);
    - ``prob_improvement``: P(A>B) that the Mann-Whitney test detects, by Noether's
      (1987) formula N = (z_{1-alpha/2} + z_power)^2 / (3 (P - 1/2)^2), n = N/2;
    - ``std_ratio``: a ratio of stds that the spread test ``compare`` uses detects in
      normal data: ``test="brown-forsythe"`` (default; paired when ``paired``, with
      ``correlation`` the correlation of A and B at a seed), sized as the t test on
      |x - median| it is (see brown_forsythe_effect); ``test="F"``: the F test of
      equal variances (independent samples), which needs fewer seeds but is not the
      test jaxstab's verdicts use.

    Returns ``None`` when more than ``max_n`` seeds would be needed.
    """
    targets = {"half_width": half_width, "effect_size": effect_size,
               "prob_improvement": prob_improvement, "std_ratio": std_ratio}
    given = [k for k, v in targets.items() if v is not None]
    if len(given) != 1:
        raise UserError("seeds_needed: give exactly one of half_width, effect_size, "
                        f"prob_improvement, std_ratio (got {', '.join(given) or 'none'})")
    power = _check.level(power, "power")
    alpha = _check.level(alpha, "alpha")
    level = _check.level(level)
    max_n = _check.positive_int(max_n, "max_n", 2)

    if half_width is not None:
        h = _positive(half_width, "half_width")
        s = _positive(std, "std") if std is not None else None
        if s is None:
            raise UserError("std: required with half_width (the per-seed std)")
        q = (1 + level) / 2
        start = math.ceil((st.norm.ppf(q) * s / h) ** 2)
        return _smallest(lambda n: st.t.ppf(q, n - 1) * s / math.sqrt(n) <= h, start, max_n)
    if std is not None:
        raise UserError("std: only used with half_width")

    z = st.norm.ppf(1 - alpha / 2) + st.norm.ppf(power)
    if effect_size is not None:
        d = abs(_finite(effect_size, "effect_size"))
        if d == 0:
            raise UserError("effect_size: must be nonzero: no number of seeds detects 0")
        start = math.ceil((z / d) ** 2 * (1 if paired else 2))
        return _smallest(lambda n: t_power(d, n, paired=paired, alpha=alpha) >= power,
                         start, max_n)
    if prob_improvement is not None:
        p = _finite(prob_improvement, "prob_improvement")
        if not 0 <= p <= 1 or p == 0.5:
            raise UserError(f"prob_improvement: must be in [0, 1] and not 0.5, got {p}")
        n = math.ceil(z**2 / (3 * (p - 0.5) ** 2) / 2)
        return max(n, 2) if n <= max_n else None
    r = _positive(std_ratio, "std_ratio")
    if r == 1:
        raise UserError("std_ratio: must differ from 1: no number of seeds detects 1")
    _check.choice(test, "test", SPREAD_TESTS)
    rho = _finite(correlation, "correlation")
    if not -1 < rho < 1:
        raise UserError(f"correlation: must be in (-1, 1), got {rho}")
    if test == "brown-forsythe":
        d = abs(brown_forsythe_effect(r, paired=paired, correlation=rho))
        start = math.ceil((z / d) ** 2 * (1 if paired else 2))
        # Three seeds at least: Brown-Forsythe is undefined with two.
        return _smallest(lambda n: n >= 3 and t_power(d, n, paired=paired, alpha=alpha)
                         >= power, start, max_n)
    if paired:
        raise UserError("test: the F test is for independent samples; use "
                        "test='brown-forsythe' with paired=True")
    start = math.ceil(2 * (z / math.log(r)) ** 2) + 1
    return _smallest(lambda n: f_power(r, n, alpha=alpha) >= power, start, max_n)


def _finite(value: Any, name: str) -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{name}: must be a number, got {value!r}") from None
    if not math.isfinite(value):
        raise UserError(f"{name}: must be finite, got {value!r}")
    return value
