"""AlgoPerf-style performance profiles of time to target across a suite of tasks."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from jaxstab.errors import UserError
from jaxstab.stats import _check
from jaxstab.stats._base import Record
from jaxstab.stats._intervals import Interval
from jaxstab.stats._survival import (
    TimeToTarget,
    checked_record,
    first_at_or_below,
    km_positions,
)


@dataclass(frozen=True)
class TimeProfile(Record):
    """Per method: ``profile[m][i]``, the share of tasks on which its median time to
    target is within a factor ``taus[i]`` of the best method's on that task, with
    bootstrap bounds ``low``/``high``; ``score[m]`` the area under its profile from 1
    to ``tau_max``, divided by ``tau_max - 1`` (1: fastest on every task, 0: never
    within ``tau_max`` of the fastest). ``times[m][k]``: the median steps to target of
    method m on task k (inf when more than half its runs missed)."""

    methods: tuple[str, ...]
    taus: np.ndarray
    tau_max: float
    times: dict[str, np.ndarray]
    profile: dict[str, np.ndarray]
    low: dict[str, np.ndarray]
    high: dict[str, np.ndarray]
    score: dict[str, Interval]
    n_resamples: int
    level: float
    note: str


def _ratios(t: np.ndarray) -> np.ndarray:
    """Time over the task's best time, ``t`` of shape ``(..., methods, tasks)``; a miss
    (inf), or any time on a task nobody reached, is inf."""
    best = np.min(t, axis=-2, keepdims=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(best > 0, t / best, np.where(t == 0, 1.0, np.inf))
    return np.where(np.isfinite(best), r, np.inf)


def _profile(r: np.ndarray, taus: np.ndarray) -> np.ndarray:
    return np.mean(r[..., None] <= taus, axis=-2)


def _area(r: np.ndarray, tau_max: float) -> np.ndarray:
    # The profile is a step function of tau, so its integral is exact: a task with
    # ratio r contributes tau_max - r (nothing once r >= tau_max).
    return np.mean(np.clip(tau_max - r, 0.0, tau_max - 1.0), axis=-1) / (tau_max - 1.0)


def _medians(ttt: TimeToTarget, idx: np.ndarray | None) -> np.ndarray:
    d, e = ttt.durations()
    if idx is not None:
        d, e = d[idx], e[idx]
    km = km_positions(np.atleast_2d(d), np.atleast_2d(e))
    return first_at_or_below(km["t"], km["s"], km["end"], 0.5)


def _inputs(times: Any, taus: Any, tau_max: Any) -> tuple[list[str], list[list], np.ndarray]:
    if not isinstance(times, Mapping) or len(times) < 1:
        raise UserError("times: need a mapping {method: [TimeToTarget per task]}")
    methods = [str(m) for m in times]
    cells = [list(v) if not isinstance(v, TimeToTarget) else [v] for v in times.values()]
    if len({len(c) for c in cells}) != 1 or not cells[0]:
        raise UserError(f"times: every method needs the same number of tasks (>= 1), got "
                        f"{ {m: len(c) for m, c in zip(methods, cells)} }")
    cells = [[checked_record(x, f"times[{m!r}]") for x in c] for m, c in zip(methods, cells)]
    if isinstance(tau_max, bool) or not isinstance(tau_max, (int, float, np.number)) or \
            not 1 < float(tau_max) < np.inf:
        raise UserError(f"tau_max: must be a finite number > 1, got {tau_max!r}")
    t = np.linspace(1.0, float(tau_max), 61) if taus is None else _check.array(taus, "taus")
    if t.size < 1 or np.any(~np.isfinite(t)) or np.any(t < 1):
        raise UserError("taus: must be finite numbers >= 1")
    return methods, cells, t


def time_profile(times: Any, *, taus: Any = None, tau_max: float = 4.0, level: float = 0.95,
                 n_resamples: int = 2000, rng: Any = None) -> TimeProfile:
    """Performance profiles of time to target, AlgoPerf's way (Dahl et al. 2023): per
    task the Kaplan-Meier median steps of each method's runs, a miss (median not
    reached) infinite; each method's time over the fastest method's on that task; the
    share of tasks within each factor ``tau``, and the area under that profile on
    ``[1, tau_max]`` as a score.

    ``times``: ``{method: [TimeToTarget of task 1, task 2, ...]}``, the same tasks in
    the same order for every method. Intervals: percentile bootstrap that resamples the
    runs within each (method, task) cell, never across tasks (DESIGN.md).
    """
    methods, cells, t = _inputs(times, taus, tau_max)
    level = _check.level(level)
    n_resamples = _check.positive_int(n_resamples, "n_resamples", 100)
    gen = _check.rng(rng)
    point = np.array([[_medians(x, None)[0] for x in c] for c in cells])
    boot = np.array([[_medians(x, gen.integers(0, x.n, (n_resamples, x.n))) for x in c]
                     for c in cells])                      # methods x tasks x resamples
    boot = np.moveaxis(boot, -1, 0)
    r, rb = _ratios(point), _ratios(boot)
    prof, profb = _profile(r, t), _profile(rb, t)
    area, areab = _area(r, float(tau_max)), _area(rb, float(tau_max))
    q = (0.5 - level / 2, 0.5 + level / 2)
    plo, phi = np.quantile(profb, q, axis=0)
    alo, ahi = np.quantile(areab, q, axis=0)
    n_small = sum(x.n < 5 for c in cells for x in c)
    note = (f"{n_small} (method, task) cell(s) with fewer than 5 runs: the bootstrap "
            f"interval is too narrow there" if n_small else "")
    return TimeProfile(
        methods=tuple(methods), taus=t, tau_max=float(tau_max),
        times={m: point[i] for i, m in enumerate(methods)},
        profile={m: prof[i] for i, m in enumerate(methods)},
        low={m: plo[i] for i, m in enumerate(methods)},
        high={m: phi[i] for i, m in enumerate(methods)},
        score={m: Interval(float(area[i]), float(alo[i]), float(ahi[i]), "percentile", level)
               for i, m in enumerate(methods)},
        n_resamples=n_resamples, level=level, note=note)
