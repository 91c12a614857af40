"""The report's data: plain frozen dataclasses built from the store and jaxstab.stats.

Nothing here renders, and nothing here computes a statistic of its own: summaries,
rankings, comparisons, verdicts, seeds needed, variance by source and the test-noise
baseline all come from jaxstab.stats (through ``_analysis``). The one exception is the
learning-curve band (median and quartiles per epoch), a plot of the data that
jaxstab.stats has no function for.
"""

from __future__ import annotations

import math
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np

from jaxstab import stats
from jaxstab.report import _analysis as an
from jaxstab.report._grid import Grid, grid_of
from jaxstab.report._power import SeedsNeeded as SeedsNeeded
from jaxstab.report._power import seeds_needed
from jaxstab.errors import UserError
from jaxstab.report._runs import Curve as Curve
from jaxstab.report._runs import curves, environment, runs_csv
from jaxstab.store import BaseStore, StudyResults

RNG_SEED = an.RNG_SEED
_NO_JSON = {"json": False}  # fields the JSON twin leaves out (the CSV carries them)


@dataclass(frozen=True)
class SettingReport:
    key: str
    label: str
    factors: Mapping[str, Any]
    sources: tuple[str, ...]
    seeds: tuple[int, ...]
    values: tuple[float, ...]  # the main metric per seed, NaN where the run diverged
    diverged: tuple[bool, ...]
    summaries: Mapping[str, stats.Summary | None]  # None: fewer than two runs
    curves: tuple[Curve, ...]
    coords: tuple[int, ...] = ()  # level index per factor of the study's grid
    # The other recorded metrics: the mean of the finished runs and its interval
    # (stats.interval; None below two finished runs). Every value is in the CSV.
    others: Mapping[str, stats.Interval | None] = field(default_factory=dict)

    @property
    def n_runs(self) -> int:
        return len(self.seeds)

    @property
    def n_diverged(self) -> int:
        return sum(self.diverged)


@dataclass(frozen=True)
class SearchRow:
    """One (method, selection rule) of a study's search: means over its replicates."""

    method: str
    rule: str
    search_score: float  # what the rule saw when it picked
    fresh_score: float  # the pick re-run on fresh seeds
    optimism: float  # search - fresh: the winner's curse
    replicates: int


@dataclass(frozen=True)
class SearchReport:
    methods: tuple[str, ...]
    trials: int  # per method and replicate
    seeds: int  # per trial
    fresh_seeds: int  # per pick
    replicates: int
    rows: tuple[SearchRow, ...]
    verdicts: tuple[stats.Verdict, ...]


@dataclass(frozen=True)
class StudyReport:
    name: str
    slug: str
    fingerprint: str
    description: str
    question: str
    main_metric: str
    metrics: tuple[str, ...]  # every recorded metric, the main one first
    table_metrics: tuple[str, ...]  # summarized in full: the main metric, the claims'
    settings: tuple[SettingReport, ...]
    verdicts: tuple[stats.Verdict, ...]
    pairwise: tuple[stats.Pairwise, ...]
    seeds_needed: tuple[SeedsNeeded, ...]
    variance: tuple[stats.SourceVariance, ...]
    environment: tuple[tuple[str, str], ...]
    seeds: int  # the most runs of any setting
    runs: int
    diverged: int
    wall_seconds: float
    chunks: int
    date: str  # when the last chunk finished
    config: Mapping[str, Any]
    notes: tuple[str, ...]  # what could not be computed, and why
    generated: str
    search: SearchReport | None = None  # the study's adaptive search, once complete
    grid: Grid | None = None
    higher_is_better: bool = True  # of the main metric
    ranking: stats.Ranking | None = None  # by the main metric's mean, best first
    omnibus: stats.Omnibus | None = None  # does any setting differ at all?
    main_effects: tuple[an.MainEffect, ...] = ()
    factorial: stats.Factorial | None = None  # tests of the factors and interactions
    paired: tuple[an.PairedDiff, ...] = ()
    baselines: tuple[an.Baseline, ...] = ()
    divergence: tuple[an.Divergence, ...] = ()
    sequential: SequentialReport | None = None  # claims decided by a sequential run
    targets: tuple = ()  # stats.TargetRow per target and setting (Kaplan-Meier numbers)
    bands: tuple = ()  # (curve, setting key, stats.CurveBand): both bands of mean curves
    suite: stats.Suite | None = None  # across the strata of a study with strata
    shown_config: Mapping[str, Any] = field(default_factory=dict, metadata=_NO_JSON)
    runs_csv: str = field(default="", metadata=_NO_JSON)

    def setting(self, key: str) -> SettingReport:
        return next(s for s in self.settings if s.key == key)

    @property
    def tied(self) -> tuple[str, ...]:
        """Keys of the best setting and of those not significantly worse."""
        if self.ranking is None:
            return ()
        return tuple(r.key for r in self.ranking.ranks if r.tied_with_best)


@dataclass(frozen=True)
class SequentialReport:
    """A study run with ``--until-decided``: its look schedule, the looks taken and the
    claims' sequential verdicts (jaxstab.stats.SequentialVerdict, each with its path)."""

    schedule: tuple[int, ...]
    looks: int
    verdicts: tuple


@dataclass(frozen=True)
class IndexEntry:
    name: str
    slug: str
    description: str
    seeds: int
    runs: int
    date: str
    verdicts: tuple[tuple[str, str], ...]  # (claim, status)
    settings: int = 0
    best: str = ""  # the best setting by the main metric's mean, "" when not ranked
    best_mean: float = math.nan
    tied: int = 0  # settings tied with the best, the best not counted
    metric: str = ""
    claims: int = 0  # claims the study states (judged or not)
    across: tuple[tuple[str, str], ...] = ()  # (claim, status) across strata: shown first


@dataclass(frozen=True)
class IndexReport:
    store: str
    generated: str
    studies: tuple[IndexEntry, ...]


def timestamp(t: float | datetime | None) -> str:
    if t is None:
        return "unknown"
    when = t if isinstance(t, datetime) else datetime.fromtimestamp(t, UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def slugs(names: list[str]) -> dict[str, str]:
    """File stem per study: ``/`` becomes ``-`` (``article/example1`` ->
    ``article-example1``); any other character outside [A-Za-z0-9._-] becomes ``_`` so
    that a name never makes a path, markup or a shell word; clashes get a suffix."""
    out: dict[str, str] = {}
    for name in sorted(names):
        # no leading `.` (a hidden file) or `-` (read as an option by shell tools)
        stem = re.sub(r"[^A-Za-z0-9._-]", "_", name.replace("/", "-")).lstrip(".-") \
            or "study"
        if stem.lower() == "index":
            stem = "study-index"
        base, k = stem, 2
        while stem.lower() in {s.lower() for s in out.values()}:
            stem, k = f"{base}-{k}", k + 1
        out[name] = stem
    return out


def _summaries(s, metrics: tuple[str, ...], main: str = "",
               known: stats.Summary | None = None) -> dict[str, stats.Summary | None]:
    """The summaries of ``metrics``; the main metric's as stats.analyze made it."""
    out: dict[str, stats.Summary | None] = {}
    for m in metrics:
        if m == main and known is not None:
            out[m] = known
            continue
        x = s.metrics.get(m)
        if x is None or len(x) < 2:
            out[m] = None
            continue
        out[m] = stats.summarize(x, diverged=s.diverged, rng=RNG_SEED)
    return out


def _means(s, metrics: tuple[str, ...]) -> dict[str, stats.Interval | None]:
    out: dict[str, stats.Interval | None] = {}
    diverged = np.asarray(s.diverged, bool)
    for m in metrics:
        x = np.asarray(s.metrics.get(m, ()), float)
        x = x[~diverged[:x.size] & np.isfinite(x)] if x.size == diverged.size else x[:0]
        out[m] = stats.interval(x, level=0.95, rng=RNG_SEED) if x.size >= 2 else None
    return out


def _setting(s, metrics, others, main, coords, known=None, smoothing=0.0) -> SettingReport:
    values = np.asarray(s.metrics.get(main, np.full(len(s.seeds), np.nan)), float).copy()
    values[np.asarray(s.diverged, bool)] = np.nan
    return SettingReport(
        key=s.key, label=stats.label(s.factors) or "(one setting)", factors=dict(s.factors),
        sources=tuple(s.sources), seeds=tuple(np.asarray(s.seeds, np.int64).tolist()),
        values=tuple(values.tolist()),
        diverged=tuple(np.asarray(s.diverged, bool).tolist()),
        summaries=_summaries(s, metrics, main, known), curves=curves(s, smoothing),
        coords=tuple(coords), others=_means(s, others))


def _search(result) -> SearchReport:
    cfg = result.study.search
    rows = tuple(SearchRow(method, rule, replicates=n, **mean)
                 for method, rule, n, mean in result.means())
    return SearchReport(tuple(cfg.methods), cfg.trials, cfg.seeds, cfg.fresh_seeds,
                        len({p.replicate for p in result.picks}), rows,
                        tuple(result.verdicts(rng=RNG_SEED)))


def build_study(results: StudyResults, slug: str, now: str, search=None,
                sequential=None, smoothing: float = 0.0,
                directions=None) -> StudyReport:
    """``smoothing``: the learning curves' EMA weight (0: none; ``check_smoothing``);
    ``directions``: ``{metric: higher_is_better}`` declared (else guessed by name);
    ``search``: the study's finished search (``jaxstab.search.stored_search``);
    ``sequential``: its sequential run (``jaxstab.sequential.stored``), whose verdicts
    replace the fixed-sample ones (never computed on sequentially collected data);
    ``directions``: ``{metric: higher_is_better}`` declared (else guessed by name)."""
    study = results.study
    main = study.main_metric
    claims = tuple(getattr(study, "claims", ()) or ()) if sequential is None else ()
    recorded = sorted({m for s in results.settings for m in s.metrics} - {"diverged"})
    metrics = tuple([main] + [m for m in recorded if m != main])
    table_metrics = tuple(dict.fromkeys([main] + [c.metric for c in claims
                                                  if c.kind in ("mean", "spread")]))
    ran = [s for s in results.settings if len(s.seeds)]
    notes: list[str] = []
    if len(ran) < len(results.settings):
        notes.append(f"{len(results.settings) - len(ran)} setting(s) have no runs yet")
        results = an.replace_settings(results, ran)
    grid = grid_of(getattr(study, "factors", ()), [dict(s.factors) for s in ran])
    if sequential is not None:
        notes.append("the claims were decided sequentially (above); the rankings and "
                     "comparisons below are fixed-sample tests of settings that got "
                     "different numbers of seeds by that design: read them as exploratory")
    a = an.analysis(results, claims, main, notes, directions) if ran else None
    first = {row.key: row.summary for row in (a.settings if a is not None else ())}
    others = tuple(m for m in metrics if m not in table_metrics)
    settings = tuple(_setting(s, table_metrics, others, main, co, first.get(s.key),
                              smoothing)
                     for s, co in zip(ran, grid.coords))
    labels = {s.key: s.label for s in settings}
    verdicts = tuple(a.verdicts) if a is not None else ()
    ranking = a.ranking if a is not None else None
    # The matrix of the main metric's means (and spreads, when a claim is about them)
    # for 3 to 8 settings: two settings are one comparison (the ranking shows it), more
    # than eight an unreadable matrix; a claim on another metric is its verdict.
    means = a.pairwise if a is not None and 3 <= len(ran) <= an.MAX_PAIRWISE else None
    spread = an.spread_matrix(results, main, claims, notes)
    pairs = tuple(pw for pw in (means, spread) if pw is not None)
    paired = any(v.paired for v in verdicts)
    kinds = {v.kind for v in verdicts}
    n_eval = an.evaluation_sizes(study, main)
    sizes = {n for n in n_eval.values() if n}
    main_summaries = {s.key: s.summaries.get(main) for s in settings}
    finished = [c["finished"] for c in results.chunks]
    return StudyReport(
        name=study.name, slug=slug, fingerprint=results.fingerprint,
        description=getattr(study, "description", ""), question=getattr(study, "question", ""),
        main_metric=main, metrics=metrics, table_metrics=table_metrics, settings=settings,
        verdicts=verdicts, pairwise=pairs,
        seeds_needed=seeds_needed(verdicts, kinds, paired),
        variance=an.variance(results, main, sizes.pop() if len(sizes) == 1 else None,
                             notes) if ran else (),
        environment=environment(results),
        seeds=max((s.n_runs for s in settings), default=0),
        runs=sum(s.n_runs for s in settings), diverged=sum(s.n_diverged for s in settings),
        wall_seconds=float(sum(c["seconds"] for c in results.chunks)),
        chunks=len(results.chunks), date=timestamp(max(finished) if finished else None),
        config=study.to_dict(), notes=tuple(dict.fromkeys(notes)), generated=now,
        search=None if search is None else an.attempt(notes, "search",
                                                      lambda: _search(search), None),
        grid=grid, higher_is_better=a.higher_is_better if a is not None
        else an.higher_is_better(main), ranking=ranking,
        omnibus=a.omnibus if a is not None else None,
        main_effects=an.main_effects(results, grid, main) if ran else (),
        factorial=a.factorial if a is not None else None,
        paired=an.paired_differences(results, verdicts, ranking,
                                     a.pairwise if a is not None else None, labels, main),
        baselines=an.baselines(a, results, main_summaries, n_eval, main),
        divergence=an.divergence(a, results), shown_config=study.tasked.shown(study),
        sequential=None if sequential is None else SequentialReport(
            tuple(sequential.schedule), sequential.looks, tuple(sequential.verdicts)),
        targets=a.targets if a is not None else (),
        bands=an.curve_bands(results, study, claims, notes) if ran else (),
        suite=a.suite if a is not None else None,
        runs_csv=runs_csv(results))


def index_entry(r: StudyReport) -> IndexEntry:
    best = r.ranking.ranks[0] if r.ranking is not None and r.ranking.ranks else None
    return IndexEntry(
        r.name, r.slug, r.description, r.seeds, r.runs, r.date,
        tuple((v.claim, v.status) for v in r.verdicts
              + (r.sequential.verdicts if r.sequential else ())
              + (r.search.verdicts if r.search else ())),
        settings=len(r.settings), best=r.setting(best.key).label if best else "",
        best_mean=best.value if best else math.nan,
        tied=max(len(r.tied) - 1, 0), metric=r.main_metric,
        claims=len(r.config.get("claims") or ()),
        across=tuple((v.claim, v.status) for v in (r.suite.verdicts if r.suite else ())))


def study_report(store: BaseStore, name: str, fingerprint: str, slug: str,
                 generated: str, smoothing: float = 0.0,
                 lower_is_better=()) -> StudyReport:
    """One study of the store, read and built (the unit a report worker does)."""
    from jaxstab.reading import directions, read

    with warnings.catch_warnings():
        # scipy warns about near-constant samples (every seed at one accuracy); the
        # statistics say so in their notes, and the warning would only be terminal noise.
        warnings.filterwarnings("ignore", category=RuntimeWarning, module="scipy")
        got = read(store, fingerprint)
        return build_study(got.results, slug, generated, got.search, got.sequential,
                           smoothing,
                           directions(got.results.study, list(lower_is_better)))


def plan(store: BaseStore) -> list[tuple[str, str, str]]:
    """(name, fingerprint, slug) of every study (the newest version of each name)."""
    latest = {name: fp for name, fp, _ in store.studies()}  # newest of a name is last
    names = slugs(list(latest))
    return [(n, latest[n], names[n]) for n in sorted(latest)]


def build(store: BaseStore, now: datetime | None = None) -> tuple[IndexReport, list[StudyReport]]:
    """Every study of the store (the newest version of each name), and the index."""
    generated = timestamp(now or datetime.now(UTC))
    reports = [study_report(store, n, fp, slug, generated) for n, fp, slug in plan(store)]
    return IndexReport(store.name, generated,
                       tuple(index_entry(r) for r in reports)), reports


def check_smoothing(weight) -> float:
    """The curves' smoothing weight, as TensorBoard's slider: 0 (none) up to below 1."""
    ok = isinstance(weight, (int, float)) and not isinstance(weight, bool)
    if not ok or not 0.0 <= weight < 1.0:
        raise UserError(f"--smoothing: {weight!r} is out of range, allowed 0 (no "
                        f"smoothing) up to but not including 1")
    return float(weight)
