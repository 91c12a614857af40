"""Verdicts on a study's claims: holds, refuted or inconclusive."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from jaxstab.errors import UserError
from jaxstab.stats import _check, _study
from jaxstab.stats._base import Record
from jaxstab.stats._compare import KINDS, Comparison
from jaxstab.stats._effects import Effect
from jaxstab.stats._multiple import CORRECTIONS, adjust_pvalues, compare_groups
from jaxstab.stats._power import seeds_needed

DIRECTIONS = ("greater", "less")
STATUSES = ("holds", "refuted", "inconclusive")


@dataclass(frozen=True)
class Verdict(Record):
    """A claim's verdict. ``p_value`` is the primary two-sided test's; ``p_adjusted``
    is corrected (``correction``) across all of the study's claims and compared with
    ``alpha``. ``seeds_needed`` (only when inconclusive) is the number of seeds per
    setting that would detect the observed effect with power 0.8 at alpha / m, m the
    number of claims (the Bonferroni level, conservative for Holm and BH)."""

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
    comparison: Comparison
    note: str


def _check_claim(claim: Any) -> str:
    text = getattr(claim, "text", None)
    if not isinstance(text, str):
        raise UserError(f"claims: each claim needs a `text` string, got {claim!r}")
    where = f"claim {text!r}"
    _check.choice(getattr(claim, "kind", None), f"{where}: kind", KINDS)
    _check.choice(getattr(claim, "direction", None), f"{where}: direction", DIRECTIONS)
    if not isinstance(getattr(claim, "metric", None), str):
        raise UserError(f"{where}: metric must be a string")
    for side in ("a", "b"):
        if not isinstance(getattr(claim, side, None), Mapping):
            raise UserError(f"{where}: {side} must be a mapping of factor values")
    return where


def _seeds_for(c: Comparison, effect: Effect, alpha: float, power: float) -> int | None:
    try:
        if c.metric_kind == "mean":
            if not math.isfinite(effect.point):
                return None
            return seeds_needed(effect_size=effect.point, paired=c.paired, alpha=alpha,
                                power=power)
        ratio = c.std_a / c.std_b if c.std_b > 0 else float("nan")
        return seeds_needed(std_ratio=ratio, alpha=alpha, power=power)
    except UserError:
        return None  # no observed effect (g = 0, ratio = 1 or undefined): cannot size


def verdicts(results: Any, claims: Sequence[Any], *, correction: str = "holm",
             alpha: float = 0.05, level: float = 0.95, power: float = 0.8,
             rng: Any = None, n_resamples: int = 9999) -> tuple[Verdict, ...]:
    """Judge each claim ("the setting matching ``a`` has a greater/less mean/spread of
    ``metric`` than the one matching ``b``") with ``compare``'s primary two-sided test
    (paired when both settings vary the same seed sources), p-values corrected across
    the claims. ``holds``: significant in the claimed direction; ``refuted``:
    significant the other way; ``inconclusive``: neither.
    """
    _check.choice(correction, "correction", CORRECTIONS)
    alpha = _check.level(alpha, "alpha")
    power = _check.level(power, "power")
    gen = _check.rng(rng)
    claims = list(claims)
    if not claims:
        return ()
    settings = _study.settings_of(results)
    rows = []
    for claim in claims:
        where = _check_claim(claim)
        sa = _study.find(settings, claim.a, f"{where}: a")
        sb = _study.find(settings, claim.b, f"{where}: b")
        if sa is sb:
            raise UserError(f"{where}: a and b select the same setting {sa.key}")
        try:
            ga, gb = _study.group(sa, claim.metric), _study.group(sb, claim.metric)
        except UserError as err:
            raise UserError(f"{where}: {err}") from None
        try:
            comp = compare_groups(ga, gb, metric_kind=claim.kind, alternative="two-sided",
                                  paired=None, level=level, rng=gen,
                                  n_resamples=n_resamples)
        except UserError as err:
            raise UserError(f"{where}: {err}") from None
        rows.append((claim, ga, gb, comp))
    adjusted = adjust_pvalues([c.p_value for *_, c in rows], method=correction)
    out = []
    for (claim, ga, gb, comp), p_adj in zip(rows, adjusted, strict=True):
        significant = p_adj < alpha
        if significant and comp.direction == claim.direction:
            status = "holds"
        elif significant and comp.direction != "equal":
            status = "refuted"
        else:
            status = "inconclusive"
        effect = comp.effects[0]
        needed = (_seeds_for(comp, effect, alpha / len(rows), power)
                  if status == "inconclusive" else None)
        out.append(Verdict(
            claim=claim.text, metric=claim.metric, kind=claim.kind,
            direction=claim.direction, status=status, test=comp.primary,
            p_value=comp.p_value, p_adjusted=float(p_adj), correction=correction,
            alpha=alpha, effect=effect, difference=comp.difference, n_a=comp.n_a,
            n_b=comp.n_b, n_diverged_a=ga.n_diverged, n_diverged_b=gb.n_diverged,
            paired=comp.paired, setting_a=ga.key, setting_b=gb.key, seeds_needed=needed,
            comparison=comp, note=comp.note))
    return tuple(out)
