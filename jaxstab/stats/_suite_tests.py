"""Tests of a difference between two methods across tasks, each answering its own
question (the record carries it):

- "On these tasks": a stratified permutation test of the aggregate difference; runs are
  exchanged between the two methods within each task (paired seeds: swapped within a
  pair), so the tasks are held fixed and the answer is about them only.
- "On tasks like these": an exact sign-flip test of the per-task differences, each task
  one observation; it speaks for tasks drawn like these, and with few tasks it cannot
  say much (its smallest p-value is 2 / 2**tasks).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.stats as st

from jaxstab.errors import UserError
from jaxstab.stats import _aggregate, _check, _suite
from jaxstab.stats._base import Record, quiet, tolerance

# Up to 2**16 sign patterns the sign-flip test enumerates them all (exact p-value).
EXACT_TASKS = 16


@dataclass(frozen=True)
class SuiteTest(Record):
    """One test across tasks: ``statistic`` is x's aggregate (or mean per-task
    difference) minus y's, ``p_value`` two-sided, ``question`` what it answers."""

    question: str
    statistic: float
    p_value: float
    method: str
    n_tasks: int
    note: str = ""


def _inputs(x: Any, y: Any, statistic: str, higher_is_better: bool,
            nan_policy: str) -> tuple:
    statistic = _check.choice(statistic, "statistic", _aggregate.STATISTICS)
    higher = _suite.direction(higher_is_better)
    xs = _suite.tasks_of(x, "x", nan_policy)
    ys = _suite.tasks_of(y, "y", nan_policy)
    _suite.same_tasks(xs, ys)
    return statistic, higher, xs, ys


def _exchanged(a: np.ndarray, b: np.ndarray, paired: bool, gen: np.random.Generator,
               n: int) -> tuple[np.ndarray, np.ndarray]:
    if paired:
        swap = gen.random((n, a.size)) < 0.5
        return np.where(swap, b, a), np.where(swap, a, b)
    pooled = np.concatenate([a, b])
    perm = gen.permuted(np.broadcast_to(np.arange(pooled.size), (n, pooled.size)), axis=1)
    return pooled[perm[:, :a.size]], pooled[perm[:, a.size:]]


def these_tasks_test(x: Any, y: Any, *, statistic: str = "iqm", paired: bool = False,
                     higher_is_better: bool = True, gamma: float | None = None,
                     rng: Any = None, resamples: int = 9999,
                     nan_policy: str = "raise") -> SuiteTest:
    """"On these tasks": is x's aggregate (``statistic``, as in ``aggregate``) different
    from y's? Stratified permutation test: within each task the runs of x and y are
    exchanged (``paired=True``: run i of x and run i of y are one seed, swapped or not),
    the aggregate difference recomputed ``resamples`` times. p = (1 + #|d*| >= |d|) /
    (resamples + 1). x, y: runs x tasks (or lists of per-task runs)."""
    statistic, higher, xs, ys = _inputs(x, y, statistic, higher_is_better, nan_policy)
    gen = _check.rng(rng)
    resamples = _check.positive_int(resamples, "resamples", 99)
    if paired and any(a.size != b.size for a, b in zip(xs, ys)):
        raise UserError("paired: paired seeds need the same number of runs of x and y in "
                        "every task")
    g = (1.0 if higher else 0.0) if gamma is None else float(gamma)
    d = _aggregate.point(statistic, xs, g, higher) - _aggregate.point(statistic, ys, g, higher)
    pairs = [_exchanged(a, b, paired, gen, resamples) for a, b in zip(xs, ys)]
    null = (_aggregate.batch(statistic, [p[0] for p in pairs], g, higher)
            - _aggregate.batch(statistic, [p[1] for p in pairs], g, higher))
    # Permuted differences equal to |d| up to float rounding (sums in another order)
    # count as reaching it.
    tol = tolerance(*xs, *ys)
    p = (1 + int(np.sum(np.abs(null) >= abs(d) - tol))) / (resamples + 1)
    kind = "paired seeds swapped" if paired else "runs exchanged"
    return SuiteTest(
        f"On these {len(xs)} tasks: does the {statistic} of x differ from y's? "
        f"({kind} within each task; says nothing about other tasks)",
        float(d), float(p), f"stratified permutation ({kind}, {resamples} resamples)",
        len(xs))


def _task_value(statistic: str, t: np.ndarray, gamma: float, higher: bool) -> float:
    if statistic == "iqm":
        return float(st.trim_mean(t, _aggregate.TRIM))
    return _aggregate.point("optimality_gap" if statistic == "optimality_gap" else "mean",
                            [t], gamma, higher)


def _mean_first(d: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(d, axis=axis)


def tasks_like_these_test(x: Any, y: Any, *, statistic: str = "mean",
                          higher_is_better: bool = True, gamma: float | None = None,
                          rng: Any = None, resamples: int = 9999,
                          nan_policy: str = "raise") -> SuiteTest:
    """"On tasks like these": is the per-task difference centred on zero across tasks
    drawn like these? Per task, x's value minus y's (the per-task mean for ``mean``
    and ``median``, trimmed mean for ``iqm``, gap for ``optimality_gap``); their mean is
    tested by sign flips (scipy.stats.permutation_test, exact up to 16 tasks, else
    ``resamples`` random flips seeded by ``rng``)."""
    statistic, higher, xs, ys = _inputs(x, y, statistic, higher_is_better, nan_policy)
    gen = _check.rng(rng)
    resamples = _check.positive_int(resamples, "resamples", 99)
    g = (1.0 if higher else 0.0) if gamma is None else float(gamma)
    d = np.array([_task_value(statistic, a, g, higher) - _task_value(statistic, b, g, higher)
                  for a, b in zip(xs, ys)])
    k = d.size
    exact = k <= EXACT_TASKS
    if np.all(np.abs(d) <= tolerance(*xs, *ys)):
        p = 1.0
    else:
        res = quiet(st.permutation_test, (d,), _mean_first, permutation_type="samples",
                    vectorized=True, n_resamples=np.inf if exact else resamples,
                    alternative="two-sided", rng=gen)
        p = float(res.pvalue)
    note = f"with {k} tasks no p-value can be below {2 / 2 ** k:.3g}" if k < 6 else ""
    return SuiteTest(
        f"On tasks like these ({k} tasks): is x's per-task {statistic} difference from y centred "
        f"on zero? (each task one observation; about tasks drawn like these)",
        float(d.mean()), p, "sign-flip " + ("(exact)" if exact else f"({resamples} flips)"),
        k, note)
