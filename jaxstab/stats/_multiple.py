"""Many settings: corrected p-values and all pairwise comparisons."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.stats as st

from jaxstab.errors import UserError
from jaxstab.stats import _check, _study
from jaxstab.stats._base import Record
from jaxstab.stats._compare import KINDS, Comparison, compare

CORRECTIONS = ("holm", "fdr_bh", "bonferroni")


def adjust_pvalues(p: Any, *, method: str = "holm") -> np.ndarray:
    """Multiple-comparison adjusted p-values, in the order given.

    ``"holm"``: Holm's step-down (family-wise error; written here, scipy has none),
    ``"bonferroni"``, ``"fdr_bh"``: Benjamini-Hochberg false discovery rate
    (scipy.stats.false_discovery_control).
    """
    _check.choice(method, "method", CORRECTIONS)
    p = np.asarray(p, dtype=float)
    if p.ndim != 1:
        raise UserError(f"p: need a 1-D array of p-values, got shape {p.shape}")
    if p.size and not (np.all(np.isfinite(p)) and p.min() >= 0 and p.max() <= 1):
        raise UserError("p: p-values must be finite and within [0, 1]")
    m = p.size
    if m == 0:
        return p.copy()
    if method == "fdr_bh":
        return st.false_discovery_control(p, method="bh")
    if method == "bonferroni":
        return np.minimum(p * m, 1.0)
    order = np.argsort(p, kind="stable")
    stepped = np.maximum.accumulate((m - np.arange(m)) * p[order])
    out = np.empty(m)
    out[order] = np.minimum(stepped, 1.0)
    return out


@dataclass(frozen=True)
class PairComparison(Record):
    """One pair of settings: ``comparison`` is A (``a``) against B (``b``)."""

    a: str
    b: str
    a_key: str
    b_key: str
    comparison: Comparison
    p_adjusted: float
    n_diverged_a: int
    n_diverged_b: int


@dataclass(frozen=True)
class Pairwise(Record):
    metric: str
    metric_kind: str
    correction: str
    pairs: tuple[PairComparison, ...]


def compare_groups(ga: _study.Group, gb: _study.Group, *, metric_kind: str,
                   alternative: str, paired: bool | None, level: float,
                   rng: np.random.Generator, n_resamples: int) -> Comparison:
    """Compare two settings; pair them by seed index when they vary the same sources
    (``paired=None``), diverged runs (NaN) left out. The note says what pairing or
    divergence left out."""
    if paired is None:
        paired = _study.can_pair(ga, gb)
    notes = []
    if paired and ga.seeds is not None and gb.seeds is not None:
        x, y = _study.aligned(ga, gb)
        notes.append(_study.pairing_note(ga, gb))
    else:
        x, y = ga.values, gb.values
        div = [f"{g.n_diverged} of {g.n_total} runs of {g.name}" for g in (ga, gb)
               if g.n_diverged]
        if div:
            notes.append(f"diverged runs left out: {', '.join(div)}")
    try:
        comp = compare(x, y, metric_kind=metric_kind, alternative=alternative,
                       paired=paired, level=level, rng=rng, n_resamples=n_resamples,
                       nan_policy="omit")
    except UserError as err:
        raise UserError(f"{ga.name} vs {gb.name}: {err}") from None
    note = "; ".join(n for n in [comp.note, *notes] if n)
    return dataclasses.replace(comp, note=note) if note != comp.note else comp


def pairwise(data: Any, *, metric: str | None = None, metric_kind: str = "mean",
             correction: str = "holm", paired: bool | None = None, level: float = 0.95,
             rng: Any = None, n_resamples: int = 9999) -> Pairwise:
    """Compare every pair of settings, with p-values corrected across all pairs.

    ``data``: study results (then ``metric`` names the metric) or ``{name: values}``.
    ``paired=None`` pairs two settings of a study when they vary the same seed sources
    (and never for plain arrays); True/False forces it. Diverged runs are left out.
    """
    _check.choice(metric_kind, "metric_kind", KINDS)
    _check.choice(correction, "correction", CORRECTIONS)
    gs = _study.groups(data, metric)
    gen = _check.rng(rng)
    comps, names = [], []
    for i in range(len(gs)):
        for j in range(i + 1, len(gs)):
            ga, gb = gs[i], gs[j]
            comps.append(compare_groups(ga, gb, metric_kind=metric_kind,
                                        alternative="two-sided", paired=paired,
                                        level=level, rng=gen, n_resamples=n_resamples))
            names.append((ga, gb))
    adjusted = adjust_pvalues([c.p_value for c in comps], method=correction)
    pairs = tuple(
        PairComparison(ga.name, gb.name, ga.key, gb.key, c, float(p), ga.n_diverged,
                       gb.n_diverged)
        for (ga, gb), c, p in zip(names, comps, adjusted, strict=True))
    return Pairwise(metric or "", metric_kind, correction, pairs)
