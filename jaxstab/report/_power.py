"""Seeds needed to detect an effect (stats.seeds_needed), drawn as a curve against the
true effect with the claims' observed effects on it."""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np

from jaxstab import stats
from jaxstab.errors import UserError

# The seeds-needed curve is drawn over these standardized effects / std ratios: on
# log-log axes it is nearly straight, so 16 points draw it (each is a power search).
EFFECT_GRID = tuple(float(x) for x in np.round(np.geomspace(0.1, 3.0, 16), 4))
RATIO_GRID = tuple(float(x) for x in np.round(np.geomspace(1.1, 4.0, 14), 4))


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


@functools.lru_cache(maxsize=4096)
def _needed(kind: str, x: float, paired: bool, alpha: float, power: float) -> int | None:
    """stats.seeds_needed, remembered: studies with as many claims share the curve."""
    try:
        if kind == "mean":
            return stats.seeds_needed(effect_size=x, paired=paired, alpha=alpha, power=power)
        return stats.seeds_needed(std_ratio=x, alpha=alpha, power=power)
    except UserError:
        return None  # no effect to detect


def seeds_needed(verdicts, kinds: set[str], paired: bool) -> tuple[SeedsNeeded, ...]:
    m = max(len(verdicts), 1)
    alpha, power = 0.05 / m, 0.8  # the level verdicts sizes inconclusive claims at
    out = []
    for kind in ("mean", "spread"):
        if kind not in kinds:
            continue
        # The curve is drawn for the claims' own design (paired or not), so each
        # claim's point sits on it.
        mine = [v for v in verdicts if v.kind == kind]
        design = mine[0].paired if mine else paired
        observed = []
        for v in mine:
            if not math.isfinite(v.effect.point) or (kind == "spread" and v.effect.point <= 0):
                continue
            x = abs(v.effect.point) if kind == "mean" else max(v.effect.point,
                                                                1 / v.effect.point)
            observed.append((v.claim, float(x), _needed(kind, float(x), design, alpha,
                                                        power)))
        grid = EFFECT_GRID if kind == "mean" else RATIO_GRID
        seen = [x for _, x, n in observed if n is not None]
        top = max(seen, default=0.0) * 1.15
        if top > grid[-1]:  # reach the largest observed effect
            grid += tuple(float(x) for x in np.round(np.geomspace(grid[-1], top, 5)[1:], 4))
        bottom = min(seen, default=grid[0]) / 1.15
        floor = 0.02 if kind == "mean" else 1.01
        if max(bottom, floor) < grid[0]:  # and the smallest (seeds needed grows fast)
            grid = tuple(float(x) for x in np.round(np.geomspace(
                max(bottom, floor), grid[0], 5)[:-1], 4)) + grid
        curve = [_needed(kind, g, design, alpha, power) for g in grid]
        out.append(SeedsNeeded(kind, alpha, power, design, grid, tuple(curve),
                               tuple(observed)))
    return tuple(out)


