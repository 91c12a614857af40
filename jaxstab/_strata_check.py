"""The checks of a study's claims (each names settings), strata, declared metric
directions and claims across strata (``Study`` calls them; ``self``: the study)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from jaxstab._check import check_choice, fail

# rliable's aggregates (jaxstab.stats.aggregate), for a claim across strata.
STATISTICS = ("mean", "median", "iqm", "optimality_gap")
METRIC_DIRECTIONS = ("higher", "lower")


def _plain(v: Any) -> Any:
    return tuple(_plain(x) for x in v) if isinstance(v, (list, tuple)) else v


def check_strata(self, names: list[str]) -> None:
    strata = (self.strata,) if isinstance(self.strata, str) else self.strata
    if not isinstance(strata, (list, tuple)):
        fail("strata", "expected a list of factor names")
    for n in strata:
        check_choice("strata", n, tuple(x for x in names if x != "vary"))
    if len(set(strata)) != len(strata) or (strata and len(strata) == len(
            [x for x in names if x != "vary"])):
        fail("strata", "a factor listed twice, or every factor a stratum (leave one to "
             "compare)")
    object.__setattr__(self, "strata", tuple(strata))
    metrics = self.metrics or {}
    if not isinstance(metrics, Mapping):
        fail("metrics", 'expected a table {metric = "higher" | "lower"}')
    known = self.tasked.metrics
    for m, d in metrics.items():
        if known is not None:
            check_choice("metrics", m, known)
        check_choice(f"metrics.{m}", d, METRIC_DIRECTIONS)
    object.__setattr__(self, "metrics", dict(sorted(metrics.items())) or None)


def check_aggregate_claim(self, i: int, claim, names: list[str]) -> None:
    for side in ("a", "b"):
        if missing := [n for n in names if n not in self.strata and n != "vary"
                       and n not in getattr(claim, side)]:
            fail(f"claims[{i}].{side}", f"a claim across strata names every other "
                 f"factor; missing `{missing[0]}`")
    if _plain(dict(claim.a)) == _plain(dict(claim.b)):
        fail(f"claims[{i}]", "a and b name the same setting; a claim compares two")
    if claim.kind != "mean":
        fail(f"claims[{i}].kind", "a claim across strata compares aggregates: `mean`")


def check_within_stratum(self, i: int, claim) -> None:
    if claim.statistic:
        fail(f"claims[{i}].statistic", "only for a claim across strata (its sides "
             "leave the strata factors out)")
    for n in self.strata:
        if _plain(claim.a.get(n)) != _plain(claim.b.get(n)):
            fail(f"claims[{i}]", f"a and b are in different strata ({n}); settings are "
                 f"compared within a stratum, leave `{n}` out of both sides for a "
                 f"claim across strata")


def check_claim_selects(i: int, claim, settings: list) -> None:
    """Each side of a claim names exactly one setting, and the two differ."""
    found = {}
    for side in ("a", "b"):
        sel = dict(getattr(claim, side))
        if not sel:
            fail(f"claims[{i}].{side}", "empty: give the factor values of one setting")
        hits = [s for s in settings
                if all(_plain(dict(s.factors).get(k)) == _plain(v) for k, v in sel.items())]
        if len(hits) != 1:
            names = ", ".join(n for n, _ in settings[0].factors)
            fail(f"claims[{i}].{side}", f"{sel} matches {len(hits)} settings; name one "
                 f"value of each factor ({names})")
        found[side] = hits[0].key
    if found["a"] == found["b"]:
        fail(f"claims[{i}]", "a and b name the same setting; a claim compares two")
