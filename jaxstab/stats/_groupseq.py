"""Group-sequential machinery for ``--until-decided``: boundaries, the statistic of one
claim at one look, and the decision procedure over looks and claims.

Everything here is vectorized over leading axes (replications in a simulation, one row
for a real study), so the simulations in tests/test_stats_sequential.py and
docs/sequential_tables.py run the very code the verdicts use.

Why a group-sequential design: the looks are fixed in advance (a doubling schedule),
so boundaries on the canonical joint distribution Z_k ~ N(0, 1), corr(Z_i, Z_j) =
sqrt(n_i / n_j), control the type-I error exactly at those looks and lose little power.
Anytime-valid tests (confidence sequences, e-values) allow unplanned looks, which
jaxstab does not need, and pay for it in power at a given maximum. Libraries looked at
(the package lists): ``gsdesign`` 0.1.5 ports only gsDesign's integration grid, not
the boundaries; ``confseq`` 0.0.11 (2023) needs a C++ build and gives confidence
sequences for bounded data; ``expectation`` 0.6.1 needs Python 3.12 (jaxstab supports
3.11); statsmodels has no group-sequential design. So the boundaries are computed here
with scipy.stats.norm by the recursive numerical integration of Armitage, McPherson and
Rowe (1969), the method gsDesign uses (Jennison and Turnbull 2000, ch. 19); the test
suite checks it against gsDesign's published O'Brien-Fleming boundaries.

Why not O'Brien-Fleming spending: it expects the effect to need about the maximum, and
the maximum here (``--max-seeds``) is a budget, often 8-32 times what a clear effect
needs. With looks at 16, 32, ..., 512 seeds, an effect that a fixed design detects
with 32 seeds (power 0.8) was decided after 141 seeds on average under O'Brien-Fleming
(its boundary at 64 seeds is 6.2) and after 47 when every doubling of the seeds spends
the same alpha (boundaries 2.64, 2.56, ..., 2.51); docs/statistics.md, "Sequential
verdicts", has the table.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import NamedTuple

import numpy as np
import scipy.optimize as opt
import scipy.stats as st

from jaxstab.stats._base import SPREAD_MIN_N, is_constant, quiet, snap, tolerance

# Futility (non-binding): stop when the conditional power under the current estimate to
# cross the last boundary falls below this. Non-binding means the efficacy boundaries
# ignore it, so type-I error is controlled whether or not a claim stops for futility.
FUTILITY_POWER = 0.1
FUTILITY_FROM = 1 / 8
RHO = 1.0            # spending shape: alpha u^RHO, u the look's place on the log2 scale
GRID_STEP = 0.02     # z-scale step of the integration grid (Simpson's rule)
GRID_EDGE = 12.0     # paths beyond |z| = 12 carry < 1e-32 of probability
CONTINUE, POSITIVE, NEGATIVE, FUTILE, NOT_SHOWN, UNTESTABLE = range(6)


def spending(schedule: tuple[int, ...], alpha: float) -> tuple[float, ...]:
    """Two-sided alpha spent by each look (cumulative): alpha u^RHO with u the look's
    place on the log scale of seeds, (log2(n_k / n_1) + 1) / (log2(n_K / n_1) + 1), so
    each doubling of the seeds spends the same share (k / K at look k of a doubling
    schedule). Half of it goes to each side (the boundaries are symmetric)."""
    span = math.log2(schedule[-1] / schedule[0]) + 1
    return tuple(alpha * ((math.log2(n / schedule[0]) + 1) / span) ** RHO for n in schedule)


def obf_spending(fractions: tuple[float, ...], alpha: float) -> tuple[float, ...]:
    """Lan-DeMets O'Brien-Fleming-type spending, alpha / 2 a side: 2 - 2 Phi(z_{1 -
    alpha/4} / sqrt(t)) each (gsDesign's sfLDOF). Not jaxstab's choice (docstring
    above); kept to check the integration against gsDesign's published boundaries."""
    return tuple(float(4 * st.norm.sf(st.norm.isf(alpha / 4) / math.sqrt(t)))
                 for t in fractions)


def _grid(edge: float) -> tuple[np.ndarray, np.ndarray]:
    """Points and Simpson weights on [-edge, edge]."""
    k = max(2, math.ceil(edge / GRID_STEP))
    z = np.linspace(-edge, edge, 2 * k + 1)
    w = np.ones(z.size)
    w[1:-1:2], w[2:-1:2] = 4, 2
    return z, w * (z[1] - z[0]) / 3


@lru_cache(maxsize=256)
def efficacy_bounds(schedule: tuple[int, ...], alpha: float) -> tuple[float, ...]:
    """jaxstab's boundaries for a schedule of seeds per look (``spending``)."""
    return bounds_for(fractions_of(schedule), spending(schedule, alpha))


def bounds_for(fractions: tuple[float, ...], spend: tuple[float, ...]) -> tuple[float, ...]:
    """Symmetric two-sided boundaries c_k on the z scale for the canonical joint
    distribution (Z_k ~ N(0, 1), corr(Z_i, Z_j) = sqrt(t_i / t_j)): P(|Z_k| >= c_k,
    first at look k) = spend[k] - spend[k-1] under the null. ``fractions``: information
    fractions n_k / n_K; ``spend``: cumulative two-sided alpha."""
    bounds: list[float] = []
    spent = 0.0
    z, h = np.zeros(1), np.ones(1)  # Z_0 = 0 with probability 1
    prev = 0.0
    for t, total in zip(fractions, spend, strict=True):
        target = total - spent
        r = math.sqrt(prev / t)  # Z_k | Z_{k-1}=u ~ N(r u, 1 - r^2)
        s = math.sqrt(1 - r * r)

        def cross(c: float, z=z, h=h, r=r, s=s) -> float:
            return float(h @ (st.norm.sf((c - r * z) / s) + st.norm.cdf((-c - r * z) / s)))

        if target <= 1e-300:
            c = math.inf
        else:
            top = float(st.norm.isf(target / 2))  # the marginal bound: cross(top) <= target
            c = top if cross(top) >= target * (1 - 1e-9) else float(opt.brentq(
                lambda c: math.log(max(cross(c), 1e-320)) - math.log(target), 0.0, top,
                xtol=1e-10, rtol=1e-12))
        spent += cross(c) if math.isfinite(c) else 0.0
        bounds.append(c)
        zn, wn = _grid(min(c, GRID_EDGE))
        dens = st.norm.pdf((zn[:, None] - r * z[None, :]) / s) / s  # Z_k | Z_{k-1}
        z, h, prev = zn, wn * (dens @ h), t
    return tuple(bounds)


@lru_cache(maxsize=256)
def futility_bounds(schedule: tuple[int, ...], alpha: float) -> tuple[float, ...]:
    """|z| below which a claim stops for futility at each look (0: never; NaN at the
    last): the conditional power under the current estimate, 1 - Phi((c_K - |Z_k| /
    sqrt(t)) / sqrt(1 - t)) (Brownian motion with the observed drift), is below
    FUTILITY_POWER. Not before FUTILITY_FROM of the seeds: earlier the estimate is too
    noisy (at 1/32 of them the rule stops 14% of the claims whose effect needs half)."""
    last = efficacy_bounds(schedule, alpha)[-1]
    zq = st.norm.isf(FUTILITY_POWER)
    out = [max(0.0, math.sqrt(t) * (last - zq * math.sqrt(1 - t))) if t >= FUTILITY_FROM
           else 0.0 for t in fractions_of(schedule)[:-1]]
    return (*out, float("nan"))


def fractions_of(schedule: tuple[int, ...]) -> tuple[float, ...]:
    return tuple(n / schedule[-1] for n in schedule)


# --- the statistic -------------------------------------------------------------------------

def deviations(x: np.ndarray) -> np.ndarray:
    """|x - median| along the last axis, what Brown-Forsythe compares, with the median
    taken as a value of the sample (the lower middle one for an even count). With the
    usual midpoint, a setting whose runs split evenly between two clusters (collapsed
    and trained) gets a center between them and every deviation equal: at 16 seeds,
    30% collapsed, the first look's boundary was crossed 2.8 times as often as it
    should (0.0231 for 0.0083); with the lower median 0.0052. From 64 seeds on they
    agree (docs/statistics.md, "The center of spread looks")."""
    center = np.quantile(x, 0.5, axis=-1, method="inverted_cdf", keepdims=True)
    return np.abs(x - center)


def t_to_z(t: np.ndarray, df: np.ndarray) -> np.ndarray:
    """A t statistic on the z scale with the same one-sided tail: Phi^-1(F_t(t; df)).
    The boundaries are for N(0, 1) statistics; the t's own tail keeps small looks exact
    for normal data."""
    return quiet(lambda: np.sign(t) * st.norm.isf(st.t.sf(np.abs(t), df)))


def z_two_sample(u: np.ndarray, v: np.ndarray, *, paired: bool, pooled: bool) -> np.ndarray:
    """z of the paired t (u - v), pooled t (Brown-Forsythe on deviations) or Welch t,
    along the last axis."""
    with np.errstate(all="ignore"):
        if paired:
            d = u - v
            n = d.shape[-1]
            t = d.mean(-1) / (d.std(-1, ddof=1) / math.sqrt(n))
            return t_to_z(t, np.full(t.shape, n - 1.0))
        na, nb = u.shape[-1], v.shape[-1]
        va, vb = u.var(-1, ddof=1), v.var(-1, ddof=1)
        diff = u.mean(-1) - v.mean(-1)
        if pooled:
            sp2 = ((na - 1) * va + (nb - 1) * vb) / (na + nb - 2)
            t = diff / np.sqrt(sp2 * (1 / na + 1 / nb))
            return t_to_z(t, np.full(diff.shape, na + nb - 2.0))
        ea, eb = va / na, vb / nb
        df = (ea + eb) ** 2 / (ea**2 / (na - 1) + eb**2 / (nb - 1))
        return t_to_z(diff / np.sqrt(ea + eb), df)


def z_path(x: np.ndarray, y: np.ndarray, *, kind: str, paired: bool,
           schedule: tuple[int, ...]) -> np.ndarray:
    """z at every look for continuous data without NaN, shape (..., K): seeds < n_k of
    ``x`` (..., >= n_K) and ``y``. What ``statistic`` computes look by look for data
    that vary (the simulations call this)."""
    out = []
    for n in schedule:
        a, b = x[..., :n], y[..., :n]
        if kind == "spread":
            a, b = deviations(a), deviations(b)
        out.append(z_two_sample(a, b, paired=paired, pooled=kind == "spread"))
    return np.stack(out, axis=-1)


class Stat(NamedTuple):
    z: float         # signed: positive when A's mean (spread) is the greater
    estimate: float  # A - B: difference of means, or of mean |x - median|
    n_a: int
    n_b: int
    test: str
    note: str


TESTS = {("mean", False): "Welch t", ("mean", True): "paired t",
         ("spread", False): "Brown-Forsythe", ("spread", True): "paired Brown-Forsythe"}


def _exact_z(sign: float, n_a: int, n_b: int, paired: bool) -> float:
    """z of the exact permutation test when nothing varies and a difference exists
    (every arrangement but the observed is less extreme): two-sided p = 2 / 2^n for sign
    flips of n pairs, 2 / C(n_a + n_b, n_a) for splits. A t would be infinite at any n."""
    log_half_p = -n_a * math.log(2) if paired else -math.log(math.comb(n_a + n_b, n_a))
    return sign * float(st.norm.isf(math.exp(log_half_p))) if log_half_p > -700 else sign * math.inf


def statistic(x: np.ndarray, y: np.ndarray, *, kind: str, paired: bool) -> Stat:
    """One claim at one look: ``x``, ``y`` the values of seeds < n (NaN: diverged, left
    out; paired: aligned by seed, a pair dropped when either side diverged). z NaN
    when too few finished runs (2, or 3 for spread, a side or pairs)."""
    test, min_n = TESTS[(kind, paired)], SPREAD_MIN_N if kind == "spread" else 2
    if paired:
        keep = np.isfinite(x) & np.isfinite(y)
        x, y = x[keep], y[keep]
    else:
        x, y = x[np.isfinite(x)], y[np.isfinite(y)]
    if min(x.size, y.size) < min_n:
        return Stat(float("nan"), float("nan"), x.size, y.size, test,
                    f"too few finished runs ({min_n} needed a side)")
    x, y = snap(x, x, y), snap(y, x, y)
    u, v = (deviations(x), deviations(y)) if kind == "spread" else (x, y)
    estimate = float(np.mean(u) - np.mean(v))
    if abs(estimate) <= tolerance(x, y):
        estimate = 0.0
    if paired:
        flat = is_constant(u - v, x, y)
    else:
        flat = is_constant(u, x, y) and is_constant(v, x, y)
    if flat:  # "constant" is decided by _base.is_constant, as everywhere in stats
        if estimate == 0.0:
            return Stat(0.0, 0.0, x.size, y.size, test, "no seed variation and no difference")
        z = _exact_z(math.copysign(1.0, estimate), x.size, y.size, paired)
        return Stat(z, estimate, x.size, y.size, f"exact permutation ({test} undefined)",
                    "no seed variation: exact permutation test")
    z = float(z_two_sample(u, v, paired=paired, pooled=kind == "spread"))
    return Stat(z, estimate, x.size, y.size, test, "")


# --- the decision procedure ----------------------------------------------------------------

class Decisions(NamedTuple):
    code: np.ndarray   # (..., m): CONTINUE, ..., NOT_SHOWN, UNTESTABLE
    look: np.ndarray   # (..., m): look of the decision, -1 while undecided
    level: np.ndarray  # (..., m, K): index into ``levels`` each look was tested at, -1 if not
    levels: tuple[float, ...]
    efficacy: np.ndarray  # (len(levels), K)
    futility: np.ndarray  # (len(levels), K)


def levels_for(m: int, alpha: float, correction: str) -> tuple[float, ...]:
    """Level of a claim after r rejections, r = 0..m-1: Holm's weights (alpha / (m - r),
    the graphical procedure of Maurer and Bretz 2013 with equal weights), or alpha / m
    throughout for Bonferroni."""
    if correction == "bonferroni":
        return (alpha / m,) * m
    return tuple(alpha / (m - r) for r in range(m))


def _rejected(code: np.ndarray, m: int) -> np.ndarray:
    """Rejections so far, as an index into the levels (all m rejected: no claim is
    left to test, any index does)."""
    return np.minimum(np.isin(code, (POSITIVE, NEGATIVE)).sum(-1), m - 1)


def decide(z: np.ndarray, ready: np.ndarray, *, schedule: tuple[int, ...], alpha: float,
           correction: str = "holm", futility: bool = True) -> Decisions:
    """Decisions of m claims over K looks. ``z`` (..., m, K): signed statistics (NaN:
    untestable at that look: too few finished runs); ``ready`` (..., m, K): the look's
    seeds are all there (a claim stops, undecided, at its first look that is not ready).
    A claim untestable at a ready look stops there (UNTESTABLE): more seeds of a setting
    that diverges at every seed would only be spent on a "z = nan" at every look, and a
    stop that never rejects costs no type-I error (as futility).

    At each look the claims still open are tested against the boundary at their level;
    each rejection passes its level on (Holm) and the rest are tested again at the
    larger level, until none crosses; then the rest stop for futility or, at the last
    look, as not shown. Only the current look is tested: Maurer and Bretz also allow a
    recomputed boundary to reject at an earlier look, so this rejects a subset of what
    their procedure does and keeps its familywise error <= alpha."""
    z = np.asarray(z, float)
    m, K = z.shape[-2:]
    levels = levels_for(m, alpha, correction)
    eff = np.array([efficacy_bounds(schedule, a) for a in levels])
    fut = np.array([futility_bounds(schedule, a) for a in levels])
    code = np.zeros(z.shape[:-1], int)
    look = np.full(z.shape[:-1], -1)
    level = np.full(z.shape, -1)
    stalled = np.zeros(z.shape[:-1], bool)
    for k in range(K):
        stalled |= ~ready[..., k]
        live = (code == CONTINUE) & ~stalled
        zk = z[..., k]
        blank = live & np.isnan(zk)
        code[blank], look[blank] = UNTESTABLE, k
        live &= ~blank
        for _ in range(m):
            r = _rejected(code, m)
            level[..., k] = np.where(live, r[..., None], level[..., k])
            with np.errstate(invalid="ignore"):
                cross = live & (np.abs(zk) >= eff[r, k][..., None])
            if not cross.any():
                break
            code[cross] = np.where(zk[cross] > 0, POSITIVE, NEGATIVE)
            look[cross] = k
            live &= ~cross
        r = _rejected(code, m)
        if k == K - 1:
            stop, what = live, NOT_SHOWN
        else:
            with np.errstate(invalid="ignore"):
                stop = live & (np.abs(zk) < fut[r, k][..., None]) if futility else live & False
            what = FUTILE
        code[stop], look[stop] = what, k
    return Decisions(code, look, level, levels, eff, fut)
