"""Is a sample of per-seed values shaped like the normal-theory intervals assume?

Seed sweeps produce collapsed runs (a run stuck at chance accuracy) and heavy tails; the
chi-square interval of the std then undercovers badly (docs/statistics.md). This module
flags both, so that the interval can say so and widen.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.stats as st

from jaxstab.stats import _check
from jaxstab.stats._base import Record, is_constant, quiet

# A run more than OUTLIER_Z robust stds (1.4826 MAD) from the median is "far from the
# rest". Iglewicz and Hoaglin's usual 3.5 flags 20% of normal samples of 5 seeds (the
# MAD of 5 values is noisy); 5 flags 11% at n = 5, 3% at 10, 2% at 30, and still flags
# every sample that holds a collapsed run in the mixture of docs/statistics.md.
OUTLIER_Z = 5.0
# Shapiro-Wilk (scipy.stats.shapiro) at this level catches mixtures without far outliers.
NORMALITY_ALPHA = 0.01


@dataclass(frozen=True)
class Shape(Record):
    """``outliers``: runs far from the rest; ``normality_p``: Shapiro-Wilk's p (None
    below 3 values or for constant data); ``normal``: False when either flags;
    ``bulk_std``: the std without the outliers (None when there are none);
    ``outlier_rate``: their share with its Clopper-Pearson 95% interval."""

    n: int
    outliers: int
    normality_p: float | None
    normal: bool
    bulk_std: float | None
    outlier_rate: tuple[float, float, float] | None
    note: str


def _robust_z(x: np.ndarray) -> np.ndarray:
    med = np.median(x)
    dev = np.abs(x - med)
    scale = 1.4826 * np.median(dev)
    if scale <= 0 or is_constant(np.array([med, med + scale]), x):
        # More than half the runs identical (common for accuracies on small test sets):
        # the MAD is 0, so use the mean absolute deviation (scaled like the MAD).
        scale = 1.2533 * float(np.mean(dev))
    if scale <= 0:
        return np.zeros_like(x)
    return dev / scale


def shape_of(x: np.ndarray) -> Shape:
    """Flag far outliers and non-normality of finished-run values ``x`` (1-D;
    non-finite values, i.e. diverged runs, are left out)."""
    x = _check.array(x, "x")
    x = x[np.isfinite(x)]
    n = int(x.size)
    if n < 3 or is_constant(x):
        return Shape(n, 0, None, True, None, None, "")
    far = _robust_z(x) > OUTLIER_Z
    k = int(far.sum())
    p = float(quiet(st.shapiro, x).pvalue)
    p = p if np.isfinite(p) else None
    normal = k == 0 and (p is None or p >= NORMALITY_ALPHA)
    notes, bulk, rate = [], None, None
    if k:
        rest = x[~far]
        bulk = float(np.std(rest, ddof=1)) if rest.size >= 2 else None
        ci = st.binomtest(k, n).proportion_ci(0.95, method="exact")
        rate = (k / n, float(ci.low), float(ci.high))
        notes.append(
            f"{k} of {n} runs {'lies' if k == 1 else 'lie'} far from the rest "
            f"(> {OUTLIER_Z:g} robust stds from the median: collapsed runs?); the std "
            f"mixes two groups"
            + (f", the other {rest.size} runs have std {bulk:.3g}" if bulk is not None else "")
            + f"; such runs: {100 * rate[0]:.0f}% [{100 * rate[1]:.0f}%, {100 * rate[2]:.0f}%]")
    if p is not None and p < NORMALITY_ALPHA:
        notes.append(f"not normal (Shapiro-Wilk p = {p:.2g})")
    return Shape(n, k, p, normal, bulk, rate, "; ".join(notes))
