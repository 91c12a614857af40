"""Probability of improvement and performance profiles across tasks, in rliable's
shapes (rliable/metrics.py ``probability_of_improvement``; rliable/library.py
``create_performance_profile`` with ``run_score_distributions``), with intervals from
the stratified (within-task) variance and Welch-Satterthwaite df (see _aggregate)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.stats as st

from jaxstab.errors import UserError
from jaxstab.stats import _check, _suite
from jaxstab.stats._base import Record
from jaxstab.stats._intervals import Interval
from jaxstab.stats._ranks import placements


def probability_of_improvement(x: Any, y: Any, *, level: float = 0.95,
                               higher_is_better: bool = True,
                               nan_policy: str = "raise") -> Interval:
    """P(X > Y) averaged over tasks, ties counted half: per task the Mann-Whitney
    U / (n m) (``scipy.stats.mannwhitneyu``), as rliable does. x, y: runs x tasks (or
    lists of per-task runs), the same tasks; runs need not be paired or equal in number.
    higher_is_better=False: P(X < Y), X better than Y for a loss.

    Interval: point +- t(df) * SE with DeLong's per-task variance summed over tasks
    (runs vary within tasks; the tasks are these tasks) and Welch-Satterthwaite df,
    clipped to [0, 1]. ``method="none"`` with NaN bounds when it cannot be calibrated:
    fewer than 3 runs in a task, or no variation at all (e.g. every run of x beats every
    run of y in every task: P = 1 and its variance estimate is 0).
    """
    level = _check.level(level)
    sign = 1.0 if _suite.direction(higher_is_better) else -1.0
    xs = _suite.tasks_of(x, "x", nan_policy)
    ys = _suite.tasks_of(y, "y", nan_policy)
    _suite.same_tasks(xs, ys)
    k = len(xs)
    parts = []
    for a, b in zip(xs, ys):
        # DeLong's structural components of the Mann-Whitney AUC (DeLong et al. 1988)
        v10, v01, _ = placements(sign * a, sign * b)
        parts += [(1 / k, v10), (1 / k, v01)]
    # mean(v10) is scipy.stats.mannwhitneyu(a, b).statistic / (n m), without its per-call
    # cost (tests/test_stats_aggregate.py checks the two agree).
    pt = float(np.mean([v10.mean() for _, v10 in parts[::2]]))
    why = _suite.uncalibrated([xs, ys])
    if why:
        return Interval(pt, float("nan"), float("nan"), "none", level, f"no interval: {why}")
    var, df, _ = _suite.variance(parts)
    if not var > 0:
        return Interval(pt, float("nan"), float("nan"), "none", level,
                        "no interval: no overlap to vary (P is 0 or 1 in every task)")
    half = _suite.t_half(var, df, level)
    return Interval(pt, max(pt - half, 0.0), min(pt + half, 1.0), "t-stratified-delong",
                    level)


@dataclass(frozen=True)
class Profile(Record):
    """A performance profile: at each tau, the share of runs scoring above it (below it
    for a loss), per task, averaged over tasks; ``low``/``high`` a pointwise interval at
    each tau (each covers that tau's share with probability ``level``; the band as a
    whole covers less). NaN bounds where no run-to-run variation exists at that tau
    (every run of every task on the same side): no calibrated interval there."""

    taus: tuple[float, ...]
    point: tuple[float, ...]
    low: tuple[float, ...]
    high: tuple[float, ...]
    method: str
    level: float
    note: str = ""


def _profile(ts: _suite.Tasks, taus: np.ndarray, level: float, higher: bool) -> Profile:
    k = len(ts)
    shares, c, d = [], [], []
    for t in ts:
        # Counts by binary search in the sorted runs: cost n log n + taus log n.
        srt = np.sort(t)
        count = t.size - np.searchsorted(srt, taus, "right") if higher \
            else np.searchsorted(srt, taus, "left")
        share = count / t.size
        shares.append(share)
        # the sample variance (ddof=1) of 0/1 values with this share
        c.append(share * (1 - share) / (t.size - 1) / (k * k) if t.size > 1
                 else np.zeros(taus.size))
        d.append(float(t.size - 1))
    pt = np.mean(shares, axis=0)
    c, d = np.array(c), np.array(d)[:, None]
    why = _suite.uncalibrated([ts])
    var = c.sum(axis=0)
    with np.errstate(all="ignore"):
        df = var ** 2 / np.sum(c ** 2 / np.maximum(d, 1.0), axis=0)
        half = st.t.ppf(0.5 + level / 2, df) * np.sqrt(var)
    ok = (var > 0) & (not why)
    low = np.where(ok, np.maximum(pt - half, 0.0), np.nan)
    high = np.where(ok, np.minimum(pt + half, 1.0), np.nan)
    return Profile(tuple(taus.tolist()), tuple(pt.tolist()), tuple(low.tolist()),
                   tuple(high.tolist()), "none" if why else "t-stratified", level,
                   f"no band: {why}" if why else "")


def performance_profile(scores: Any, taus: Any, *, level: float = 0.95,
                        higher_is_better: bool = True,
                        nan_policy: str = "raise") -> dict[str, Profile]:
    """rliable's run-score distribution per method: at each tau the share of runs with
    score > tau (score < tau when ``higher_is_better=False``), tasks weighted equally
    (mean over tasks of the per-task share), with a pointwise band (see Profile).
    scores: as for ``aggregate``; taus: 1-D thresholds in the scores' units."""
    level = _check.level(level)
    higher = _suite.direction(higher_is_better)
    grid = np.asarray(taus, dtype=float) if np.ndim(taus) == 1 else None
    if grid is None or grid.size == 0 or not np.all(np.isfinite(grid)):
        raise UserError("taus: need a non-empty 1-D array of finite thresholds")
    methods = _suite.methods_of(scores, nan_policy)
    return {m: _profile(ts, grid, level, higher) for m, ts in methods.items()}
