"""One entry point for ``jaxstab compare`` and the report: everything about one metric
of a study, and its claims, in one frozen record."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from jaxstab.errors import UserError
from jaxstab.stats import _check, _study
from jaxstab.stats._base import SPREAD_MIN_N, Record
from jaxstab.stats._best import Ranking, VersusControl, compare_to_control, rank_settings
from jaxstab.stats._compare import KINDS
from jaxstab.stats._divergence import DivergenceRate, divergence_rate
from jaxstab.stats._factorial import Factorial, factorial
from jaxstab.stats._multiple import CORRECTIONS, Pairwise, pairwise
from jaxstab.stats._noise import NoiseBaseline, noise_baselines
from jaxstab.stats._omnibus import Omnibus, omnibus
from jaxstab.stats._strata import Suite, split_strata, suite
from jaxstab.stats._summary import Summary, summarize
from jaxstab.stats._targets import TargetRow, target_rows
from jaxstab.stats._text import format_analysis
from jaxstab.stats._variance import SourceVariance, variance_by_source
from jaxstab.stats._verdicts import Verdict, verdicts



@dataclass(frozen=True)
class SettingRow(Record):
    """One setting: its runs, divergence rate (Clopper-Pearson interval), summary of
    the finished runs (None with ``note`` when fewer than 2 finished) and test-noise
    baseline beside the observed std."""

    name: str
    key: str
    factors: dict
    sources: tuple[str, ...]
    n_total: int
    n_finished: int
    divergence: DivergenceRate
    summary: Summary | None
    noise: NoiseBaseline
    compared: bool
    note: str


@dataclass(frozen=True)
class Stratum(Record):
    """The comparisons within one stratum of a study with strata (its settings only:
    ranked, paired and tested among themselves, never against another stratum's)."""

    task: str
    level: float
    alpha: float
    higher_is_better: bool
    pairwise: Pairwise | None
    omnibus: Omnibus | None
    ranking: Ranking | None
    control: VersusControl | None
    factorial: Factorial | None
    notes: tuple[str, ...]


@dataclass(frozen=True)
class Analysis(Record):
    """Everything ``jaxstab compare`` shows for one metric. Settings with too few
    finished runs are listed in ``settings`` with ``compared`` False and left out of
    ``pairwise``, ``omnibus``, ``ranking``, ``control`` and ``factorial`` (see
    ``notes``); claims about them are inconclusive with the counts. Parts that do
    not apply are None with a note in ``notes``. ``to_dict()`` is JSON-ready (no
    NaN: missing numbers are None, every record says why in its note);
    ``format()`` is the text ``jaxstab compare`` prints."""

    study: str
    metric: str
    metric_kind: str
    correction: str
    alpha: float
    level: float
    higher_is_better: bool
    settings: tuple[SettingRow, ...]
    pairwise: Pairwise | None
    omnibus: Omnibus | None
    ranking: Ranking | None
    control: VersusControl | None
    factorial: Factorial | None
    verdicts: tuple[Verdict, ...]
    notes: tuple[str, ...]
    variance: tuple[SourceVariance, ...] = ()  # by seed source, when settings vary one
    targets: tuple[TargetRow, ...] = ()  # time to each target, per setting
    # "declared" or "guessed" (from the metric's name: stats.guess_direction)
    direction: str = "declared"
    strata: tuple[str, ...] = ()
    by_stratum: tuple[Stratum, ...] = ()
    suite: Suite | None = None

    def to_dict(self) -> dict:
        d = super().to_dict()
        if not self.strata:  # a study without strata keeps its record
            for k in ("strata", "by_stratum", "suite"):
                d.pop(k)
        if self.suite is not None:  # the contract's top-level keys (DESIGN.md)
            s = d["suite"]
            d["aggregates"], d["improvement"] = s["aggregates"], s["improvement"]
            d["across_task_tests"] = s["tests"]
        return d

    def format(self, *, max_pairs: int = 15) -> str:
        """The text ``jaxstab compare`` prints; pairs beyond ``max_pairs`` are counted
        and only the significant ones shown (all are in ``to_dict()``)."""
        return format_analysis(self, max_pairs=max_pairs)


def _pick_metric(results: Any, metric: Any, claims: Sequence[Any]) -> str:
    if metric is not None:
        if not isinstance(metric, str):
            raise UserError(f"metric: must be a metric name, got {metric!r}")
        return metric
    study = getattr(results, "study", None)
    main = getattr(study, "main_metric", None)
    if isinstance(main, str):
        return main
    names = list(dict.fromkeys(m for s in results.settings for m in s.metrics))
    if len(names) == 1:
        return names[0]
    if claims:
        return claims[0].metric
    raise UserError(f"metric: required: the results record {', '.join(names) or 'none'}")


def _check_options(results, claims, metric, metric_kind, correction, alpha, level,
                   higher_is_better, control) -> tuple:
    _study.settings_of(results)
    claims = list(claims or ())
    metric = _pick_metric(results, metric, claims)
    _check.choice(metric_kind, "metric_kind", KINDS)
    _check.choice(correction, "correction", CORRECTIONS)
    alpha, level = _check.level(alpha, "alpha"), _check.level(level)
    if higher_is_better is not None and not isinstance(higher_is_better, bool):
        raise UserError(f"higher_is_better: must be True, False or None, got "
                        f"{higher_is_better!r}")
    if control is not None and not isinstance(control, Mapping):
        raise UserError(f"control: need a dict of factor values, got "
                        f"{type(control).__name__}")
    return claims, metric, alpha, level


def _rows(settings, metric, level, gen, min_n) -> tuple[list[SettingRow], list[Any]]:
    noise = {n.key: n for n in noise_baselines(_study.SimpleResults(settings))}
    rows, usable = [], []
    for s in settings:
        g = _study.group(s, metric)
        flags = ~np.isfinite(g.values)
        summary, note = None, ""
        if g.n_finished >= 2:
            summary = summarize(g.values, diverged=flags, level=level, rng=gen)
        else:
            note = f"{g.runs()}: no statistics"
        compared = g.n_finished >= min_n
        if not compared and g.n_finished >= 2:
            note = f"{g.runs()}: {min_n} needed to compare spreads"
        rows.append(SettingRow(g.name, s.key, dict(s.factors), tuple(s.sources), g.n_total,
                               g.n_finished, divergence_rate(flags, level=level), summary,
                               noise[s.key], compared, note))
        if compared:
            usable.append(s)
    return rows, usable


def analyze(results: Any, claims: Sequence[Any] = (), *, metric: str | None = None,
            metric_kind: str = "mean", correction: str = "holm", control: Any = None,
            rng: Any = None, alpha: float = 0.05, level: float = 0.95,
            power: float = 0.8, higher_is_better: bool | None = None,
            n_resamples: int = 9999, targets: Any = None, strata: Sequence[str] = (),
            directions: Mapping[str, bool] | None = None) -> Analysis:
    """Analyze ``metric`` (default: the study's main metric) of study ``results`` and
    judge ``claims``: per-setting summaries, divergence and test-noise baselines; every
    pair (``pairwise``, corrected over all pairs); the omnibus test; the ranking with
    the set tied with the best (corrected over all ordered pairs); each setting against
    ``control`` (factor values; corrected over k - 1); for grids of two or more
    factors, main effects and interactions (Freedman-Lane permutation); verdicts; per
    ``targets`` (default: the study's), each setting's time to target.
    ``rng`` seeds every resampling (None: fixed), so the record is reproducible.
    ``strata``: factors whose values are tasks; everything that compares settings does
    so within each stratum (``by_stratum``) and ``suite`` holds the aggregates across
    them; a claim whose sides leave the strata out is judged there. ``directions``:
    declared ``{metric: higher_is_better}``; ``higher_is_better`` overrides it for
    ``metric``; an undeclared direction is guessed from the name (``direction``).
    """
    claims, metric, alpha, level = _check_options(
        results, claims, metric, metric_kind, correction, alpha, level, higher_is_better,
        control)
    gen = _check.rng(rng)
    settings = _study.settings_of(results)
    min_n = SPREAD_MIN_N if metric_kind == "spread" else 2
    rows, usable = _rows(settings, metric, level, gen, min_n)
    notes = []
    left = [r.name for r in rows if not r.compared]
    if left:
        notes.append(f"left out of the comparisons (fewer than {min_n} finished runs): "
                     + "; ".join(left))
    sources_only = selects_sources(settings)
    directions = dict(directions or {})
    guessed = False
    if higher_is_better is None and metric in directions:
        higher_is_better = bool(directions[metric])
    if higher_is_better is None:
        higher_is_better, guessed = _study.higher_is_better(metric), True
        if metric_kind == "mean" and not sources_only:
            notes.append(f"ranking assumes {'higher' if higher_is_better else 'lower'} "
                         f"{metric} is better, guessed from the name (declare it: "
                         f"[metrics] {metric} = \"higher\" or \"lower\", or "
                         f"--lower-is-better {metric})")
    strata = tuple(strata or ())
    opts = dict(metric=metric, metric_kind=metric_kind, correction=correction, alpha=alpha,
                level=level, rng=gen, n_resamples=n_resamples, min_n=min_n,
                higher_is_better=higher_is_better, sources_only=sources_only)
    pw = om = ranking = versus = grid = None
    by_stratum, across, claims_here = (), None, claims
    if not strata:
        pw, om, ranking, versus, grid, more = _comparisons(usable, control, **opts)
        notes += more
    else:
        by_stratum = tuple(_stratum(task, ss, strata, control, **opts)
                           for task, ss in split_strata(usable, strata).items())
        notes.append(f"settings are ranked and compared within each stratum "
                     f"({', '.join(strata)}); across strata only the aggregates speak")
        claims_here = [c for c in claims if not _across(c, strata)]
        across = suite(results, strata, metric=metric, higher_is_better=higher_is_better,
                       guessed=guessed, claims=[c for c in claims if _across(c, strata)],
                       alpha=alpha, level=level, rng=gen,
                       n_resamples=min(n_resamples, 1999))
    if targets is None:
        targets = getattr(getattr(results, "study", None), "targets", ())
    vs = verdicts(results, claims_here, correction=correction, alpha=alpha, level=level,
                  power=power, rng=gen, n_resamples=n_resamples, targets=targets,
                  strata=strata)
    variance = ()
    if any(len(s.sources) == 1 for s in settings) and len(settings) >= 2:
        variance = variance_by_source(results, metric=metric, level=level)
    name = getattr(getattr(results, "study", None), "name", "") or ""
    return Analysis(name, metric, metric_kind, correction, alpha, level,
                    bool(higher_is_better), tuple(rows), pw, om, ranking, versus, grid,
                    vs, tuple(notes), variance, target_rows(results, targets, level=level),
                    "guessed" if guessed else "declared", strata, by_stratum, across)


def _across(claim: Any, strata: Sequence[str]) -> bool:
    return not any(k in strata for side in (claim.a, claim.b) for k in side)


def _comparisons(usable, control, *, metric, metric_kind, correction, alpha, level, rng,
                 n_resamples, min_n, higher_is_better, sources_only) -> tuple:
    notes = []
    sub = _study.SimpleResults(usable)
    opts = dict(metric=metric, metric_kind=metric_kind, level=level, rng=rng,
                n_resamples=n_resamples)
    pw = om = ranking = versus = grid = None
    if sources_only:
        notes.append("no ranking: the factor `vary` only selects which seed sources vary "
                     "(a way to measure, not a setting to pick); see the variance by "
                     "source")
    if len(usable) >= 2:
        pw = pairwise(sub, correction=correction, **opts)
        known = {(p.a_key, p.b_key): p.comparison for p in pw.pairs}
        if not sources_only:
            ranking = rank_settings(sub, higher_is_better=higher_is_better,
                                    correction=correction, alpha=alpha, pairs=known,
                                    **opts)
        if len(usable) >= 3:
            om = omnibus(sub, metric=metric, metric_kind=metric_kind)
        if control is not None:
            versus = compare_to_control(sub, control, correction=correction, alpha=alpha,
                                        pairs=known, **opts)
        grid = factorial(sub, metric=metric, metric_kind=metric_kind,
                         correction=correction, rng=rng)
    else:
        notes.append(f"fewer than 2 settings with {min_n} finished runs: no comparisons")
    if control is not None and versus is None:
        notes.append("control: not compared (too few settings with finished runs)")
    return pw, om, ranking, versus, grid, notes


def _stratum(task, settings, strata, control, **opts) -> Stratum:
    """The comparisons of one stratum; ``control`` names the treatment (its strata
    values, if given, pick the strata it applies to)."""
    here = dict(settings[0].factors)
    if control is not None:
        if any(k in strata and not _study.matches({k: here[k]}, {k: v})
               for k, v in control.items()):
            control = None
        else:
            control = {**control, **{k: here[k] for k in strata}}
    pw, om, ranking, versus, grid, notes = _comparisons(settings, control, **opts)
    return Stratum(task, opts["level"], opts["alpha"], bool(opts["higher_is_better"]), pw,
                   om, ranking, versus, grid, tuple(notes))


def selects_sources(settings) -> bool:
    """Whether the settings have a factor ``vary`` with several values: a seed-source
    study, whose settings differ in what is measured, not in how to train."""
    values = {str(getattr(s, "factors", {}).get("vary")) for s in settings
              if "vary" in (getattr(s, "factors", None) or {})}
    return len(values) >= 2
