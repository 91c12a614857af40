"""Two settings' times to target: log-rank test (stratified over tasks), difference of
restricted mean times, and seeds needed (Schoenfeld)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.stats as st

from jaxstab.errors import UserError
from jaxstab.stats import _check
from jaxstab.stats._base import Record
from jaxstab.stats._intervals import Interval
from jaxstab.stats._survival import (
    DIVERGED_AS,
    TimeToTarget,
    checked_record,
    horizon_of,
    km_positions,
    rmst,
    rmst_t_parts,
    satterthwaite,
)


# lifelines' logrank_test fits one pair per call and has no stratified form; this is the
# same statistic for many samples (rows) at once, returning O - E and its variance so
# that strata add (the stratified log-rank sums both over strata). Tests: equal to
# lifelines' logrank_test, and to statsmodels' survdiff with strata.
def logrank_parts(durations: np.ndarray, events: np.ndarray,
                  in_a: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(O - E, V)`` of group a per row; arrays ``(rows, n)``, ``in_a`` bool ``(n,)``
    or ``(rows, n)``."""
    rows, n = durations.shape
    in_a = np.broadcast_to(in_a, durations.shape)
    order = np.argsort(durations, axis=-1, kind="stable")
    t = np.take_along_axis(durations, order, -1)
    e = np.take_along_axis(events, order, -1).astype(float)
    a = np.take_along_axis(in_a, order, -1)
    start = np.ones(t.shape, dtype=bool)
    start[:, 1:] = t[:, 1:] != t[:, :-1]
    flat = (np.cumsum(start, axis=-1) - 1 + n * np.arange(rows)[:, None]).ravel()

    def per_group(weights: np.ndarray) -> np.ndarray:
        return np.bincount(flat, weights.ravel(), minlength=rows * n).reshape(rows, n)

    d, d_a = per_group(e), per_group(e * a)
    a_before = np.cumsum(a, axis=-1) - a
    r = per_group(np.where(start, n - np.arange(n), 0).astype(float))
    r_a = per_group(np.where(start, a.sum(axis=-1, keepdims=True) - a_before, 0).astype(float))
    with np.errstate(divide="ignore", invalid="ignore"):
        share = np.where(r > 0, r_a / r, 0.0)
        v = np.where(r > 1, d * share * (1 - share) * (r - d) / (r - 1), 0.0)
    return np.sum(d_a - d * share, axis=-1), np.sum(v, axis=-1)


@dataclass(frozen=True)
class TimeComparison(Record):
    """``a`` against ``b``. ``hazard_ratio`` (Peto's exp((O-E)/V)) above 1: ``a``
    reaches the target sooner. ``p_value``: log-rank (stratified when ``strata`` > 1),
    by relabelling runs within strata or the chi-square (``method``); ``statistic`` the
    chi-square (O - E)^2 / V. ``rmst_difference``:
    restricted mean steps to target of a minus b up to ``horizon`` (negative: a is
    faster), averaged over strata with equal weights; a t interval with each side's
    ``rmst_t_parts`` and Welch-Satterthwaite degrees of freedom."""

    n_a: int
    n_b: int
    strata: int
    horizon: float
    statistic: float
    p_value: float
    alternative: str
    method: str
    hazard_ratio: float
    rmst_difference: Interval
    diverged_as: str
    note: str


ALTERNATIVES = ("two-sided", "less", "greater")


def _strata(a: Any, b: Any) -> tuple[list[TimeToTarget], list[TimeToTarget]]:
    many = isinstance(a, Sequence) and not isinstance(a, TimeToTarget)
    if many != (isinstance(b, Sequence) and not isinstance(b, TimeToTarget)):
        raise UserError("a, b: give both as one TimeToTarget or both as one per stratum")
    a, b = (list(a), list(b)) if many else ([a], [b])
    if not a or len(a) != len(b):
        raise UserError(f"a, b: need the same number of strata (>= 1), got {len(a)} and "
                        f"{len(b)}")
    return ([checked_record(x, "a") for x in a], [checked_record(x, "b") for x in b])


# The asymptotic log-rank test rejects 6.6% at alpha 0.05 with 8 runs a setting and no
# censoring (docs/statistics.md); relabelling runs within each stratum gives the exact
# null when both settings share one law. Past PERMUTATION_MAX runs the chi-square is
# accurate (0.052 at 64 a setting) and permutations would cost resamples x runs.
PERMUTATION_MAX = 200
METHODS = ("auto", "permutation", "asymptotic")


def _z(oe: np.ndarray, var: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(var > 0, oe / np.sqrt(np.where(var > 0, var, 1.0)), 0.0)


def _p(z: float, null: np.ndarray | None, alternative: str) -> float:
    if null is None:
        return float({"two-sided": 2 * st.norm.sf(abs(z)), "less": st.norm.sf(z),
                      "greater": st.norm.cdf(z)}[alternative])
    eps = 1e-9 * max(abs(z), 1.0)  # a relabelling equal to the observed one ties it
    hits = {"two-sided": np.abs(null) >= abs(z) - eps, "less": null >= z - eps,
            "greater": null <= z + eps}[alternative]
    return float((1 + np.sum(hits)) / (null.size + 1))


def compare_time_to_target(a: Any, b: Any, *, horizon: float | None = None,
                           alternative: str = "two-sided", method: str = "auto",
                           level: float = 0.95, n_resamples: int = 1999,
                           rng: Any = None) -> TimeComparison:
    """Log-rank test and difference of restricted mean times to target.

    ``a`` and ``b`` are TimeToTarget records, or equal-length sequences of them, one
    per stratum (task): then the log-rank test is stratified (O - E and V summed over
    strata) and runs are compared only within a stratum. ``alternative="less"``: a
    reaches the target in fewer steps (its hazard of reaching is higher). Diverged runs
    never reach (``_survival`` docstring), so a setting that diverges more is slower.
    ``method="auto"``: the p-value by ``n_resamples`` relabellings of the runs within
    each stratum up to PERMUTATION_MAX runs in all, the chi-square beyond.
    """
    sa, sb = _strata(a, b)
    _check.choice(alternative, "alternative", ALTERNATIVES)
    _check.choice(method, "method", METHODS)
    level = _check.level(level)
    n_resamples = _check.positive_int(n_resamples, "n_resamples", 99)
    gen = _check.rng(rng)
    h = horizon_of(horizon, *sa, *sb)
    total = sum(x.n + y.n for x, y in zip(sa, sb))
    permute = method == "permutation" or (method == "auto" and total <= PERMUTATION_MAX)
    oe = var = 0.0
    null_oe = null_var = np.zeros(n_resamples) if permute else None
    diffs, dvars, dfs = [], [], []
    for x, y in zip(sa, sb):
        (dx, ex), (dy, ey) = x.durations(), y.durations()
        d, e = np.r_[dx, dy], np.r_[ex, ey]
        label = np.r_[np.ones(x.n, bool), np.zeros(y.n, bool)]
        parts = logrank_parts(d[None], e[None], label)
        oe, var = oe + float(parts[0][0]), var + float(parts[1][0])
        if permute:
            labels = gen.permuted(np.broadcast_to(label, (n_resamples, label.size)), axis=1)
            o, v = logrank_parts(np.broadcast_to(d, labels.shape),
                                 np.broadcast_to(e, labels.shape), labels)
            null_oe, null_var = null_oe + o, null_var + v
        (mx, vx), (my, vy) = rmst(km_positions(dx[None], ex[None]), h), \
            rmst(km_positions(dy[None], ey[None]), h)
        diffs.append(float(mx[0] - my[0]))
        for r, v in ((x, vx), (y, vy)):
            tv, tdf = rmst_t_parts(v[0], r.n, r.counts()["reached"])
            dvars.append(float(tv))
            dfs.append(float(tdf))
    k = len(sa)
    diff, se = sum(diffs) / k, math.sqrt(sum(dvars)) / k
    half = float(st.t.ppf(0.5 + level / 2, satterthwaite(dvars, dfs))) * se
    note = ""
    if var > 0:
        zstat = float(_z(np.array(oe), np.array(var)))
        p = _p(zstat, _z(null_oe, null_var) if permute else None, alternative)
        hr = math.exp(oe / var)
    else:
        zstat, p, hr = 0.0, 1.0, float("nan")
        note = "no run reached the target in a risk set holding both settings: no test"
    return TimeComparison(
        n_a=sum(x.n for x in sa), n_b=sum(y.n for y in sb), strata=k, horizon=h,
        statistic=zstat ** 2, p_value=p, alternative=alternative,
        method="permutation" if permute else "asymptotic", hazard_ratio=hr,
        rmst_difference=Interval(diff, diff - half, diff + half, "km-greenwood-welch", level),
        diverged_as=DIVERGED_AS, note=note)


def seeds_needed_time_to_target(hazard_ratio: float, reach_share: float, *,
                                alpha: float = 0.05, power: float = 0.8,
                                max_seeds: int = 1_000_000) -> int | None:
    """Seeds per setting for a two-sided log-rank test at ``alpha`` to detect
    ``hazard_ratio`` with ``power``, when a share ``reach_share`` of runs (both settings
    pooled) reaches the target: Schoenfeld's events ``4 (z_{1-alpha/2} + z_power)^2 /
    log(HR)^2``, divided by the share that reach, over two equal settings. ``None``
    when more than ``max_seeds`` are needed (checked by simulation:
    docs/statistics.md)."""
    alpha, power = _check.level(alpha, "alpha"), _check.level(power, "power")
    for name, value, ok in (("hazard_ratio", hazard_ratio, lambda v: v > 0 and v != 1),
                            ("reach_share", reach_share, lambda v: 0 < v <= 1)):
        if isinstance(value, bool) or not isinstance(value, (int, float, np.number)) or \
                not math.isfinite(value) or not ok(value):
            allowed = "positive and not 1" if name == "hazard_ratio" else "in (0, 1]"
            raise UserError(f"{name}: must be a finite number {allowed}, got {value!r}")
    events = 4 * (st.norm.ppf(1 - alpha / 2) + st.norm.ppf(power)) ** 2 \
        / math.log(hazard_ratio) ** 2
    n = max(2, math.ceil(events / (2 * reach_share)))
    return n if n <= max_seeds else None
