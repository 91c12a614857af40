"""Shared core of the across-task statistics: scores of one method as per-task runs,
direction and normalization, and the stratified (within-task) variance with its
Welch-Satterthwaite degrees of freedom.

Contract (every public function of ``_aggregate`` and ``_suite_tests``): the scores of
one method are a 2-D array ``(runs, tasks)`` as in rliable, or a list of per-task 1-D
arrays when tasks have different run counts. In a 2-D array NaN marks a missing run
(padding) only under ``nan_policy="omit"``; by default a NaN is an error. Every method
has the same tasks, in the same order.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import scipy.stats as st

from jaxstab.errors import UserError
from jaxstab.stats import _check
from jaxstab.stats._base import tolerance

Tasks = list[np.ndarray]


def tasks_of(x: Any, name: str, nan_policy: str = "raise") -> Tasks:
    """Per-task 1-D float arrays of finite runs, from ``(runs, tasks)`` or a list."""
    _check.choice(nan_policy, "nan_policy", _check.NAN_POLICIES)
    if isinstance(x, (list, tuple)) and any(np.ndim(t) != 0 for t in x):
        columns = [_column(t, f"{name}[task {k}]") for k, t in enumerate(x)]
    else:
        arr = _float(x, name)
        if arr.ndim != 2:
            raise UserError(f"{name}: need a 2-D array (runs x tasks) or a list of per-task "
                            f"1-D arrays, got shape {arr.shape}")
        columns = list(arr.T)
    if not columns:
        raise UserError(f"{name}: no tasks")
    out = []
    for k, col in enumerate(columns):
        bad = ~np.isfinite(col)
        if bad.any() and nan_policy == "raise":
            raise UserError(f"{name}: {int(bad.sum())} non-finite value(s) in task {k}; "
                            f"pass nan_policy='omit' to treat NaN as a missing run")
        col = col[~bad]
        if col.size == 0:
            raise UserError(f"{name}: task {k} has no runs")
        out.append(col)
    return out


def _float(x: Any, name: str) -> np.ndarray:
    try:
        return np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise UserError(f"{name}: need numbers, got {type(x).__name__}") from None


def _column(x: Any, name: str) -> np.ndarray:
    arr = _float(x, name)
    if arr.ndim != 1:
        raise UserError(f"{name}: need a 1-D array of runs, got shape {arr.shape}")
    return arr


def methods_of(scores: Any, nan_policy: str = "raise") -> dict[str, Tasks]:
    """``{method: Tasks}`` from rliable's ``{method: (runs, tasks)}``; same task count."""
    if not isinstance(scores, Mapping):
        raise UserError(f"scores: need a dict {{method: array (runs x tasks)}}, got "
                        f"{type(scores).__name__}")
    if not scores:
        raise UserError("scores: no methods")
    out = {str(m): tasks_of(v, f"scores[{m!r}]", nan_policy) for m, v in scores.items()}
    first, *rest = out
    for m in rest:
        if len(out[m]) != len(out[first]):
            raise UserError(f"scores[{m!r}]: {len(out[m])} tasks, but scores[{first!r}] has "
                            f"{len(out[first])}; every method needs the same tasks")
    return out


def same_tasks(x: Tasks, y: Tasks, names: tuple[str, str] = ("x", "y")) -> None:
    if len(x) != len(y):
        raise UserError(f"{names[1]}: {len(y)} tasks, but {names[0]} has {len(x)}; both "
                        f"need the same tasks")


def normalize(methods: dict[str, Tasks], spec: Any) -> dict[str, Tasks]:
    """``(x - low) / (high - low)`` per task. ``spec``: None, or a mapping with ``low``
    and ``high``, each a per-task sequence of reference scores or the name of a method
    in ``scores`` whose per-task mean is the reference (then treated as known: its own
    seed noise is not carried into the intervals)."""
    if spec is None:
        return methods
    if not isinstance(spec, Mapping) or set(spec) != {"low", "high"}:
        raise UserError("normalize: need None or {'low': ..., 'high': ...} (per-task "
                        "reference scores, or a method name)")
    n_tasks = len(next(iter(methods.values())))
    ref = {end: _reference(spec[end], end, methods, n_tasks) for end in ("low", "high")}
    span = ref["high"] - ref["low"]
    if np.any(span == 0):
        k = int(np.flatnonzero(span == 0)[0])
        raise UserError(f"normalize: low and high are equal for task {k}; nothing to scale by")
    return {m: [(t - ref["low"][k]) / span[k] for k, t in enumerate(ts)]
            for m, ts in methods.items()}


def _reference(value: Any, end: str, methods: dict[str, Tasks], n_tasks: int) -> np.ndarray:
    if isinstance(value, str):
        if value not in methods:
            raise UserError(f"normalize[{end!r}]: no method {value!r} in scores (have "
                            f"{', '.join(map(repr, methods))})")
        return np.array([t.mean() for t in methods[value]])
    arr = _float(value, f"normalize[{end!r}]")
    if arr.shape != (n_tasks,) or not np.all(np.isfinite(arr)):
        raise UserError(f"normalize[{end!r}]: need {n_tasks} finite per-task scores, got "
                        f"shape {arr.shape}")
    return arr


def direction(value: Any) -> bool:
    if not isinstance(value, (bool, np.bool_)):
        raise UserError(f"higher_is_better: must be True or False, got {value!r}")
    return bool(value)


def variance(parts: Sequence[tuple[float, np.ndarray]]) -> tuple[float, float, float]:
    """Stratified variance of a statistic linear (to first order) in per-task means of
    per-run values: ``parts`` holds ``(weight, values)`` per task and per sample, the
    statistic being ``sum(weight * mean(values))``. Returns ``(var, df, var_plugin)``:
    the unbiased variance (ddof=1 within each task: only run-to-run variation inside a
    task counts, as when runs are resampled within tasks), Welch-Satterthwaite degrees
    of freedom, and the plug-in (ddof=0) variance a bootstrap would see."""
    c = np.array([w * w * np.var(v, ddof=1) / v.size for w, v in parts])
    d = np.array([v.size - 1.0 for _, v in parts])
    scale = tolerance(*(v for _, v in parts))
    c = np.where([np.ptp(v) <= scale for _, v in parts], 0.0, c)
    total = float(c.sum())
    df = total ** 2 / float(np.sum(c ** 2 / d)) if total > 0 else float("nan")
    return total, df, float(np.sum(c * d / (d + 1)))


def t_half(var: float, df: float, level: float) -> float:
    return float(st.t.ppf(0.5 + level / 2, df) * np.sqrt(var))


# Coverage is measured from 3 runs per task (docs/statistics.md); with 2 the within-task
# variance has one degree of freedom and nothing shows whether an interval holds.
MIN_RUNS = 3


def uncalibrated(tasks: Sequence[Tasks]) -> str:
    """Why no interval can be calibrated for these tasks ('' when one can)."""
    for ts in tasks:
        for k, t in enumerate(ts):
            if t.size < MIN_RUNS:
                return (f"task {k} has {t.size} run(s); intervals are calibrated from "
                        f"{MIN_RUNS} runs per task")
    return ""
