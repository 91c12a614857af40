"""The end-of-run summary: per setting the main metric's mean and std over seeds, each
with its 95% interval, and which setting is best and which are tied with it."""

from __future__ import annotations

import dataclasses
import math
import warnings

import numpy as np

from jaxstab.store import StudyResults


def _first(results: StudyResults, seeds: int) -> StudyResults:
    """The runs with a seed index below ``seeds`` (the ones this command asked for)."""
    out = []
    for s in results.settings:
        keep = np.asarray(s.seeds) < seeds
        out.append(dataclasses.replace(
            s, seeds=np.asarray(s.seeds)[keep],
            metrics={k: np.asarray(v)[keep] for k, v in s.metrics.items()},
            diverged=np.asarray(s.diverged)[keep],
            diverged_step=np.asarray(s.diverged_step)[keep],
            curves={}))
    return dataclasses.replace(results, settings=out)


def _direction(study, metric: str) -> bool:
    """The study's declared direction of ``metric``, else the guess from its name."""
    from jaxstab import stats

    declared = study.higher_is_better(metric) if hasattr(study, "higher_is_better") \
        else None
    return stats.higher_is_better(metric) if declared is None else declared


def _rankings(results: StudyResults, metric: str) -> list:
    """``[(stratum label, ranking)]``: one ranking, or one per stratum of a study with
    strata (a setting is never called best against another stratum's)."""
    from jaxstab import stats

    strata = getattr(results.study, "strata", ())
    ran = [s for s in results.settings if len(s.seeds)]
    groups = stats.split_strata(ran, strata) if strata else {"": ran}
    out = []
    for task, settings in groups.items():
        rank = _ranking(results, settings, metric)
        if rank is not None:
            out.append((task, rank))
    return out


def _ranking(results: StudyResults, ran: list, metric: str):
    from jaxstab import stats
    from jaxstab.errors import UserError

    if len(ran) < 2 or stats.selects_sources(ran):
        return None  # nothing to rank, or settings that differ only in what varies
    try:
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=RuntimeWarning)
            return stats.rank_settings(dataclasses.replace(results, settings=ran),
                                       metric=metric,
                                       higher_is_better=_direction(results.study,
                                                                   metric),
                                       correction="holm", rng=stats.RNG_SEED,
                                       n_resamples=stats.EXPLORE_RESAMPLES)
    except UserError:
        return None  # a setting with fewer than two finished runs: nothing to rank


def summary_lines(results: StudyResults, seeds: int) -> list[str]:
    from jaxstab.stats import interval, label, std_interval

    metric = results.study.main_metric
    results = _first(results, seeds)
    ranks = _rankings(results, metric)
    marks = {}
    for _, rank in ranks:
        marks.update({r.key: "tied" for r in rank.ranks if r.tied_with_best})
        marks[rank.ranks[0].key] = "best"
    names = {s.key: label(s.factors) or "(one setting)" for s in results.settings}
    width = max([7] + [len(n) for n in names.values()])
    lines = [f"{'setting':{width}s} {'n':>5s} {'div':>4s}  {metric} mean [95% interval]"
             f"    std [95% interval]"]
    for s in results.settings:
        x = np.asarray(s.metrics.get(metric, np.full(len(s.seeds), np.nan)), float)
        x = x[~np.asarray(s.diverged, bool)]
        finite = x[np.isfinite(x)]
        if len(finite) >= 2:
            iv, sd = interval(finite, level=0.95), std_interval(finite, level=0.95)
            text = (f"{iv.point:.4f} [{iv.low:.4f}, {iv.high:.4f}]    "
                    f"{sd.point:.4f} [{sd.low:.4f}, {sd.high:.4f}]")
        elif len(finite) == 1:
            text = f"{finite[0]:.4f} (one run: no interval)"
        else:
            text = "no finite value"
        mark = marks.get(s.key, "")
        lines.append(f"{names[s.key]:{width}s} {len(s.seeds):5d} "
                     f"{int(np.sum(s.diverged)):4d}  {text}" + (f"  {mark}" if mark else ""))
    for task, rank in ranks:
        best = rank.ranks[0]
        tied = sum(r.tied_with_best for r in rank.ranks) - 1
        better = "highest" if rank.ranks[0].value >= rank.ranks[-1].value else "lowest"
        value = f"{best.value:.4f}" if math.isfinite(best.value) else "n/a"
        lines.append(f"best{' in ' + task if task else ''}: {names[best.key]} "
                     f"({better} mean, {value}); "
                     + (f"{tied} other setting{'s' if tied != 1 else ''} tied with it"
                        if tied else "no other setting tied with it")
                     + f" ({rank.correction}-corrected, α = {rank.alpha:g})")
    return lines


def sequential_lines(seq) -> list[str]:
    """A sequential run's outcome: per claim its status, at which look and seeds."""
    looks = ", ".join(str(n) for n in seq.schedule)
    lines = [f"sequential: {seq.looks} of {len(seq.schedule)} looks taken (looks at "
             f"{looks} seeds per setting)"]
    for v in seq.verdicts:
        lines.append(f"  {v.status:9s} {v.claim} ({v.seeds_used} seeds)")
    return lines


def sequential_table(seq) -> list[str]:
    """``compare``'s account of a sequential run: each claim's verdict and its path (the
    statistic against the boundaries at every look)."""
    lines = [f"Sequential verdicts (group-sequential tests after each look; looks at "
             f"{', '.join(str(n) for n in seq.schedule)} seeds per setting, "
             f"{seq.looks} taken). Fixed-sample verdicts are not computed on these data."]
    for v in seq.verdicts:
        lines += ["", v.statement,
                  f"  {'look':>4s} {'seeds':>6s} {'n_a':>5s} {'n_b':>5s} {'statistic':>10s} "
                  f"{'holds at':>9s} {'refuted at':>10s} {'futile below':>12s}  decision"]
        for lk in v.looks:
            lines.append(f"  {lk.look + 1:4d} {lk.seeds:6d} {lk.n_a:5d} {lk.n_b:5d} "
                         f"{_num(lk.statistic):>10s} {_num(lk.efficacy):>9s} "
                         f"{_num(lk.refute):>10s} {_num(lk.futility):>12s}  {lk.decision}")
    return lines


def _num(x) -> str:
    return "-" if x is None or x != x else f"{x:.3f}"
