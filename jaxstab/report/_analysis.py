"""What the statistics say about a study, gathered for the page from jaxstab.stats.

Every number here is computed by jaxstab.stats: one ``stats.analyze`` call per study
(summaries, divergence rates, test-noise baselines, every pair, the omnibus test, the
ranking with the set tied with the best, the factorial tests, the verdicts), plus the
pieces it does not cover (the spread matrix a claim asks for, variance by source, the
paired differences' per-seed values). This module chooses what to ask for and arranges
the answers; it is the one place that knows how the report talks to the statistics.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from jaxstab import stats
from jaxstab.errors import UserError
from jaxstab.report._grid import Grid

# The statistics' seed, resample count and metric direction: compare and the summary
# use the same, so every reader gives one answer.
RNG_SEED, EXPLORE_RESAMPLES = stats.RNG_SEED, stats.EXPLORE_RESAMPLES
higher_is_better = stats.higher_is_better
MAX_PAIRWISE = 8  # a k x k matrix stays readable up to about eight settings
# Accuracies measured over a finite set of examples: the binomial test-noise baseline
# applies. Balanced accuracy, F1 and AUC are not binomial proportions.
_ACCURACIES = {"test_accuracy": "n_test", "train_accuracy": "n_train",
               "epoch_accuracy": "n_train"}


@dataclass(frozen=True)
class LevelEffect:
    """The main metric averaged over the other factors' settings at one level of a
    factor: per seed index the mean over those settings, then the mean over seeds and
    its interval (stats.interval). Diverged runs are left out."""

    level: str
    mean: float
    interval: stats.Interval | None
    n: int  # seed indices
    settings: int  # settings averaged at this level


@dataclass(frozen=True)
class MainEffect:
    factor: str
    levels: tuple[LevelEffect, ...]


@dataclass(frozen=True)
class PairedDiff:
    """Per-seed differences ``a - b`` of the main metric (or a claim's metric) between
    two settings that share their seed keys, and the mean difference's interval."""

    what: str  # "claim" or "best"
    title: str
    metric: str
    a_key: str
    b_key: str
    seeds: tuple[int, ...]
    values: tuple[float, ...]
    mean: float
    low: float
    high: float
    level: float


@dataclass(frozen=True)
class Baseline:
    """The observed std of an accuracy next to the std the finite evaluation set alone
    gives. From stats.noise_baselines where runs recorded which test examples they got
    right; otherwise the binomial sqrt(p (1 - p) / n) at the setting's mean accuracy p
    over its n evaluation examples (stats.test_noise_baseline), exact when the test
    set is drawn anew per seed and an upper bound when it is fixed."""

    key: str
    metric: str
    n_eval: int
    mean: float
    baseline: float
    std: float
    std_interval: stats.Interval | None
    method: str


@dataclass(frozen=True)
class Divergence:
    """A setting's diverged runs: the rate with its exact interval
    (stats.divergence_rate), and when they diverged (earliest, median, latest step)."""

    key: str
    n: int
    diverged: int
    rate: float
    low: float | None
    high: float | None
    first_step: int | None
    median_step: float | None
    last_step: int | None


def attempt(notes: list[str], what: str, fn: Callable[[], Any], default: Any) -> Any:
    try:
        return fn()
    except UserError as err:
        notes.append(f"{what}: {err}")
        return default


def analysis(results, claims, metric: str, notes: list[str], directions=None):
    """stats.analyze of the main metric and the claims, within each stratum of a study
    with strata; None (with a note) when the study cannot be analyzed at all."""
    a = attempt(notes, "statistics", lambda: stats.analyze(
        results, claims, metric=metric, correction="holm", rng=RNG_SEED,
        n_resamples=EXPLORE_RESAMPLES, directions=directions,
        strata=getattr(results.study, "strata", ())), None)
    if a is not None:
        # the page's ranking states the direction beside it; a guessed one is named by
        # compare (the page's wording is kept for its golden file)
        notes.extend(n for n in a.notes if "guessed from the name" not in n)
    return a


MAX_BANDS = 10  # settings whose mean curves get bands: one legend stays readable


def curve_bands(results, study, claims, notes: list[str]) -> tuple:
    """(curve, setting key, stats.CurveBand) for each curve a target or a curve claim
    names: the mean curve of the finished runs with its pointwise and simultaneous
    (whole-curve) bands; up to MAX_BANDS settings, those with at least 3 finished runs."""
    names = dict.fromkeys([t.curve for t in getattr(study, "targets", ())]
                          + [c.metric for c in claims if c.kind in ("time_to_target",
                                                                    "curve")])
    if not names or len(results.settings) > MAX_BANDS:
        if names:
            notes.append(f"curve bands: only for up to {MAX_BANDS} settings")
        return ()
    out = []
    for name in names:
        for s in results.settings:
            c = (getattr(s, "curves", None) or {}).get(name)
            if c is None or int(np.isfinite(c).all(axis=1).sum()) < 3:
                continue
            band = attempt(notes, f"bands of {name}", lambda: stats.curve_band(
                c, rng=RNG_SEED, n_resamples=EXPLORE_RESAMPLES), None)
            if band is not None:
                out.append((name, s.key, band))
    return tuple(out)


def spread_matrix(results, metric: str, claims, notes: list[str]):
    """The matrix of the main metric's spread, where a claim is about it (analyze
    compares means); only for 3 to MAX_PAIRWISE settings, as the means' matrix."""
    if not 3 <= len(results.settings) <= MAX_PAIRWISE or not any(
            c.metric == metric and c.kind == "spread" for c in claims):
        return None
    return attempt(notes, f"pairwise spread of {metric}", lambda: stats.pairwise(
        results, metric=metric, metric_kind="spread", correction="holm", rng=RNG_SEED,
        n_resamples=EXPLORE_RESAMPLES), None)


def variance(results, metric: str, n_eval: int | None, notes: list[str]) -> tuple:
    if not any(len(s.sources) == 1 for s in results.settings):
        return ()
    return tuple(attempt(notes, "variance by source", lambda: stats.variance_by_source(
        results, metric=metric, n_test=n_eval), ()))


def _values(s, metric: str) -> np.ndarray:
    x = np.asarray(s.metrics.get(metric, np.full(len(s.seeds), np.nan)), float).copy()
    x[np.asarray(s.diverged, bool)] = np.nan
    return x


def _paired(a, b, metric: str) -> tuple[np.ndarray, np.ndarray] | None:
    """Per-seed a - b over the seed indices both ran and both finished, when the two
    settings share their seed keys (they vary the same sources)."""
    if set(a.sources) != set(b.sources):
        return None
    common, ia, ib = np.intersect1d(a.seeds, b.seeds, return_indices=True)
    d = _values(a, metric)[ia] - _values(b, metric)[ib]
    keep = np.isfinite(d)
    return common[keep], d[keep]


def paired_differences(results, verdict_list, rank, pw, labels: dict[str, str],
                       metric: str) -> tuple[PairedDiff, ...]:
    """The claims' paired comparisons of means (their interval from the verdict), and
    every setting against the best of the ranking (its interval from the pairwise
    comparison of the two: the paired t interval of the mean difference)."""
    by_key = {s.key: s for s in results.settings}
    out = []
    for v in verdict_list:
        if v.kind != "mean" or not v.paired or v.setting_a not in by_key:
            continue
        pair = _paired(by_key[v.setting_a], by_key[v.setting_b], v.metric)
        if pair is None or pair[1].size < 2:
            continue
        d = v.difference
        out.append(PairedDiff("claim", f"{labels[v.setting_a]} − {labels[v.setting_b]}",
                              v.metric, v.setting_a, v.setting_b,
                              tuple(int(k) for k in pair[0]), tuple(float(x) for x in pair[1]),
                              float(d.point), float(d.low), float(d.high), float(d.level)))
    if rank is None or pw is None or len(rank.ranks) <= 2:
        return tuple(out)
    comparisons = {(p.a_key, p.b_key): p.comparison for p in pw.pairs}
    best = rank.ranks[0].key
    for r in rank.ranks[1:]:
        pair = _paired(by_key[r.key], by_key[best], metric)
        c, sign = comparisons.get((r.key, best)), 1.0
        if c is None:
            c, sign = comparisons.get((best, r.key)), -1.0
        if pair is None or pair[1].size < 2 or c is None or not c.paired:
            continue
        d = c.difference
        low, high = sorted((sign * d.low, sign * d.high))
        out.append(PairedDiff("best", f"{labels[r.key]} − best", metric, r.key, best,
                              tuple(int(k) for k in pair[0]),
                              tuple(float(x) for x in pair[1]), sign * float(d.point),
                              float(low), float(high), float(d.level)))
    return tuple(out)


def main_effects(results, grid: Grid, metric: str) -> tuple[MainEffect, ...]:
    if len(grid.factors) < 2:
        return ()
    seeds = np.unique(np.concatenate([np.asarray(s.seeds) for s in results.settings]))
    table = np.full((len(results.settings), seeds.size), np.nan)
    for i, s in enumerate(results.settings):
        table[i, np.searchsorted(seeds, s.seeds)] = _values(s, metric)
    out = []
    for f, factor in enumerate(grid.factors):
        levels = []
        for li, level in enumerate(factor.levels):
            rows = [i for i, co in enumerate(grid.coords) if co[f] == li]
            sub = table[rows]
            has = np.isfinite(sub).any(axis=0)
            with np.errstate(all="ignore"):
                per_seed = np.nanmean(sub[:, has], axis=0) if has.any() else np.array([])
            iv = stats.interval(per_seed, method="t") if per_seed.size >= 2 else None
            mean = float(np.mean(per_seed)) if per_seed.size else math.nan
            levels.append(LevelEffect(level, mean, iv, int(per_seed.size), len(rows)))
        out.append(MainEffect(factor.name, tuple(levels)))
    return tuple(out)


def baselines(a, results, summaries: dict[str, Any], n_eval: dict[str, int | None],
              metric: str) -> tuple[Baseline, ...]:
    """analyze's baseline where runs recorded which test examples they got right; the
    binomial one from the evaluation set's size otherwise."""
    if metric not in _ACCURACIES:
        return ()
    measured = {row.key: row.noise for row in (a.settings if a is not None else ())
                if getattr(row.noise, "baseline", None) is not None}
    out = []
    for s in results.settings:
        summ = summaries.get(s.key)
        if summ is None or not math.isfinite(summ.mean):
            continue
        if s.key in measured and metric == "test_accuracy":
            b = measured[s.key]
            out.append(Baseline(s.key, metric, int(b.n_test), summ.mean, float(b.baseline),
                                summ.std, summ.std_interval, b.method))
            continue
        n = n_eval.get(s.key)
        if not n:
            continue
        fresh = bool({"split", "data"} & set(s.sources))  # a new evaluation set per seed
        out.append(Baseline(s.key, metric, int(n), summ.mean,
                            stats.test_noise_baseline(min(max(summ.mean, 0.0), 1.0), int(n)),
                            summ.std, summ.std_interval,
                            "binomial" if fresh else "binomial (upper bound: fixed test set)"))
    return tuple(out)


def evaluation_sizes(study, metric: str) -> dict[str, int | None]:
    """Examples each setting's ``metric`` is measured on, where the study says (the
    built-in task's data configuration); empty for a user's task."""
    field = _ACCURACIES.get(metric)
    if field is None:
        return {}
    out: dict[str, int | None] = {}
    try:
        settings = study.settings()
    except (UserError, AttributeError, TypeError):
        return {}
    for s in settings:
        n = getattr(getattr(s, "data", None), field, None)
        out[s.key] = int(n) if isinstance(n, (int, np.integer)) and n > 0 else None
    return out


def divergence(a, results) -> tuple[Divergence, ...]:
    """analyze's divergence rates and intervals, with when the runs diverged."""
    rates = {row.key: row.divergence for row in (a.settings if a is not None else ())}
    out = []
    for s in results.settings:
        div = np.asarray(s.diverged, bool)
        steps = np.asarray(getattr(s, "diverged_step", np.full(div.size, -1)))[div]
        steps = steps[steps >= 0]
        rate = rates.get(s.key) or stats.divergence_rate(div)
        out.append(Divergence(
            s.key, int(div.size), int(div.sum()), float(rate.rate or 0.0), rate.low,
            rate.high, int(steps.min()) if steps.size else None,
            float(np.median(steps)) if steps.size else None,
            int(steps.max()) if steps.size else None))
    return tuple(out)


def replace_settings(results, settings):
    return dataclasses.replace(results, settings=settings)
