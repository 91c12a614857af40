"""Sequential verdicts (``jaxstab run --until-decided``): seeds in rounds, every claim
tested at each look with group-sequential boundaries (jaxstab.stats._groupseq) so that
its type-I error stays at or below alpha under exactly this stopping rule."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from jaxstab.errors import UserError
from jaxstab.stats import _check, _groupseq, _study
from jaxstab.stats._base import Record
from jaxstab.stats._multiple import CORRECTIONS
from jaxstab.stats import _targets
from jaxstab.stats._verdicts import QUANTITY, _check_claim, claim_groups

MIN_FIRST = 8  # seeds per setting at the first look: a t test on fewer is mostly noise


def look_schedule(first: int, max_seeds: int) -> tuple[int, ...]:
    """Seeds per setting at each look: ``first``, doubling, and ``max_seeds`` last (a
    last step of less than 1.5x is merged into it: 16, 32, 70 rather than 16, 32, 64,
    70). At a look of n seeds the seed indices 0..n-1 count, as in a fixed design."""
    ok = isinstance(first, (int, np.integer)) and not isinstance(first, bool)
    if not ok or first < MIN_FIRST:
        raise UserError(f"--seeds: a sequential run needs at least {MIN_FIRST} seeds per "
                        f"setting at its first look, got {first!r}")
    ok = isinstance(max_seeds, (int, np.integer)) and not isinstance(max_seeds, bool)
    if not ok or max_seeds < first:
        raise UserError(f"--max-seeds: must be an integer at least the first look's "
                        f"{first} seeds (--seeds), got {max_seeds!r}")
    looks = [int(first)]
    while 2 * looks[-1] < max_seeds:
        looks.append(2 * looks[-1])
    if looks[-1] != max_seeds:
        if len(looks) > 1 and max_seeds < 1.5 * looks[-1]:
            looks[-1] = int(max_seeds)
        else:
            looks.append(int(max_seeds))
    return tuple(looks)


def _float(x: Any) -> float:
    return float("nan") if x is None else float(x)


@dataclass(frozen=True)
class Look(Record):
    """One claim at one look (``look``: index into the schedule, 0 first).

    ``statistic``: the test's z (its t mapped to the normal scale through the t's own
    tail), positive in the claim's direction; for a two-sided claim the signed z of
    A - B. ``holds`` when statistic >= ``efficacy`` (two-sided: |statistic|);
    ``refuted`` when statistic <= ``refute`` (-efficacy; NaN for two-sided claims);
    ``futile`` when |statistic| < ``futility`` (NaN where the rule does not apply).
    ``alpha``: the claim's level at this look after the multiplicity correction.
    ``estimate``: A - B, of means or of mean |x - median| (spread)."""

    look: int
    seeds: int
    n_a: int
    n_b: int
    paired: bool
    test: str
    statistic: float
    efficacy: float
    refute: float
    futility: float
    alpha: float
    decision: str
    estimate: float
    note: str = ""

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> Look:
        floats = {"statistic", "efficacy", "refute", "futility", "alpha", "estimate"}
        return cls(**{f.name: _float(d.get(f.name)) if f.name in floats else d[f.name]
                      for f in dataclasses.fields(cls) if f.name in d or f.name in floats})


@dataclass(frozen=True)
class SequentialVerdict(Record):
    """A claim's sequential verdict. ``status``: ``holds`` / ``refuted`` (a boundary
    crossed in / against the claimed direction; a two-sided claim is never refuted),
    ``futile`` (stopped: the chance to cross by the last look fell below 10%),
    ``not shown`` (the last look came and nothing crossed), ``untestable`` (stopped:
    too few finished runs at a look, e.g. a setting that diverges at every seed; the
    note says which), ``undecided`` (looks
    remain: train ``settings_needed`` to ``next_seeds`` seeds). ``looks``: the path up
    to the deciding (or latest) look; ``seeds_used``: seeds per setting at that look.
    ``alpha``: the study's level; each look carries the claim's corrected level."""

    claim: str
    metric: str
    kind: str
    direction: str
    status: str
    looks: tuple[Look, ...]
    seeds_used: int
    setting_a: str
    setting_b: str
    correction: str
    alpha: float
    statement: str
    settings_needed: tuple[str, ...]
    paired: bool = False
    test: str = ""
    next_seeds: int = 0
    max_seeds: int = 0
    n_looks: int = 0
    note: str = ""

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> SequentialVerdict:
        names = {f.name for f in dataclasses.fields(cls)}
        kw = {k: v for k, v in d.items() if k in names}
        kw["looks"] = tuple(Look.from_dict(x) for x in d.get("looks", ()))
        kw["settings_needed"] = tuple(d.get("settings_needed", ()))
        kw["alpha"] = _float(d.get("alpha"))
        return cls(**kw)


def _check_schedule(schedule: Any, upto: Any) -> tuple[tuple[int, ...], int]:
    try:
        sched = tuple(int(n) for n in schedule)
        exact = all(isinstance(n, (int, np.integer)) and not isinstance(n, bool)
                    for n in schedule)
    except (TypeError, ValueError):
        sched, exact = (), False
    if not sched or not exact or sched[0] < MIN_FIRST or any(
            b <= a for a, b in zip(sched, sched[1:])):
        raise UserError(f"schedule: need increasing integer seed counts, the first at "
                        f"least {MIN_FIRST} (see look_schedule), got {schedule!r}")
    if isinstance(upto, bool) or not isinstance(upto, (int, np.integer)) or \
            not 0 <= upto < len(sched):
        raise UserError(f"upto: must be a look index from 0 to {len(sched) - 1}, "
                        f"got {upto!r}")
    return sched, int(upto)


def _first(g: _study.Group, n: int) -> np.ndarray | None:
    """Values of seed indices 0..n-1 in seed order, or None while some are not run."""
    sel = g.seeds < n
    if int(sel.sum()) != n or not np.all(g.seeds[sel] >= 0):
        return None
    return g.values[sel][np.argsort(g.seeds[sel])]


def _divergence_note(x, y, ga, gb, paired: bool) -> str:
    if paired:
        broken = int((np.isfinite(x) != np.isfinite(y)).sum())
        both = int((~np.isfinite(x) & ~np.isfinite(y)).sum())
        parts = [f"{broken} pair(s) dropped because one side diverged"] if broken else []
        if both:
            parts.append(f"{both} pair(s) where both diverged")
        return "; ".join(parts)
    div = [f"{int((~np.isfinite(v)).sum())} of {v.size} runs of {g.name}"
           for v, g in ((x, ga), (y, gb)) if (~np.isfinite(v)).any()]
    return f"diverged runs left out: {', '.join(div)}" if div else ""


def _prepare_time(claim: Any, settings: list[Any], sched: tuple[int, ...], upto: int,
                  targets: Sequence[Any]):
    """A time_to_target claim: the log-rank z at each look (``_targets``)."""
    where = _check_claim(claim)
    ga, gb, _ = _targets.claim_groups(claim, settings, targets, where)
    sa, sb = _targets.claim_settings(claim, settings, where)
    target = _targets.find_target(claim, targets, where)
    stats, notes = [], []
    for n in sched[:upto + 1]:
        s = _targets.sequential_stat(claim, sa, sb, target, n)
        if s is None:
            break
        stats.append(s)
        notes.append("")
    return ga, gb, False, stats, notes


def _prepare(claim: Any, settings: list[Any], sched: tuple[int, ...], upto: int,
             targets: Sequence[Any] = ()):
    if getattr(claim, "kind", None) == "time_to_target":
        return _prepare_time(claim, settings, sched, upto, targets)
    if getattr(claim, "kind", None) == "curve":
        raise UserError(f"claim {claim.text!r}: kind `curve` (max-t over steps) is decided "
                        f"in fixed runs only; run the study without --until-decided")
    ga, gb, paired = claim_groups(claim, settings)
    stats, notes = [], []
    for n in sched[:upto + 1]:
        x, y = _first(ga, n), _first(gb, n)
        if x is None or y is None:
            break
        stats.append(_groupseq.statistic(x, y, kind=claim.kind, paired=paired))
        notes.append(_divergence_note(x, y, ga, gb, paired))
    return ga, gb, paired, stats, notes


def _status(code: int, direction: str) -> str:
    if code in (_groupseq.POSITIVE, _groupseq.NEGATIVE):
        positive = code == _groupseq.POSITIVE
        return "holds" if direction == "two-sided" or positive == (direction == "greater") \
            else "refuted"
    return {_groupseq.FUTILE: "futile", _groupseq.NOT_SHOWN: "not shown",
            _groupseq.UNTESTABLE: "untestable"}.get(code, "undecided")


def _statement(claim: Any, status: str, ga, gb, looks: tuple[Look, ...], sched,
               correction: str) -> str:
    q = f"{QUANTITY[claim.kind]} of {claim.metric}"
    K = len(sched)
    if not looks:
        return (f"\"{claim.text}\" is undecided (sequential test): the first look needs "
                f"seeds 0-{sched[0] - 1} of {ga.name} and {gb.name}")
    last = looks[-1]
    where = f"look {last.look + 1} of {K} with {last.seeds} seeds per setting"
    z = f"z = {last.statistic:.3g}"
    level = f"{correction} level {last.alpha:.3g}"
    if status in ("holds", "refuted"):
        word = "holds" if status == "holds" else "is refuted"
        side = "greater" if last.estimate > 0 else "less"
        return (f"\"{claim.text}\" {word} (sequential test, decided at {where}): the {q} "
                f"is significantly {side} for {ga.name} than for {gb.name} ({last.test}, "
                f"{z} beyond the boundary {last.efficacy:.3g} at {level})")
    if status == "futile":
        return (f"\"{claim.text}\" stops for futility (sequential test, at {where}): at "
                f"the current estimate ({last.test}, {z}) it has less than a "
                f"{100 * _groupseq.FUTILITY_POWER:g}% chance to cross the boundary by "
                f"{sched[-1]} seeds")
    if status == "untestable":
        return (f"\"{claim.text}\" is untestable (sequential test, stopped at {where}): "
                f"{last.note or 'too few finished runs'}; more seeds are not trained for it")
    if status == "not shown":
        looks_word = f"all {K} looks" if K > 1 else "its one look"
        return (f"\"{claim.text}\" is not shown (sequential test, {looks_word} up to "
                f"{last.seeds} seeds per setting): {last.test} {z} did not cross the "
                f"boundary {last.efficacy:.3g} at {level}")
    return (f"\"{claim.text}\" is undecided after {where} (sequential test): {last.test} "
            f"{z} has not crossed the boundary {last.efficacy:.3g} at {level}; next look "
            f"at {sched[last.look + 1]} seeds")


def _verdict(claim, prep, code: int, dec, i: int, sched, alpha, correction) -> SequentialVerdict:
    ga, gb, paired, stats, notes = prep
    status = _status(code, claim.direction)
    decided_at = int(dec.look[0, i])
    end = decided_at if decided_at >= 0 else len(stats) - 1
    sign = -1.0 if claim.direction == "less" else 1.0
    looks = []
    for k in range(end + 1):
        s, lev = stats[k], int(dec.level[0, i, k])
        c, f = float(dec.efficacy[lev, k]), float(dec.futility[lev, k])
        looks.append(Look(
            look=k, seeds=sched[k], n_a=s.n_a, n_b=s.n_b, paired=paired, test=s.test,
            statistic=sign * s.z, efficacy=c,
            refute=float("nan") if claim.direction == "two-sided" else -c,
            futility=f if f > 0 else float("nan"), alpha=dec.levels[lev],
            decision=(status if k == decided_at else "continue"), estimate=s.estimate,
            note="; ".join(n for n in (s.note, notes[k]) if n)))
    looks = tuple(looks)
    undecided = status == "undecided"
    nxt = sched[end + 1] if undecided and end + 1 < len(sched) else 0
    return SequentialVerdict(
        claim=claim.text, metric=claim.metric, kind=claim.kind, direction=claim.direction,
        status=status, looks=looks, seeds_used=looks[-1].seeds if looks else 0,
        setting_a=ga.key, setting_b=gb.key, correction=correction, alpha=alpha,
        statement=_statement(claim, status, ga, gb, looks, sched, correction.split()[0]),
        settings_needed=(ga.key, gb.key) if undecided else (), paired=paired,
        test=looks[-1].test if looks else "", next_seeds=nxt, max_seeds=sched[-1],
        n_looks=len(sched), note=looks[-1].note if looks else "")


def sequential_verdicts(settings: Any, claims: Sequence[Any], *, schedule: Sequence[int],
                        upto: int, alpha: float = 0.05, correction: str = "holm",
                        targets: Sequence[Any] | None = None) -> list[SequentialVerdict]:
    """Judge each claim sequentially over looks 0..``upto`` of ``schedule`` (seeds per
    setting at each look, e.g. ``look_schedule(16, 512)``).

    ``settings``: study results (``.settings``) or the list of per-setting results,
    as ``verdicts`` reads them. At look k only seed indices < schedule[k] count (NaN
    values, diverged runs, are left out; a pair is dropped when either side
    diverged); a claim whose settings lack some of those seeds stops there, undecided,
    and names the settings to train. Each claim is a two-sided group-sequential test
    at its level (boundaries spend alpha equally at every doubling of the seeds, half
    on each side, so a directional claim holds by chance with probability at most
    alpha / 2, as with ``verdicts``); ``correction="holm"``: sequential Holm (Maurer
    and Bretz 2013): a claim that holds or is refuted passes its level on to the
    claims still open; time_to_target claims use the log-rank z (``targets``: default
    the study's); ``"bonferroni"``: alpha / m throughout; ``"fdr_bh"``: Holm
    (it controls the familywise error, hence the FDR; the correction field says so).
    A decided claim keeps the verdict of its deciding look whatever its settings run
    later. Pure: the same data and schedule give the same verdicts, so a resumed run
    reaches the same look."""
    sched, upto = _check_schedule(schedule, upto)
    alpha = _check.level(alpha, "alpha")
    _check.choice(correction, "correction", CORRECTIONS)
    claims = list(claims)
    if not claims:
        return []
    if not hasattr(settings, "settings"):
        if isinstance(settings, (str, bytes)) or not isinstance(settings, Sequence):
            raise UserError(f"settings: need study results or a list of settings, got "
                            f"{type(settings).__name__}")
        settings = _study.SimpleResults(list(settings))
    if targets is None:
        targets = getattr(getattr(settings, "study", None), "targets", ())
    found = _study.settings_of(settings, "settings")
    preps = [_prepare(c, found, sched, upto, targets) for c in claims]
    m, K = len(claims), len(sched)
    z = np.full((1, m, K), np.nan)
    ready = np.zeros((1, m, K), bool)
    for i, (_, _, _, stats, _) in enumerate(preps):
        z[0, i, :len(stats)] = [s.z for s in stats]
        ready[0, i, :len(stats)] = True
    used = "bonferroni" if correction == "bonferroni" else "holm"
    dec = _groupseq.decide(z, ready, schedule=sched, alpha=alpha, correction=used)
    label = "holm (in place of fdr_bh: no sequential FDR procedure)" \
        if correction == "fdr_bh" else used
    return [_verdict(c, p, int(dec.code[0, i]), dec, i, sched, alpha, label)
            for i, (c, p) in enumerate(zip(claims, preps, strict=True))]


def seeds_to_run(verdicts: Sequence[SequentialVerdict]) -> dict[str, int]:
    """Setting key -> seeds per setting the next round needs (the largest any undecided
    claim on it asks for); settings no undecided claim needs are absent."""
    out: dict[str, int] = {}
    for v in verdicts:
        for key in v.settings_needed:
            out[key] = max(out.get(key, 0), v.next_seeds)
    return out

