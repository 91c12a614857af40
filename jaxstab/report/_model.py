"""The report's data: plain frozen dataclasses built from the store and jaxstab.stats.

Nothing here renders, and nothing here computes a statistic of its own: summaries,
comparisons, verdicts, seeds needed and variance by source all come from jaxstab.stats.
The one exception is the learning-curve band (median and quartiles per epoch), a plot
of the data that jaxstab.stats has no function for.
"""

from __future__ import annotations

import dataclasses
import math
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from jaxstab import stats
from jaxstab.errors import UserError
from jaxstab.search import stored_search
from jaxstab.store import Store, StudyResults

# The seeds-needed curve is drawn over these standardized effects / std ratios.
EFFECT_GRID = tuple(float(x) for x in np.round(np.geomspace(0.1, 3.0, 36), 4))
RATIO_GRID = tuple(float(x) for x in np.round(np.geomspace(1.1, 4.0, 30), 4))
RNG_SEED = 0  # every resampling in a report uses this seed: same store, same page
_ENV_ORDER = ("jaxstab", "jax", "jaxlib", "flax", "optax", "numpy", "python", "backend",
              "device", "device_count", "process_count", "platform", "machine", "commit",
              "matmul_precision", "enable_x64", "xla_flags")


@dataclass(frozen=True)
class Curve:
    """Median and quartiles over seeds of one learning curve, per epoch."""

    name: str
    median: tuple[float, ...]
    q25: tuple[float, ...]
    q75: tuple[float, ...]


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

    @property
    def n_runs(self) -> int:
        return len(self.seeds)

    @property
    def n_diverged(self) -> int:
        return sum(self.diverged)


@dataclass(frozen=True)
class SeedsNeeded:
    """Seeds per setting against effect size, from stats.seeds_needed, and the claims'
    observed effects placed on the curve."""

    kind: str  # "mean" (Hedges' g) or "spread" (std ratio)
    alpha: float
    power: float
    paired: bool
    effects: tuple[float, ...]
    seeds: tuple[int | None, ...]
    observed: tuple[tuple[str, float, int | None], ...]  # (claim, |effect|, seeds)


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
    metrics: tuple[str, ...]  # summarized metrics, the main one first
    table_metrics: tuple[str, ...]  # the main metric and the claims' metrics
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


@dataclass(frozen=True)
class IndexEntry:
    name: str
    slug: str
    description: str
    seeds: int
    runs: int
    date: str
    verdicts: tuple[tuple[str, str], ...]  # (claim, status)


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


def label(factors: Mapping[str, Any]) -> str:
    def show(v: Any) -> str:
        return "+".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)
    return ", ".join(f"{k}={show(v)}" for k, v in factors.items()) or "(one setting)"


def slugs(names: list[str]) -> dict[str, str]:
    """File stem per study: ``/`` becomes ``-`` (``article/example1`` ->
    ``article-example1``); any other character outside [A-Za-z0-9._-] becomes ``_`` so
    that a name never makes a path, markup or a shell word; clashes get a suffix."""
    out: dict[str, str] = {}
    for name in sorted(names):
        stem = re.sub(r"[^A-Za-z0-9._-]", "_", name.replace("/", "-")).lstrip(".") or "study"
        if stem.lower() == "index":
            stem = "study-index"
        base, k = stem, 2
        while stem.lower() in {s.lower() for s in out.values()}:
            stem, k = f"{base}-{k}", k + 1
        out[name] = stem
    return out


def _summaries(s, metrics: tuple[str, ...]) -> dict[str, stats.Summary | None]:
    out: dict[str, stats.Summary | None] = {}
    for m in metrics:
        x = s.metrics.get(m)
        if x is None or len(x) < 2:
            out[m] = None
            continue
        out[m] = stats.summarize(x, diverged=s.diverged, rng=RNG_SEED)
    return out


def _curves(s) -> tuple[Curve, ...]:
    out = []
    for name in sorted(s.curves, key=lambda n: (n != "loss", n)):
        c = np.asarray(s.curves[name], float)
        if c.ndim != 2 or c.shape[0] == 0:
            continue
        with warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")  # an epoch where every run diverged: NaN
            q25, med, q75 = np.nanquantile(c, [0.25, 0.5, 0.75], axis=0)
        out.append(Curve(name, *(tuple(float(v) for v in q) for q in (med, q25, q75))))
    return tuple(out)


def _setting(s, metrics, main) -> SettingReport:
    values = np.asarray(s.metrics.get(main, np.full(len(s.seeds), np.nan)), float).copy()
    values[np.asarray(s.diverged, bool)] = np.nan
    return SettingReport(
        key=s.key, label=label(s.factors), factors=dict(s.factors),
        sources=tuple(s.sources), seeds=tuple(int(k) for k in s.seeds),
        values=tuple(float(v) for v in values), diverged=tuple(bool(d) for d in s.diverged),
        summaries=_summaries(s, metrics), curves=_curves(s))


def _try(notes: list[str], what: str, fn, default):
    try:
        return fn()
    except UserError as err:
        notes.append(f"{what}: {err}")
        return default


def _seeds_needed(verdicts, kinds: set[str], paired: bool) -> tuple[SeedsNeeded, ...]:
    m = max(len(verdicts), 1)
    alpha, power = 0.05 / m, 0.8  # the level verdicts sizes inconclusive claims at
    out = []
    for kind in ("mean", "spread"):
        if kind not in kinds:
            continue
        observed = []
        for v in verdicts:
            if v.kind != kind or not math.isfinite(v.effect.point) or (
                    kind == "spread" and v.effect.point <= 0):
                continue
            x = abs(v.effect.point) if kind == "mean" else max(v.effect.point,
                                                                1 / v.effect.point)
            try:
                n = (stats.seeds_needed(effect_size=x, paired=v.paired, alpha=alpha,
                                        power=power) if kind == "mean"
                     else stats.seeds_needed(std_ratio=x, alpha=alpha, power=power))
            except UserError:
                n = None  # no observed effect: no number of seeds detects it
            observed.append((v.claim, float(x), n))
        grid = EFFECT_GRID if kind == "mean" else RATIO_GRID
        top = max((x for _, x, _ in observed), default=0.0) * 1.15
        if top > grid[-1]:  # reach the largest observed effect
            grid += tuple(float(x) for x in np.round(np.geomspace(grid[-1], top, 8)[1:], 4))
        if kind == "mean":
            curve = [stats.seeds_needed(effect_size=g, paired=paired, alpha=alpha,
                                        power=power) for g in grid]
        else:
            curve = [stats.seeds_needed(std_ratio=r, alpha=alpha, power=power) for r in grid]
        out.append(SeedsNeeded(kind, alpha, power, paired, grid, tuple(curve),
                               tuple(observed)))
    return tuple(out)


def _environment(results: StudyResults) -> tuple[tuple[str, str], ...]:
    seen: dict[str, list[str]] = {}
    for chunk in results.chunks:
        for k, v in chunk.get("env", {}).items():
            text = "unknown" if v is None else "(none)" if v == "" else str(v)
            if text not in seen.setdefault(k, []):
                seen[k].append(text)
    keys = [k for k in _ENV_ORDER if k in seen] + sorted(k for k in seen if k not in _ENV_ORDER)
    return tuple((k, "; ".join(seen[k])) for k in keys)


def _search(result) -> SearchReport:
    cfg = result.study.search
    rows = tuple(SearchRow(method, rule, replicates=n, **mean)
                 for method, rule, n, mean in result.means())
    return SearchReport(tuple(cfg.methods), cfg.trials, cfg.seeds, cfg.fresh_seeds,
                        len({p.replicate for p in result.picks}), rows,
                        tuple(result.verdicts(rng=RNG_SEED)))


def build_study(results: StudyResults, slug: str, now: str, search=None) -> StudyReport:
    """``search``: the study's finished search (``jaxstab.search.stored_search``)."""
    study = results.study
    main = study.main_metric
    recorded = sorted({m for s in results.settings for m in s.metrics} - {"diverged"})
    metrics = tuple([main] + [m for m in recorded if m != main])
    claim_metrics = [c.metric for c in study.claims if c.metric != main]
    table_metrics = tuple(dict.fromkeys([main] + claim_metrics))
    ran = [s for s in results.settings if len(s.seeds)]
    settings = tuple(_setting(s, metrics, main) for s in ran)
    notes: list[str] = []
    if len(ran) < len(results.settings):
        notes.append(f"{len(results.settings) - len(ran)} setting(s) have no runs yet")
        results = dataclasses.replace(results, settings=ran)
    verdicts: tuple = ()
    pairs: list[stats.Pairwise] = []
    if len(ran) >= 1:
        verdicts = _try(notes, "verdicts", lambda: stats.verdicts(
            results, study.claims, rng=RNG_SEED), ())
    if len(ran) >= 2:
        wanted = [(main, "mean")] + [(c.metric, c.kind) for c in study.claims]
        for metric, kind in dict.fromkeys(wanted):
            pw = _try(notes, f"pairwise {kind} of {metric}", lambda m=metric, k=kind:
                      stats.pairwise(results, metric=m, metric_kind=k, correction="holm",
                                     rng=RNG_SEED), None)
            if pw is not None:
                pairs.append(pw)
    paired = any(p.comparison.paired for pw in pairs for p in pw.pairs) or any(
        v.paired for v in verdicts)
    kinds = {v.kind for v in verdicts} or ({"mean"} if len(ran) >= 2 else set())
    variance: tuple = ()
    if any(len(s.sources) == 1 for s in ran):
        variance = _try(notes, "variance by source", lambda: stats.variance_by_source(
            results, metric=main), ())
    finished = [c["finished"] for c in results.chunks]
    return StudyReport(
        name=study.name, slug=slug, fingerprint=results.fingerprint,
        description=study.description, question=study.question, main_metric=main,
        metrics=metrics, table_metrics=table_metrics, settings=settings,
        verdicts=tuple(verdicts), pairwise=tuple(pairs),
        seeds_needed=_seeds_needed(verdicts, kinds, paired),
        variance=tuple(variance), environment=_environment(results),
        seeds=max((s.n_runs for s in settings), default=0),
        runs=sum(s.n_runs for s in settings), diverged=sum(s.n_diverged for s in settings),
        wall_seconds=float(sum(c["seconds"] for c in results.chunks)),
        chunks=len(results.chunks), date=timestamp(max(finished) if finished else None),
        config=study.to_dict(), notes=tuple(notes), generated=now,
        search=None if search is None else _try(notes, "search", lambda: _search(search),
                                                None))


def build(store: Store, now: datetime | None = None) -> tuple[IndexReport, list[StudyReport]]:
    """Every study of the store (the newest version of each name), and the index."""
    generated = timestamp(now or datetime.now(UTC))
    latest = {name: fp for name, fp, _ in store.studies()}  # newest of a name is last
    names = slugs(list(latest))
    with warnings.catch_warnings():
        # scipy warns about near-constant samples (every seed at one accuracy); the
        # statistics say so in their notes, and the warning would only be terminal noise.
        warnings.filterwarnings("ignore", category=RuntimeWarning, module="scipy")
        reports = []
        for n in sorted(latest):
            results = store.results(latest[n])
            search = stored_search(store, latest[n], results.study)
            reports.append(build_study(results, names[n], generated, search))
    entries = tuple(IndexEntry(
        r.name, r.slug, r.description, r.seeds, r.runs, r.date,
        tuple((v.claim, v.status) for v in r.verdicts
              + (r.search.verdicts if r.search else ()))) for r in reports)
    return IndexReport(store.path.name, generated, entries), reports


def jsonable(value: Any) -> Any:
    """Plain JSON types; NaN and infinities become null (strict JSON has none)."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [jsonable(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    return value
