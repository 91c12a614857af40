"""The spread of a setting is its std: ranked by it, tested on it, bounded and labelled
as it. The test permutes median-centered runs between the two settings (swaps them
within a seed when paired) and compares log(std A / std B); its interval for the std
ratio is every ratio r the same permutations do not reject once A is divided by r.

Why written here: scipy.stats.permutation_test tests one null; inverting it for an
interval would redraw and recompute every permutation at each candidate ratio. With
the permutations fixed, the std of a permuted group is a closed form of four sums (of
A's values and squares, of B's), so each candidate ratio costs one pass over the
permutations, and a whole simulation (leading axes) runs at once.

Why this test: Brown-Forsythe's F rejected 0.07-0.17 of true nulls at 4-16 seeds with
collapsed runs, t3 or Beta data, and its permutation on median-centered values as much;
this one stays <= 0.055 from 5 seeds on (docs/statistics.md, "Spread tests"). At 4 seeds
a side no test measured holds its level with collapsed runs (0.15), so spread claims
need SPREAD_MIN_N seeds.
"""

from __future__ import annotations

import itertools
import math

import numpy as np
import scipy.stats as st

# Above this many runs in a comparison the permutations give way to the large-sample
# z of log(var A / var B) with the data's own kurtosis (Layard 1973): one pass over the
# runs instead of n_resamples, accurate there; 300k runs then take milliseconds.
LARGE_RUNS = 2000


def _centered(x: np.ndarray) -> np.ndarray:
    return x - np.median(x, axis=-1, keepdims=True)


def _splits(n_a: int, n_b: int, paired: bool, n_resamples: int,
            rng: np.random.Generator) -> tuple[np.ndarray, bool]:
    """(P, n) 0/1 matrix: paired, 1 where seed i is swapped; else, 1 where a pooled
    run goes to the first group. Every arrangement when they fit in n_resamples
    (exact), else n_resamples random ones."""
    if paired:
        if 2**n_a <= n_resamples:
            return np.array(list(itertools.product((0.0, 1.0), repeat=n_a))), True
        return rng.integers(0, 2, (n_resamples, n_a)).astype(float), False
    n = n_a + n_b
    if math.comb(n, n_a) <= n_resamples:
        out = np.zeros((math.comb(n, n_a), n))
        for row, idx in enumerate(itertools.combinations(range(n), n_a)):
            out[row, list(idx)] = 1.0
        return out, True
    order = np.argsort(rng.random((n_resamples, n)), axis=1)[:, :n_a]
    out = np.zeros((n_resamples, n))
    np.put_along_axis(out, order, 1.0, axis=1)
    return out, False


class StdRatio:
    """The permutations of one comparison (or of a simulation's rows, leading axes),
    ready to give the statistic and the p-value at any hypothesised ratio."""

    def __init__(self, a, b, *, paired: bool, rng: np.random.Generator,
                 n_resamples: int):
        a, b = np.asarray(a, float), np.asarray(b, float)
        ra, rb = _centered(a), _centered(b)
        self.n_a, self.n_b, self.paired = a.shape[-1], b.shape[-1], paired
        m, self.exact = _splits(self.n_a, self.n_b, paired, n_resamples, rng)
        if paired:
            keep, swap = 1.0 - m, m
            self.sums = {  # group 1 / group 2 sums, A's part (scales by 1/r) and B's
                "sa1": ra @ keep.T, "qa1": ra**2 @ keep.T, "sb1": rb @ swap.T,
                "qb1": rb**2 @ swap.T, "sa2": ra @ swap.T, "qa2": ra**2 @ swap.T,
                "sb2": rb @ keep.T, "qb2": rb**2 @ keep.T}
        else:
            ma, mb = m[:, :self.n_a], m[:, self.n_a:]
            sa, qa = ra.sum(-1)[..., None], (ra**2).sum(-1)[..., None]
            sb, qb = rb.sum(-1)[..., None], (rb**2).sum(-1)[..., None]
            sa1, qa1, sb1, qb1 = ra @ ma.T, ra**2 @ ma.T, rb @ mb.T, rb**2 @ mb.T
            self.sums = {"sa1": sa1, "qa1": qa1, "sb1": sb1, "qb1": qb1,
                         "sa2": sa - sa1, "qa2": qa - qa1, "sb2": sb - sb1, "qb2": qb - qb1}
        self.observed = self._stat(np.std(a, axis=-1, ddof=1), np.std(b, axis=-1, ddof=1))

    @staticmethod
    def _stat(sd_a, sd_b) -> np.ndarray:
        with np.errstate(all="ignore"):
            return np.nan_to_num(np.log(sd_a) - np.log(sd_b), nan=0.0)

    def _perm_stats(self, ratio) -> np.ndarray:
        s, inv = self.sums, 1.0 / np.asarray(ratio, float)[..., None]
        n1 = self.n_a
        n2 = self.n_a if self.paired else self.n_b
        with np.errstate(all="ignore"):  # ratios near the float limits in the search
            s1, q1 = s["sa1"] * inv + s["sb1"], s["qa1"] * inv**2 + s["qb1"]
            s2, q2 = s["sa2"] * inv + s["sb2"], s["qa2"] * inv**2 + s["qb2"]
            v1 = np.maximum(q1 - s1**2 / n1, 0.0) / (n1 - 1)
            v2 = np.maximum(q2 - s2**2 / n2, 0.0) / (n2 - 1)
            return np.nan_to_num(0.5 * (np.log(v1) - np.log(v2)), nan=0.0)

    def pvalue(self, alternative: str, ratio=1.0) -> np.ndarray:
        """p of "std A = ratio x std B" (one per leading row)."""
        t = self._perm_stats(ratio)
        obs = (self.observed - np.log(ratio))[..., None]
        gamma = 1e-12 * np.maximum(np.abs(np.where(np.isfinite(obs), obs, 0)), 1.0)
        extra = 0 if self.exact else 1
        size = t.shape[-1] + extra
        with np.errstate(all="ignore"):  # an infinite observed ratio: one side constant
            greater = ((t >= obs - gamma).sum(-1) + extra) / size
            less = ((t <= obs + gamma).sum(-1) + extra) / size
        if alternative == "greater":
            return greater
        if alternative == "less":
            return less
        return np.minimum(1.0, 2 * np.minimum(greater, less))

    def interval(self, level: float) -> tuple[float, float]:
        """Hull of the ratios the two-sided test does not reject at 1 - level (one
        comparison, 1-D data): bracketed outwards by doubling, then bisected in log r."""
        alpha = 1 - level
        point = float(np.exp(self.observed))
        if not (np.isfinite(point) and point > 0):
            return float("nan"), float("nan")

        def accepts(log_r: float) -> bool:
            return float(self.pvalue("two-sided", math.exp(log_r))) > alpha

        ends = []
        for step in (-1.0, 1.0):
            inside = math.log(point)
            outside = inside + step * math.log(2)
            while abs(outside) < 700 and accepts(outside):
                inside, outside = outside, 2 * outside - math.log(point)
            if abs(outside) >= 700:  # accepted as far as floats reach: unbounded
                ends.append(0.0 if step < 0 else float("inf"))
                continue
            for _ in range(40):
                mid = 0.5 * (inside + outside)
                inside, outside = (mid, outside) if accepts(mid) else (inside, mid)
            ends.append(math.exp(inside))
        return ends[0], ends[1]


def log_var_z(a: np.ndarray, b: np.ndarray, paired: bool) -> tuple[np.ndarray, np.ndarray]:
    """(z, se) of log(var A / var B) by the delta method with the data's own kurtosis
    (Layard 1973; paired: the per-seed difference of standardized squares)."""
    da, db = a - a.mean(-1, keepdims=True), b - b.mean(-1, keepdims=True)
    va, vb = np.var(a, axis=-1, ddof=1), np.var(b, axis=-1, ddof=1)
    with np.errstate(all="ignore"):
        ua, ub = da**2 / va[..., None], db**2 / vb[..., None]
        if paired:
            se = np.std(ua - ub, axis=-1, ddof=1) / np.sqrt(ua.shape[-1])
        else:
            se = np.sqrt(np.var(ua, axis=-1, ddof=1) / ua.shape[-1]
                         + np.var(ub, axis=-1, ddof=1) / ub.shape[-1])
        return np.nan_to_num(np.log(va / vb) / se, nan=0.0), se


def normal_p(z: np.ndarray, alternative: str) -> np.ndarray:
    if alternative == "greater":
        return st.norm.sf(z)
    if alternative == "less":
        return st.norm.cdf(z)
    return 2 * st.norm.sf(np.abs(z))


def std_ratio_test(a, b, alternative, rng, n_resamples, paired=False):
    """(log std ratio, p) of "A and B have the same std", vectorized over rows."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    if a.shape[-1] + b.shape[-1] > LARGE_RUNS:
        z, _ = log_var_z(a, b, paired)
        return z, normal_p(z, alternative)
    perm = StdRatio(a, b, paired=paired, rng=rng, n_resamples=n_resamples)
    return perm.observed, perm.pvalue(alternative)


def std_ratio_interval(a: np.ndarray, b: np.ndarray, *, paired: bool, level: float,
                       rng: np.random.Generator, n_resamples: int
                       ) -> tuple[float, float, str]:
    """Interval for std(A) / std(B) inverting the test compare uses (so it excludes 1
    exactly when that test rejects at 1 - level)."""
    if a.size + b.size > LARGE_RUNS:
        _, se = log_var_z(a, b, paired)
        half = float(st.norm.ppf(0.5 + level / 2) * se)
        r = float(np.std(a, ddof=1) / np.std(b, ddof=1))
        return r * math.exp(-half / 2), r * math.exp(half / 2), "log variance ratio z"
    perm = StdRatio(a, b, paired=paired, rng=rng, n_resamples=n_resamples)
    low, high = perm.interval(level)
    return low, high, ("paired " if paired else "") + "permutation inversion"
