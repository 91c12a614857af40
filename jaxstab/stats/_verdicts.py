"""Verdicts on a study's claims: holds, refuted or inconclusive."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, NamedTuple

import numpy as np

from jaxstab.errors import UserError
from jaxstab.stats import _check, _study
from jaxstab.stats._base import SPREAD_MIN_N, Record
from jaxstab.stats._compare import KINDS, Comparison
from jaxstab.stats._divergence import DivergenceTest, divergence_test
from jaxstab.stats._effects import Effect
from jaxstab.stats._multiple import CORRECTIONS, adjust_pvalues, compare_groups
from jaxstab.stats._sizing import seeds_for
from jaxstab.stats._targets import CURVE_KINDS
from jaxstab.stats import _targets

DIRECTIONS = ("greater", "less", "two-sided")
QUANTITY = {"mean": "mean", "spread": "spread", "time_to_target": "time to target",
            "curve": "mean curve"}


@dataclass(frozen=True)
class Verdict(Record):
    """A claim's verdict. ``p_value`` is the primary two-sided test's; ``p_adjusted``
    is corrected (``correction``) across the study's testable claims and compared with
    ``alpha``. A claim whose setting has too few finished runs is ``inconclusive``
    with ``comparison`` None, NaN p-values and the counts in ``reason``.

    ``seeds_needed`` (only when inconclusive): seeds per setting to start so that the
    test used detects the observed effect with power 0.8 at alpha / m (m the number of
    claims; the Bonferroni level, conservative for Holm and BH), divergence included,
    and always more than the runs already made; None with the reason in ``reason``.
    ``divergence``: the test of the two settings' divergence rates (its p-value
    corrected across claims in ``divergence_p_adjusted``); ``statement``: one sentence
    in the claim's own words."""

    claim: str
    metric: str
    kind: str
    direction: str
    status: str
    test: str
    p_value: float
    p_adjusted: float
    correction: str
    alpha: float
    effect: Effect
    difference: Effect
    n_a: int
    n_b: int
    n_diverged_a: int
    n_diverged_b: int
    paired: bool
    setting_a: str
    setting_b: str
    seeds_needed: int | None
    comparison: Comparison | None
    note: str
    n_total_a: int = 0
    n_total_b: int = 0
    divergence: DivergenceTest | None = None
    divergence_p_adjusted: float | None = None
    reason: str = ""
    statement: str = ""


def _check_claim(claim: Any) -> str:
    text = getattr(claim, "text", None)
    if not isinstance(text, str):
        raise UserError(f"claims: each claim needs a `text` string, got {claim!r}")
    where = f"claim {text!r}"
    _check.choice(getattr(claim, "kind", None), f"{where}: kind", KINDS + CURVE_KINDS)
    _check.choice(getattr(claim, "direction", None), f"{where}: direction", DIRECTIONS)
    if not isinstance(getattr(claim, "metric", None), str):
        raise UserError(f"{where}: metric must be a string")
    for side in ("a", "b"):
        if not isinstance(getattr(claim, side, None), Mapping):
            raise UserError(f"{where}: {side} must be a mapping of factor values")
    return where


def _check_options(correction: Any, alpha: Any, power: Any) -> tuple[float, float]:
    _check.choice(correction, "correction", CORRECTIONS)
    return _check.level(alpha, "alpha"), _check.level(power, "power")


def _missing(name: str, level: float, why: str) -> Effect:
    nan = float("nan")
    return Effect(name, nan, nan, nan, "", level, why)


def _status(claim: Any, comp: Comparison | None, p_adj: float, alpha: float) -> str:
    if comp is None or not p_adj < alpha or comp.direction == "equal":
        return "inconclusive"
    if claim.direction == "two-sided" or comp.direction == claim.direction:
        return "holds"
    return "refuted"


def _divergence_note(ga, gb, div: DivergenceTest, p_adj: float, alpha: float,
                     correction: str) -> str:
    if div.test == "none":
        return ""
    rates = f"{ga.name}: {div.diverged_a} of {div.n_a} diverged, {gb.name}: " \
            f"{div.diverged_b} of {div.n_b}"
    most = [g.name for g in (ga, gb) if g.n_total and g.n_diverged > g.n_total / 2]
    head = f"most runs of {' and '.join(most)} diverged; " if most else ""
    if p_adj < alpha:
        return (f"{head}divergence rates differ ({rates}; {div.test} p = {div.p_value:.2g}, "
                f"{correction} {p_adj:.2g}): the values compare survivors only")
    return (f"{head}{rates} (rates not significantly different: {div.test} "
            f"p = {div.p_value:.2g}); the values compare finished runs only")


def _statement(claim: Any, status: str, ga, gb, comp: Comparison | None, p_adj: float,
               correction: str, reason: str) -> str:
    q = f"{QUANTITY[claim.kind]} of {claim.metric}"
    if status == "inconclusive":
        return f"\"{claim.text}\" is inconclusive: {reason}"
    p = f"{comp.primary}, {correction}-corrected p = {p_adj:.2g}"
    word = "holds" if status == "holds" else "is refuted"
    if comp.direction == "different":
        return (f"\"{claim.text}\" {word}: the {q} differs significantly between "
                f"{ga.name} and {gb.name} ({p})")
    return (f"\"{claim.text}\" {word}: the {q} is significantly {comp.direction} for "
            f"{ga.name} than for {gb.name} ({p})")


class _Row(NamedTuple):
    claim: Any
    ga: _study.Group
    gb: _study.Group
    paired: bool
    divergence: DivergenceTest
    short: str  # why the claim cannot be tested ("" when it can)
    comparison: Comparison | None


def claim_groups(claim: Any, settings: list[Any]) -> tuple:
    """The claim's two settings as groups of its metric, and whether they pair by seed
    (a claim checked, each side naming exactly one setting, the two different)."""
    where = _check_claim(claim)
    sa = _study.find(settings, claim.a, f"{where}: a")
    sb = _study.find(settings, claim.b, f"{where}: b")
    if sa is sb:
        raise UserError(f"{where}: a and b select the same setting {sa.key}")
    try:
        ga, gb = _study.group(sa, claim.metric), _study.group(sb, claim.metric)
    except UserError as err:
        raise UserError(f"{where}: {err}") from None
    return ga, gb, _study.can_pair(ga, gb)


def _prepare(claim: Any, settings: list[Any], *, level: float, gen: np.random.Generator,
             n_resamples: int, targets=(), strata=()) -> _Row:
    if claim.kind in CURVE_KINDS:
        where = _check_claim(claim)
        ga, gb, paired = _targets.claim_groups(claim, settings, targets, where, strata)
        fa, fb = _study.aligned(ga, gb) if paired else (ga.values, gb.values)
        div = divergence_test(~np.isfinite(fa), ~np.isfinite(fb), paired=paired)
        short = _targets.shortfall(claim, ga, gb, paired)
        comp = None if short else _targets.claim_test(
            claim, settings, targets, level=level, rng=gen, n_resamples=n_resamples,
            strata=strata, where=where)
        return _Row(claim, ga, gb, paired and claim.kind == "curve", div, short, comp)
    ga, gb, paired = claim_groups(claim, settings)
    fa, fb = _study.aligned(ga, gb) if paired else (ga.values, gb.values)
    div = divergence_test(~np.isfinite(fa), ~np.isfinite(fb), paired=paired)
    short = _study.shortfall(ga, gb, paired=paired, min_n=SPREAD_MIN_N if claim.kind == "spread" else 2)
    comp = None if short else compare_groups(
        ga, gb, metric_kind=claim.kind, alternative="two-sided", paired=paired,
        level=level, rng=gen, n_resamples=n_resamples)
    return _Row(claim, ga, gb, paired, div, short, comp)


def _verdict(row: _Row, p_adj: float, d_adj: float, *, alpha: float, power: float,
             m: int, correction: str, level: float) -> Verdict:
    claim, ga, gb, paired, div, short, comp = row
    status = _status(claim, comp, p_adj, alpha)
    needed, reason = None, short
    if comp is not None and status != "inconclusive":
        reason = f"{correction}-corrected p = {p_adj:.2g} < alpha = {alpha:g}"
    elif comp is not None:
        reason = (f"{correction}-corrected p = {p_adj:.2g} is not below alpha = {alpha:g}"
                  if not p_adj < alpha else "no difference in either direction")
        needed, why = (_targets.seeds_needed(comp, ga.n_total, gb.n_total,
                                             alpha=alpha / m, power=power)
                       if claim.kind in CURVE_KINDS else
                       seeds_for(comp, ga, gb, alpha=alpha / m, power=power))
        reason += f"; seeds needed: {why}" if needed is not None else f"; {why}"
    mean = claim.kind != "spread"
    effect = comp.effects[0] if comp else _missing(
        "Hedges' g" if mean else "std(A) / std(B)", level, f"not computed: {short}")
    difference = comp.difference if comp else _missing(
        "mean(A) - mean(B)" if mean else "std(A) - std(B)", level,
        f"not computed: {short}")
    note = "; ".join(n for n in [comp.note if comp else "",
                                 _divergence_note(ga, gb, div, d_adj, alpha, correction)] if n)
    return Verdict(
        claim=claim.text, metric=claim.metric, kind=claim.kind, direction=claim.direction,
        status=status, test=comp.primary if comp else "",
        p_value=comp.p_value if comp else float("nan"), p_adjusted=float(p_adj),
        correction=correction, alpha=alpha, effect=effect, difference=difference,
        n_a=comp.n_a if comp else ga.n_finished, n_b=comp.n_b if comp else gb.n_finished,
        n_diverged_a=ga.n_diverged, n_diverged_b=gb.n_diverged, paired=paired,
        setting_a=ga.key, setting_b=gb.key, seeds_needed=needed, comparison=comp,
        note=note, n_total_a=ga.n_total, n_total_b=gb.n_total, divergence=div,
        divergence_p_adjusted=float(d_adj), reason=reason,
        statement=_statement(claim, status, ga, gb, comp, p_adj, correction, reason))


def verdicts(results: Any, claims: Sequence[Any], *, correction: str = "holm",
             alpha: float = 0.05, level: float = 0.95, power: float = 0.8,
             rng: Any = None, n_resamples: int = 9999, targets: Any = None,
             strata: Sequence[str] = ()) -> tuple[Verdict, ...]:
    """Judge each claim ("the setting matching ``a`` has a greater / less / different
    (``direction="two-sided"``) mean or spread of ``metric`` than the one matching
    ``b``") with ``compare``'s primary two-sided test (paired when both settings vary
    the same seed sources), p-values corrected across the testable claims. ``holds``:
    significant in the claimed direction (either direction for a two-sided claim);
    ``refuted``: significant the other way (never for a two-sided claim);
    ``inconclusive``: neither, or too few finished runs to test (that claim only).
    Claims of kind ``time_to_target`` (``metric`` names a target's curve; ``targets``,
    default the study's) are judged by the log-rank test (stratified over the
    ``strata`` factors when given), ``curve`` claims by the max-t curve test
    (``jaxstab.stats._targets``), corrected together with the others.
    """
    alpha, power = _check_options(correction, alpha, power)
    level = _check.level(level)
    gen = _check.rng(rng)
    claims = list(claims)
    if not claims:
        return ()
    settings = _study.settings_of(results)
    if targets is None:
        targets = getattr(getattr(results, "study", None), "targets", ())
    rows = [_prepare(c, settings, level=level, gen=gen, n_resamples=n_resamples,
                     targets=targets, strata=strata) for c in claims]
    testable = [i for i, r in enumerate(rows) if r.comparison is not None]
    adjusted = np.full(len(rows), np.nan)
    adjusted[testable] = adjust_pvalues([rows[i].comparison.p_value for i in testable],
                                        method=correction)
    div_adjusted = adjust_pvalues([r.divergence.p_value for r in rows], method=correction)
    return tuple(_verdict(r, p, d, alpha=alpha, power=power, m=len(rows),
                          correction=correction, level=level)
                 for r, p, d in zip(rows, adjusted, div_adjusted, strict=True))
