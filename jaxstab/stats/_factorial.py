"""Grid studies: does each factor matter, and do factors interact?

Each main effect and interaction is the type III F test of the full factorial model
(sum-to-zero coding, seeds as blocks when settings share seed keys), with its p-value
from a Freedman-Lane permutation test (Anderson & Legendre 1999): the residuals of the
model without the effect are permuted (within seeds when blocked) and added back. That
keeps it valid for non-normal metrics: type-I error 0.038-0.067 at alpha = 0.05 for
normal, lognormal, accuracy-like and collapsed-runs data in docs/statistics.md.

The aligned rank transform (Wobbrock et al. 2011) was tried first: with 20% collapsed
runs its F-distribution p-value rejected a true null 8.7% of the time, and 7.5-8% even
with a permutation null, so it is not used. No well-kept Python library has
Freedman-Lane (statsmodels, a test dependency only here, fits the OLS but does not
permute), so it is written here on numpy least squares; the tests check the F
statistic against statsmodels' anova_lm.
"""

from __future__ import annotations

import itertools
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from jaxstab.stats import _check, _study
from jaxstab.stats._base import SPREAD_MIN_N, Record
from jaxstab.stats._compare import KINDS
from jaxstab.stats._effects import deviations
from jaxstab.stats._multiple import CORRECTIONS, adjust_pvalues

METHOD = "type III F, Freedman-Lane permutation p-value"


@dataclass(frozen=True)
class FactorEffect(Record):
    """One main effect (``factors`` of length 1) or interaction: its type III F, its
    permutation p-value, and that corrected over all effects tested."""

    effect: str
    factors: tuple[str, ...]
    df: int
    df_resid: int
    statistic: float
    p_value: float
    p_adjusted: float


@dataclass(frozen=True)
class Factorial(Record):
    """``blocked``: seeds are a block (settings varying the same seed sources share
    each seed's keys, so seed effects are removed); ``n`` counts the runs used."""

    metric: str
    metric_kind: str
    method: str
    factors: tuple[str, ...]
    levels: tuple[int, ...]
    n: int
    blocked: bool
    correction: str
    n_resamples: int
    effects: tuple[FactorEffect, ...]
    note: str


def _plain(v: Any) -> str:
    return json.dumps(_study._plain(v), default=str)


def _grid(settings: list[Any]) -> tuple[list[str], list[list[str]]]:
    names = list(dict.fromkeys(k for s in settings for k in s.factors))
    levels = [list(dict.fromkeys(_plain(s.factors.get(k)) for s in settings)) for k in names]
    keep = [i for i, lv in enumerate(levels) if len(lv) > 1]
    return [names[i] for i in keep], [levels[i] for i in keep]


def _sum_coded(codes: np.ndarray, k: int) -> np.ndarray:
    """Sum-to-zero (deviation) coding: k - 1 columns, the last level all -1."""
    out = np.zeros((codes.size, k - 1))
    for j in range(k - 1):
        out[:, j] = (codes == j).astype(float)
    out[codes == k - 1] = -1.0
    return out


def _columns(codes: np.ndarray, sizes: list[int], effect: tuple[int, ...]) -> np.ndarray:
    cols = np.ones((codes.shape[0], 1))
    for f in effect:
        coded = _sum_coded(codes[:, f], sizes[f])
        cols = (cols[:, :, None] * coded[:, None, :]).reshape(codes.shape[0], -1)
    return cols


def _projector(design: np.ndarray) -> np.ndarray:
    q, r = np.linalg.qr(design)
    keep = np.abs(np.diag(r)) > 1e-10 * max(1.0, float(np.abs(np.diag(r)).max()))
    return q[:, keep]


def _resid(q: np.ndarray, y: np.ndarray) -> np.ndarray:
    return y - q @ (q.T @ y)


def _f_ratio(y: np.ndarray, q_full: np.ndarray, q_red: np.ndarray) -> np.ndarray:
    """(RSS_reduced - RSS_full) / RSS_full for each column of ``y`` (F up to df)."""
    rss_full = np.sum(_resid(q_full, y) ** 2, axis=0)
    rss_red = np.sum(_resid(q_red, y) ** 2, axis=0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return (rss_red - rss_full) / rss_full


def _permutations(blocks: np.ndarray | None, n: int, b: int,
                  gen: np.random.Generator) -> np.ndarray:
    """(n, b) row indices, shuffled within blocks (seeds) when there are blocks."""
    if blocks is None:
        return gen.permuted(np.tile(np.arange(n)[:, None], (1, b)), axis=0)
    idx = np.tile(np.arange(n)[:, None], (1, b))
    for blk in np.unique(blocks):
        rows = np.flatnonzero(blocks == blk)
        idx[rows] = gen.permuted(np.tile(rows[:, None], (1, b)), axis=0)
    return idx


def _check_options(metric_kind: Any, correction: Any, max_order: Any,
                   n_resamples: Any) -> tuple[int, int]:
    _check.choice(metric_kind, "metric_kind", KINDS)
    _check.choice(correction, "correction", CORRECTIONS)
    return (_check.positive_int(max_order, "max_order", 1),
            _check.positive_int(n_resamples, "n_resamples", 99))


def _runs(settings, names, levels, metric, blocked):
    rows = []
    for s in settings:
        g = _study.group(s, metric)
        rows.append(([levels[i].index(_plain(s.factors.get(k)))
                      for i, k in enumerate(names)], g))
    notes, common = [], None
    if blocked:
        common = set.intersection(*(set(g.seeds[np.isfinite(g.values)].tolist())
                                    for _, g in rows))
        dropped = sum(g.n_finished for _, g in rows) - len(common) * len(rows)
        if len(common) < 2:
            blocked, common = False, None
            notes.append("seeds not blocked: fewer than 2 seeds finished in every setting")
        elif dropped:
            notes.append(f"{dropped} finished runs left out to keep whole seed blocks")
    return rows, blocked, common, notes


def factorial(results: Any, *, metric: str, metric_kind: str = "mean",
              correction: str = "holm", max_order: int = 2, rng: Any = None,
              n_resamples: int = 999) -> Factorial | None:
    """Main effects and interactions (up to ``max_order`` factors) of a grid study's
    factors on the mean of ``metric`` (see the module docstring), with seeds as blocks when every
    setting varies the same seed sources (their keys are shared, so seed effects are
    removed and permutations stay within seeds). ``metric_kind="spread"`` runs the same
    on |x - cell median|, Brown-Forsythe's quantity. Diverged runs (and, when blocked,
    their seeds) are left out. None when fewer than two factors have two values."""
    max_order, n_resamples = _check_options(metric_kind, correction, max_order, n_resamples)
    gen = _check.rng(rng)
    settings = [s for s in _study.settings_of(results) if len(np.atleast_1d(s.seeds))]
    names, levels = _grid(settings)
    if len(names) < 2:
        return None
    sizes = [len(lv) for lv in levels]
    blocked = len({frozenset(s.sources) for s in settings}) == 1

    def empty(n: int, why: str) -> Factorial:
        return Factorial(metric, metric_kind, METHOD, tuple(names), tuple(sizes), n,
                         blocked, correction, n_resamples, (), why)

    rows, blocked, common, notes = _runs(settings, names, levels, metric, blocked)
    cells_seen = {tuple(c) for c, _ in rows}
    if len(cells_seen) != int(np.prod(sizes)) or len(rows) != len(cells_seen):
        return empty(0, f"the grid is incomplete ({len(cells_seen)} of "
                        f"{int(np.prod(sizes))} combinations ran): not tested")
    y, cells, seeds = [], [], []
    for idx, (_, g) in enumerate(rows):
        keep = np.isfinite(g.values)
        if blocked:
            keep &= np.isin(g.seeds, sorted(common))
        if keep.sum() < 2:
            return empty(0, f"{g.name}: fewer than 2 finished runs: not tested")
        if metric_kind == "spread" and keep.sum() < SPREAD_MIN_N:
            return empty(0, f"{g.name}: fewer than {SPREAD_MIN_N} finished runs: spread "
                            f"effects not tested (at 4 seeds a cell they rejected 0.09-0.11 "
                            f"of true nulls)")
        x = g.values[keep]
        y.append(deviations(x) if metric_kind == "spread" else x)
        cells.append(np.full(x.size, idx))
        seeds.append(g.seeds[keep])
    y, cells, seeds = np.concatenate(y), np.concatenate(cells), np.concatenate(seeds)
    cell_codes = np.array([c for c, _ in rows])
    codes = cell_codes[cells]
    effects = [e for r in range(1, len(names) + 1)
               for e in itertools.combinations(range(len(names)), r)]
    design = {e: _columns(codes, sizes, e) for e in effects}
    base = [np.ones((y.size, 1))]
    blocks = None
    if blocked:
        _, blocks = np.unique(seeds, return_inverse=True)
        base.append(_sum_coded(blocks, int(blocks.max()) + 1))
    q_full = _projector(np.hstack(base + [design[e] for e in effects]))
    df_resid = y.size - q_full.shape[1]
    if df_resid < 1:
        return empty(int(y.size), "no residual degrees of freedom: not tested")
    stats = []
    for e in (e for e in effects if len(e) <= max_order):
        q_red = _projector(np.hstack(base + [design[o] for o in effects if o != e]))
        df = q_full.shape[1] - q_red.shape[1]
        # Freedman-Lane: permute the residuals of the raw-value model without E (within
        # seeds when blocked), add them back to its fit, recompute the statistic.
        fit = y - _resid(q_red, y)
        res = y - fit
        perms = fit[:, None] + res[_permutations(blocks, y.size, n_resamples, gen)]
        ratio = _f_ratio(np.column_stack([y, perms]), q_full, q_red)
        observed = ratio[0]
        if not np.isfinite(observed):
            stats.append((e, df, float("nan"), 1.0))
            continue
        more = np.sum(ratio[1:] >= observed * (1 - 1e-12))
        stats.append((e, df, float(observed * df_resid / df),
                      float((1 + more) / (1 + n_resamples))))
    adjusted = adjust_pvalues([p for *_, p in stats], method=correction)
    out = tuple(FactorEffect(" x ".join(names[i] for i in e), tuple(names[i] for i in e),
                             df, int(df_resid), f, p, float(q))
                for (e, df, f, p), q in zip(stats, adjusted, strict=True))
    return Factorial(metric, metric_kind, METHOD, tuple(names), tuple(sizes), int(y.size),
                     blocked, correction, n_resamples, out, "; ".join(notes))
