"""Measured tables of docs/statistics.md, "Aggregates across tasks" (issue 23): coverage
of the 95% intervals of aggregate() and probability_of_improvement() at 3, 5 and 10 runs
x 3, 5 and 10 tasks, beside rliable's percentile stratified bootstrap on the same data,
and the type-I error of these_tasks_test and tasks_like_these_test.

Run from the repository root (every cell has a fixed seed):

    python docs/suite_tables.py                  # every table
    python docs/suite_tables.py coverage 500     # one table, 500 replications a cell

Each replication calls the library itself.
"""

from __future__ import annotations

import functools
import sys
import time

import numpy as np
import scipy.stats as st

from jaxstab.stats import (aggregate, probability_of_improvement, tasks_like_these_test,
                           these_tasks_test)
from jaxstab.stats._aggregate import batch
from _tables import rng_for  # docs/_tables.py

DISTS = ("normal", "beta", "collapse")
RUNS = (3, 5, 10)
TASKS = (3, 5, 10)
STATS = ("mean", "median", "iqm", "optimality_gap")
GAMMA = 0.8
SHIFT = 0.03  # y is x's distribution moved down by this much, for P(X > Y)


def draw(dist: str, runs: int, tasks: int, gen: np.random.Generator,
         shift: float = 0.0) -> np.ndarray:
    """(runs, tasks): task t centred at mu_t, tasks spread from 0.45 to 0.85."""
    mu = np.linspace(0.45, 0.85, tasks) - shift
    if dist == "normal":
        return gen.normal(mu, 0.05, (runs, tasks))
    if dist == "beta":  # skewed: skewness -0.2 to -0.9 across tasks
        return gen.beta(12 * mu, 12 * (1 - mu), (runs, tasks))
    # 30% of runs collapse to chance level (0.1); the rest train to N(mu_t, 0.02^2)
    return np.where(gen.random((runs, tasks)) < 0.3, 0.1, gen.normal(mu, 0.02, (runs, tasks)))


@functools.cache
def truths(dist: str, tasks: int) -> dict[str, float]:
    """Population values from 200,000 runs a task (Monte-Carlo error below 5e-4)."""
    gen = rng_for("truth", dist, tasks)
    big = draw(dist, 200_000, tasks, gen)
    cols = list(big.T)
    out = {s: float(batch(s, [c[None] for c in cols], GAMMA)[0]) for s in STATS}
    other = draw(dist, 200_000, tasks, gen, SHIFT)
    out["P(X>Y)"] = float(np.mean([st.mannwhitneyu(a, b).statistic / (a.size * b.size)
                                   for a, b in zip(big.T, other.T)]))
    return out


def percentile(x: np.ndarray, statistic: str, gen: np.random.Generator,
               n: int = 2000) -> tuple[float, float]:
    """rliable's default: the percentile interval of the stratified bootstrap."""
    draws = [c[gen.integers(0, c.size, (n, c.size))] for c in x.T]
    return tuple(np.quantile(batch(statistic, draws, GAMMA), [0.025, 0.975]))


def coverage(reps: int) -> None:
    print(f"### Coverage of the 95% intervals ({reps} replications a cell)\n")
    print("Each cell: jaxstab's interval / rliable's percentile stratified bootstrap "
          "(2000 resamples). P(X>Y): jaxstab only.\n")
    heads = [*STATS, "P(X>Y)"]
    print("| data | runs | tasks | " + " | ".join(heads) + " |")
    print("|---" * (3 + len(heads)) + "|")
    for dist in DISTS:
        for runs in RUNS:
            for tasks in TASKS:
                truth = truths(dist, tasks)
                gen = rng_for("coverage", dist, runs, tasks)
                ours = {h: 0 for h in heads}
                theirs = {s: 0 for s in STATS}
                none = 0
                for _ in range(reps):
                    x = draw(dist, runs, tasks, gen)
                    y = draw(dist, runs, tasks, gen, SHIFT)
                    for s in STATS:
                        iv = aggregate({"x": x}, statistic=s, gamma=GAMMA, rng=gen)["x"]
                        none += iv.method == "none"
                        ours[s] += iv.low <= truth[s] <= iv.high
                        lo, hi = percentile(x, s, gen)
                        theirs[s] += lo <= truth[s] <= hi
                    iv = probability_of_improvement(x, y)
                    none += iv.method == "none"
                    ours["P(X>Y)"] += iv.low <= truth["P(X>Y)"] <= iv.high
                cells = [f"{ours[s] / reps:.3f} / {theirs[s] / reps:.3f}" for s in STATS]
                cells.append(f"{ours['P(X>Y)'] / reps:.3f}")
                extra = f" ({none} without interval)" if none else ""
                print(f"| {dist}{extra} | {runs} | {tasks} | " + " | ".join(cells) + " |",
                      flush=True)
    print()


def type1(reps: int) -> None:
    print(f"### Type-I error at alpha = 0.05 ({reps} replications a cell)\n")
    print("these: these_tasks_test (IQM, 499 permutations), x and y from the same "
          "distribution in every task. like: tasks_like_these_test (mean), the true "
          "per-task difference drawn N(0, 0.02^2) anew for each task and replication.\n")
    print("| data | runs | " + " | ".join(f"these, {t} tasks" for t in TASKS) + " | "
          + " | ".join(f"like, {t} tasks" for t in TASKS) + " |")
    print("|---" * (2 + 2 * len(TASKS)) + "|")
    for dist in DISTS:
        for runs in RUNS:
            cells_a, cells_b = [], []
            for tasks in TASKS:
                gen = rng_for("type1", dist, runs, tasks)
                a = b = 0
                for _ in range(reps):
                    x, y = draw(dist, runs, tasks, gen), draw(dist, runs, tasks, gen)
                    a += these_tasks_test(x, y, rng=gen, resamples=499).p_value <= 0.05
                    delta = gen.normal(0, 0.02, tasks)
                    b += tasks_like_these_test(x + delta, y, rng=gen).p_value <= 0.05
                cells_a.append(f"{a / reps:.3f}")
                cells_b.append(f"{b / reps:.3f}")
            print(f"| {dist} | {runs} | " + " | ".join(cells_a + cells_b) + " |", flush=True)
    print()


TABLES = {"coverage": coverage, "type1": type1}

if __name__ == "__main__":
    names = [a for a in sys.argv[1:] if a in TABLES] or list(TABLES)
    nums = [int(a) for a in sys.argv[1:] if a.isdigit()]
    start = time.time()
    for name in names:
        TABLES[name](nums[0] if nums else {"coverage": 500, "type1": 500}[name])
    print(f"wall time {time.time() - start:.0f} s")
