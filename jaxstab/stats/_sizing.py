"""Seeds per setting for an inconclusive claim, sized for the test that judged it."""

from __future__ import annotations

import math

import numpy as np
import scipy.stats as st

from jaxstab.errors import UserError
from jaxstab.stats import _study
from jaxstab.stats._base import is_constant
from jaxstab.stats._compare import Comparison
from jaxstab.stats._effects import deviation_effect
from jaxstab.stats._power import seeds_needed

MAX_N = 100_000


def finished_pairs(ga: _study.Group, gb: _study.Group,
                   paired: bool) -> tuple[np.ndarray, np.ndarray]:
    """The values the comparison used: finished runs (complete pairs when paired)."""
    if paired:
        x, y = _study.aligned(ga, gb)
        keep = np.isfinite(x) & np.isfinite(y)
        return x[keep], y[keep]
    return ga.values[np.isfinite(ga.values)], gb.values[np.isfinite(gb.values)]


def _exact_permutation_n(paired: bool, alpha: float) -> int:
    """Least n whose exact permutation test can reach p < alpha when nothing varies:
    the two extreme arrangements of 2^n sign flips, or of C(2n, n) splits."""
    n = 2
    while (2 / 2**n if paired else 2 / math.comb(2 * n, n)) >= alpha:
        n += 1
    return n


def _from_effect(comp: Comparison, x: np.ndarray, y: np.ndarray, alpha: float,
                 power: float) -> tuple[int | None, str]:
    if comp.metric_kind == "mean":
        effect, what = comp.effects[0].point, comp.effects[0].name
        test = "paired t" if comp.paired else "Welch t (noncentral t power)"
    else:
        effect = deviation_effect(x, y, paired=comp.paired)
        what = "standardized difference of |x - median|"
        test = "paired Brown-Forsythe" if comp.paired else "Brown-Forsythe"
        test += " (t power on |x - median|)"
    if not math.isfinite(effect) or effect == 0:
        return None, "no observed difference to size a study from"
    try:
        n = seeds_needed(effect_size=effect, paired=comp.paired, alpha=alpha, power=power,
                         max_n=MAX_N)
    except UserError:
        return None, "no observed difference to size a study from"
    if n is None:
        return None, f"the observed effect ({what} {effect:.3g}) needs more than {MAX_N:,} seeds"
    return n, f"sized for {test} at the observed {what} {effect:.3g}"


def _from_p(comp: Comparison, alpha: float, power: float) -> int | None:
    """Seeds at which the observed test statistic, growing as sqrt(n), would reach the
    power: n_used (z_crit + z_power)^2 / z_obs^2 for the two-sided primary's p. It is
    above n_used whenever p >= alpha, whatever the test."""
    if not 0 < comp.p_value < 1:
        return None
    z_obs = st.norm.isf(comp.p_value / 2)
    target = st.norm.isf(alpha / 2) + st.norm.ppf(power)
    used = comp.n_a if comp.paired else 2 / (1 / comp.n_a + 1 / comp.n_b)
    return math.ceil(used * (target / z_obs) ** 2)


def seeds_for(comp: Comparison, ga: _study.Group, gb: _study.Group, *, alpha: float,
              power: float) -> tuple[int | None, str]:
    """Seeds per setting (runs to start, divergence included) that would detect the
    observed effect with ``power`` at ``alpha`` with the test ``comp`` used, and a
    reason. Never at or below the runs either setting already has."""
    x, y = finished_pairs(ga, gb, comp.paired)
    flat = (is_constant(x - y, x, y) if comp.paired and comp.metric_kind == "mean"
            else is_constant(x, x, y) and is_constant(y, x, y))
    if flat and comp.p_value < 1:
        n = _exact_permutation_n(comp.paired, alpha)
        why = (f"nothing varies, so only the exact {comp.primary} test can decide: "
               f"{n} seeds reach p < {alpha:.3g} if the difference stays the same")
    else:
        n, why = _from_effect(comp, x, y, alpha, power)
        if n is None:
            return None, why
        by_p = _from_p(comp, alpha, power)
        if by_p is not None and by_p > n:
            n, why = by_p, why + f"; raised to {by_p} to lift the observed p = " \
                                 f"{comp.p_value:.3g} past alpha with power {power:g}"
    finished = min(x.size / max(ga.n_total, 1), x.size / max(gb.n_total, 1)) \
        if comp.paired else min(ga.n_finished / max(ga.n_total, 1),
                                gb.n_finished / max(gb.n_total, 1))
    if 0 < finished < 1:
        n = math.ceil(n / finished)
        why += f"; divided by the {100 * finished:.0f}% of runs that finished"
    used = max(ga.n_total, gb.n_total)
    if n <= used:
        n = used + 1
        why += f"; at least one more than the {used} seeds already run"
    if n > MAX_N:
        return None, why + f"; more than {MAX_N:,} seeds"
    return n, why
