"""Aggregates across tasks in rliable's shapes (Agarwal et al. 2021, "Deep RL at the
Edge of the Statistical Precipice"; google-research/rliable, rliable/metrics.py), with
intervals calibrated at the 3-10 runs per task people have.

rliable's definitions, kept so numbers are comparable (scores: runs x tasks):
mean = mean over tasks of per-task mean; median = median over tasks of per-task mean;
IQM = scipy.stats.trim_mean of all runs and tasks pooled, 25% cut at each end;
optimality gap = gamma - mean(min(x, gamma)) = mean of max(gamma - x, 0), all runs.
With different run counts per task, mean, median and gap weight tasks equally (as a
full runs x tasks array does) while the IQM pools runs as rliable's trim_mean does.

Intervals. rliable's percentile stratified bootstrap covers 0.87-0.91 at 5 runs x 5
tasks (docs/statistics.md). Here: point +- t(df) * SE, with the stratified variance
(run-to-run variance within each task only, ddof=1; for the IQM and median, of their
first-order terms: winsorized runs, the middle task's runs) and Welch-Satterthwaite df.
For the median and IQM, which are not smooth where runs collapse onto one value, the
interval is the union with a stratified bootstrap (runs resampled within each task)
expanded percentile interval (Hesterberg 2015, "What teachers should know about the
bootstrap", sec. 4: percentiles widened by sqrt(n/(n-1)) and t instead of z).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import scipy.stats as st

from jaxstab.errors import UserError
from jaxstab.stats import _check, _suite
from jaxstab.stats._intervals import Interval

STATISTICS = ("mean", "median", "iqm", "optimality_gap")
TRIM = 0.25
# Resampled numbers per bootstrap (resamples x runs) above which the median and IQM
# keep only the t interval: at 2e7 (10,000 runs) the IQM's bootstrap took 8.7 s on the
# loaded 2-core CPU, and its correction is for few runs (measured up to 10 runs x 10
# tasks = 100 runs, 2e5 numbers).
BOOTSTRAP_WORK = 2e6


def _gap_values(t: np.ndarray, gamma: float, higher: bool) -> np.ndarray:
    return np.maximum(gamma - t, 0.0) if higher else np.maximum(t - gamma, 0.0)


def point(statistic: str, ts: _suite.Tasks, gamma: float = 1.0,
          higher: bool = True) -> float:
    """The aggregate of per-task runs, by rliable's definition (module docstring)."""
    if statistic == "mean":
        return float(np.mean([t.mean() for t in ts]))
    if statistic == "median":
        return float(np.median([t.mean() for t in ts]))
    if statistic == "iqm":
        return float(st.trim_mean(np.concatenate(ts), TRIM))
    return float(np.mean([_gap_values(t, gamma, higher).mean() for t in ts]))


def _parts(statistic: str, ts: _suite.Tasks, gamma: float, higher: bool) -> list:
    """First-order terms: the statistic ~ sum(weight * mean(values)) over parts."""
    k = len(ts)
    if statistic == "mean":
        return [(1 / k, t) for t in ts]
    if statistic == "optimality_gap":
        return [(1 / k, _gap_values(t, gamma, higher)) for t in ts]
    if statistic == "median":
        order = np.argsort([t.mean() for t in ts], kind="stable")
        mid = [order[k // 2]] if k % 2 else [order[k // 2 - 1], order[k // 2]]
        return [(1 / len(mid), ts[j]) for j in mid]
    # The trimmed mean's influence function is the winsorized value over the kept share
    # (Huber, Robust Statistics, 3.3); scipy's trim_mean keeps N - 2*int(0.25 N) runs.
    pooled = np.sort(np.concatenate(ts))
    n = pooled.size
    g = int(TRIM * n)
    lo, hi = pooled[g], pooled[n - g - 1]
    return [(t.size / (n - 2 * g), np.clip(t, lo, hi)) for t in ts]


def batch(statistic: str, draws: list[np.ndarray], gamma: float = 1.0,
          higher: bool = True) -> np.ndarray:
    """The aggregate of many replications at once: ``draws`` holds per task an array
    ``(replications, runs)``; one value per replication."""
    if statistic == "iqm":
        return st.trim_mean(np.concatenate(draws, axis=1), TRIM, axis=1)
    if statistic == "optimality_gap":
        draws = [_gap_values(d, gamma, higher) for d in draws]
    means = np.stack([d.mean(axis=1) for d in draws], axis=1)
    return np.median(means, axis=1) if statistic == "median" else means.mean(axis=1)


def resample(statistic: str, ts: _suite.Tasks, gen: np.random.Generator,
             n: int) -> np.ndarray:
    """``n`` stratified bootstrap values of the median or IQM (runs within tasks)."""
    return batch(statistic, [t[gen.integers(0, t.size, (n, t.size))] for t in ts])


def _expanded(boot: np.ndarray, df: float, inflate: float, level: float) -> tuple:
    tail = float(st.norm.cdf(-np.sqrt(inflate) * st.t.ppf(0.5 + level / 2, df)))
    low, high = np.quantile(boot, [tail, 1 - tail])
    return float(low), float(high)


def _one(statistic: str, ts: _suite.Tasks, *, level: float, gen: np.random.Generator,
         resamples: int, gamma: float, higher: bool) -> Interval:
    pt = point(statistic, ts, gamma, higher)
    why = _suite.uncalibrated([ts])
    if why:
        return Interval(pt, float("nan"), float("nan"), "none", level,
                        f"no interval: {why}")
    var, df, plug = _suite.variance(_parts(statistic, ts, gamma, higher))
    if var > 0:
        half = _suite.t_half(var, df, level)
        low, high = pt - half, pt + half
    else:
        low = high = pt
    method, note = "t-stratified", ""
    if statistic in ("median", "iqm"):
        runs = sum(t.size for t in ts)
        if resamples * runs <= BOOTSTRAP_WORK:
            if not var > 0:
                # No first-order variation (the middle task's runs are all equal): the
                # bootstrap still sees tasks swap places; widen as for the smallest task.
                n_min = min(t.size for t in ts)
                df, var, plug = n_min - 1.0, n_min / (n_min - 1.0), 1.0
            boot = resample(statistic, ts, gen, resamples)
            b_low, b_high = _expanded(boot, df, var / plug, level)
            low, high = min(low, b_low), max(high, b_high)
            method = "t-stratified+bootstrap"
        else:
            note = (f"bootstrap part skipped ({runs} runs x {resamples} resamples); "
                    f"t interval only")
    if not high > low:
        return Interval(pt, float("nan"), float("nan"), "none", level,
                        f"no interval: no run-to-run variation in the runs the "
                        f"{statistic} depends on")
    return Interval(pt, low, high, method, level, note)


def aggregate(scores: Any, *, statistic: str = "iqm", level: float = 0.95,
              rng: Any = None, resamples: int = 2000, normalize: Any = None,
              gamma: float | None = None, higher_is_better: bool = True,
              nan_policy: str = "raise") -> dict[str, Interval]:
    """rliable's aggregate of each method's scores across tasks, with an interval.

    scores: ``{method: array (runs, tasks)}`` or ``{method: [per-task 1-D arrays]}``
    (different run counts; see ``_suite`` for NaN padding). statistic: ``"mean"``,
    ``"median"``, ``"iqm"`` or ``"optimality_gap"`` (definitions in the module
    docstring). normalize: None or ``{"low": ..., "high": ...}``, each per-task
    reference scores or a method name (its per-task mean): scores become
    ``(x - low) / (high - low)`` before aggregating. gamma: the optimality gap's target
    (default 1 for higher-is-better scores, 0 otherwise). higher_is_better: False for
    losses; mean, median and IQM are reported in the metric's own units either way;
    the optimality gap is then the mean shortfall ``max(x - gamma, 0)`` above the target.
    rng: seeds the bootstrap part of the median and IQM intervals (None: fixed seed).

    Returns ``{method: Interval(point, low, high, method, level, note)}``. ``method``
    names the interval: ``"t-stratified"``, ``"t-stratified+bootstrap"``, or
    ``"none"`` with NaN bounds and a note when no interval can be calibrated (a task
    with fewer than 3 runs, or the runs the statistic depends on do not vary).
    """
    statistic = _check.choice(statistic, "statistic", STATISTICS)
    level = _check.level(level)
    gen = _check.rng(rng)
    resamples = _check.positive_int(resamples, "resamples", 100)
    higher = _suite.direction(higher_is_better)
    if gamma is None:
        gamma = 1.0 if higher else 0.0
    elif not isinstance(gamma, (int, float, np.number)) or not np.isfinite(gamma):
        raise UserError(f"gamma: must be a finite number, got {gamma!r}")
    methods = _suite.normalize(_suite.methods_of(scores, nan_policy), normalize)
    return {m: _one(statistic, ts, level=level, gen=gen, resamples=resamples,
                    gamma=float(gamma), higher=higher) for m, ts in methods.items()}
