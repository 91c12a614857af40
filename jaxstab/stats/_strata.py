"""A study with strata (factors whose values are tasks: datasets, workloads) seen across
its strata: rliable's aggregates of each treatment, the probability of improvement of
each pair, the two across-task tests with the question each answers, performance
profiles, and the verdicts of claims across strata.

A treatment (``setting`` here) is a combination of the non-strata factors; its scores
are per-task runs, one task per stratum. Seeds are paired only within a stratum (the
"on these tasks" test swaps a pair's runs within its task). Settings are compared and
ranked within each stratum elsewhere (``analyze`` per stratum); here only aggregates
speak across strata.

Verdict of a claim across strata ("adam beats sgd on the IQM across datasets"): the
"on these tasks" test (stratified permutation of the claimed aggregate, one-sided in
the claimed direction, Holm over the study's claims across strata) decides it; the
"on tasks like these" test and both aggregate intervals are reported beside it, since
with a handful of tasks the task-level test cannot reach significance (5 tasks: its
smallest p is 1/16).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from jaxstab.stats import _study
from jaxstab.stats._aggregate import STATISTICS, aggregate
from jaxstab.stats._base import Record
from jaxstab.stats._improvement import Profile, performance_profile, \
    probability_of_improvement
from jaxstab.stats._multiple import adjust_pvalues
from jaxstab.stats._suite_tests import SuiteTest, tasks_like_these_test, these_tasks_test

PROFILE_POINTS = 41


@dataclass(frozen=True)
class AggregateRow(Record):
    """One treatment's aggregate of ``metric`` across the strata, with its interval."""

    metric: str
    setting: str
    statistic: str
    point: float
    low: float
    high: float
    method: str
    note: str = ""


@dataclass(frozen=True)
class Improvement(Record):
    """P(a better than b): a run of ``a`` beats a run of ``b`` of the same task (ties
    half), averaged over tasks; better by the metric's direction."""

    a: str
    b: str
    point: float
    low: float
    high: float
    method: str
    note: str = ""


@dataclass(frozen=True)
class AcrossTest(Record):
    """One across-task test of ``a`` against ``b``; ``p_adjusted`` is Holm-corrected
    over the pairs, separately for each of the two questions."""

    a: str
    b: str
    question: str
    statistic: str
    difference: float
    p_value: float
    p_adjusted: float
    method: str
    note: str = ""


@dataclass(frozen=True)
class TaskRow(Record):
    """One treatment in one stratum: its runs' mean and the runs themselves."""

    task: str
    setting: str
    n: int
    mean: float
    values: tuple[float, ...]


@dataclass(frozen=True)
class SuiteVerdict(Record):
    """The verdict of a claim across strata (module docstring: how it is decided)."""

    claim: str
    metric: str
    statistic: str
    direction: str
    status: str
    setting_a: str
    setting_b: str
    a: AggregateRow
    b: AggregateRow
    difference: float
    p_value: float
    p_adjusted: float
    correction: str
    alpha: float
    these_tasks: SuiteTest
    tasks_like_these: SuiteTest
    statement: str


@dataclass(frozen=True)
class Suite(Record):
    """Everything across the strata of one metric (``jaxstab compare`` prints it first
    for a study with strata)."""

    metric: str
    strata: tuple[str, ...]
    tasks: tuple[str, ...]
    settings: tuple[str, ...]
    higher_is_better: bool
    direction: str  # "declared" or "guessed from the name"
    aggregates: tuple[AggregateRow, ...]
    improvement: tuple[Improvement, ...]
    tests: tuple[AcrossTest, ...]
    profiles: Mapping[str, Profile]
    per_task: tuple[TaskRow, ...]
    verdicts: tuple[SuiteVerdict, ...]
    notes: tuple[str, ...]


def split_strata(settings: Sequence[Any], strata: Sequence[str]) -> dict[str, list]:
    """``{stratum label: its settings}``, in the study's order."""
    out: dict[str, list] = {}
    for s in settings:
        out.setdefault(_study.label({k: s.factors[k] for k in strata}), []).append(s)
    return out


def _scores(settings, strata, metric) -> tuple[list, list, dict, list]:
    """Tasks, treatments, ``{treatment: [per-task runs]}`` (finite runs), notes."""
    by_task = split_strata(settings, strata)
    cells: dict[str, dict[str, Any]] = {}
    for task, ss in by_task.items():
        for s in ss:
            rest = {k: v for k, v in s.factors.items() if k not in strata}
            cells.setdefault(_study.label(rest), {})[task] = s
    tasks = list(by_task)
    notes = []
    full = {}
    for name, where in cells.items():
        if set(where) != set(tasks):
            notes.append(f"{name}: left out of the aggregates, it has no runs in "
                         f"{', '.join(t for t in tasks if t not in where)}")
            continue
        runs = [_study.group(where[t], metric) for t in tasks]
        if any(g.n_finished == 0 for g in runs):
            notes.append(f"{name}: left out of the aggregates, a stratum has no finished "
                         f"runs")
            continue
        full[name] = (runs, [where[t] for t in tasks])
    return tasks, list(full), full, notes


def _paired(ga: list, gb: list) -> tuple[list, list, bool]:
    """Per-task runs of a and b; aligned by seed (and so paired) when every task has
    the same seeds of both, all finished, and the same seed sources."""
    same = all(_study.can_pair(x, y) and np.array_equal(x.seeds, y.seeds)
               and x.n_finished == x.n_total and y.n_finished == y.n_total
               for x, y in zip(ga, gb))
    return [_finite(g) for g in ga], [_finite(g) for g in gb], same


def _finite(g: Any) -> np.ndarray:
    return g.values[np.isfinite(g.values)]


def _row(metric, name, statistic, iv) -> AggregateRow:
    return AggregateRow(metric, name, statistic, iv.point, iv.low, iv.high, iv.method,
                        iv.note)


def suite(results: Any, strata: Sequence[str], *, metric: str, higher_is_better: bool,
          guessed: bool, claims: Sequence[Any] = (), alpha: float = 0.05,
          level: float = 0.95, rng: Any = None, n_resamples: int = 1999) -> Suite:
    """The across-strata view of ``metric`` of study ``results`` (see the module)."""
    strata = tuple(strata)
    gen = np.random.default_rng(rng) if not isinstance(rng, np.random.Generator) else rng
    tasks, names, full, notes = _scores(_study.settings_of(results), strata, metric)
    scores = {n: [g.values[np.isfinite(g.values)] for g in full[n][0]] for n in names}
    hib = bool(higher_is_better)
    aggs: list[AggregateRow] = []
    improvement: list[Improvement] = []
    tests: list[AcrossTest] = []
    profiles: dict[str, Profile] = {}
    if scores:
        for statistic in STATISTICS:
            ivs = aggregate(scores, statistic=statistic, level=level, rng=gen,
                            higher_is_better=hib, **_gamma(statistic, scores, hib))
            aggs += [_row(metric, n, statistic, iv) for n, iv in ivs.items()]
        every = np.concatenate([np.concatenate(v) for v in scores.values()])
        taus = np.linspace(every.min(), every.max(), PROFILE_POINTS)
        profiles = performance_profile(scores, taus, level=level, higher_is_better=hib)
    pairs = [(a, b) for i, a in enumerate(names) for b in names[i + 1:]]
    raw = []
    for a, b in pairs:
        xa, xb, paired = _paired(full[a][0], full[b][0])
        iv = probability_of_improvement(xa, xb, level=level, higher_is_better=hib)
        improvement.append(Improvement(a, b, iv.point, iv.low, iv.high, iv.method, iv.note))
        t1 = these_tasks_test(xa, xb, statistic="iqm", paired=paired, higher_is_better=hib,
                              rng=gen, resamples=n_resamples)
        t2 = tasks_like_these_test(xa, xb, statistic="iqm", higher_is_better=hib,
                                   rng=gen, resamples=n_resamples)
        raw.append((a, b, t1, t2))
    for which in (2, 3):
        adj = adjust_pvalues([r[which].p_value for r in raw]) if raw else []
        for r, p in zip(raw, adj):
            t = r[which]
            tests.append(AcrossTest(r[0], r[1], t.question, "iqm", t.statistic, t.p_value,
                                    float(p), t.method + ", holm over the pairs", t.note))
    per_task = tuple(TaskRow(t, n, int(v.size), float(v.mean()), tuple(map(float, v)))
                     for n in names for t, v in zip(tasks, scores[n]))
    verdicts = _verdicts(claims, strata, full, metric, hib, alpha, level, gen, n_resamples)
    direction = "guessed from the name" if guessed else "declared"
    if guessed:
        notes.append(f"{'higher' if hib else 'lower'} {metric} taken as better, guessed "
                     f"from the name (declare it: [metrics] {metric} = "
                     f"\"{'higher' if hib else 'lower'}\" or --lower-is-better)")
    return Suite(metric, strata, tuple(tasks), tuple(names), hib, direction, tuple(aggs),
                 tuple(improvement), tuple(tests), profiles, per_task, verdicts,
                 tuple(notes))


def _gamma(statistic: str, scores: Mapping, higher: bool) -> dict:
    """The optimality gap's target: rliable's 1 fits normalized scores; for raw ones the
    best treatment's mean per task would be task-specific, so the target is the best
    per-task mean over all treatments, averaged over tasks (stated in docs/suite.md)."""
    if statistic != "optimality_gap":
        return {}
    means = np.array([[t.mean() for t in ts] for ts in scores.values()])
    best = means.max(axis=0) if higher else means.min(axis=0)
    return {"gamma": float(best.mean())}


def _side(claim_side: Mapping, names: list[str], strata) -> str | None:
    want = _study.label({k: v for k, v in claim_side.items() if k not in strata})
    return want if want in names else None


def _verdicts(claims, strata, full, metric, hib, alpha, level, gen, n_resamples) -> tuple:
    rows = []
    for c in claims:
        statistic = getattr(c, "statistic", "") or "iqm"
        a, b = _side(c.a, list(full), strata), _side(c.b, list(full), strata)
        if a is None or b is None:
            continue
        xa, xb, paired = _paired(*[[_study.group(s, c.metric) for s in full[x][1]]
                                   for x in (a, b)])
        t1 = these_tasks_test(xa, xb, statistic=statistic, paired=paired,
                              higher_is_better=hib, rng=gen, resamples=n_resamples)
        t2 = tasks_like_these_test(xa, xb, statistic=statistic, higher_is_better=hib,
                                   rng=gen, resamples=n_resamples)
        ivs = aggregate({a: xa, b: xb}, statistic=statistic, level=level, rng=gen,
                        higher_is_better=hib,
                        **_gamma(statistic, {a: xa, b: xb}, hib))
        rows.append((c, statistic, a, b, t1, t2, ivs))
    ps = [_one_sided(r[4], r[0].direction) for r in rows]
    adj = adjust_pvalues(ps) if ps else []
    out = []
    for (c, statistic, a, b, t1, t2, ivs), p, pa in zip(rows, ps, adj):
        d = t1.statistic
        status = "inconclusive"
        if pa < alpha:
            status = "holds"
        elif c.direction != "two-sided" and \
                _one_sided(t1, _flip(c.direction)) * len(ps) < alpha:
            status = "refuted"  # significant the other way (Bonferroni over the claims)
        word = {"greater": "greater than", "less": "less than",
                "two-sided": "different from"}[c.direction]
        statement = (f"{c.text}: {status}: {statistic} of {c.metric} across "
                     f"{t1.n_tasks} tasks, {a}: "
                     f"{ivs[a].point:.4g} vs {b}: {ivs[b].point:.4g} (claimed {word}; "
                     f"on these tasks p = {pa:.3g} holm; on tasks like these p = "
                     f"{t2.p_value:.3g})")
        out.append(SuiteVerdict(c.text, c.metric, statistic, c.direction, status, a, b,
                                _row(c.metric, a, statistic, ivs[a]),
                                _row(c.metric, b, statistic, ivs[b]), d, p, float(pa),
                                "holm", alpha, t1, t2, statement))
    return tuple(out)


def _flip(direction: str) -> str:
    return {"greater": "less", "less": "greater"}[direction]


def _one_sided(t: SuiteTest, direction: str) -> float:
    """The one-sided p of a two-sided permutation p (the null distribution of the
    difference is symmetric under exchange), in the claimed direction."""
    if direction == "two-sided":
        return t.p_value
    right = (t.statistic > 0) == (direction == "greater")
    return t.p_value / 2 if right and t.statistic != 0 else 1 - t.p_value / 2
