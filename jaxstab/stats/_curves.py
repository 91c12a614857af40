"""Whole learning curves: a simultaneous band for a setting's mean curve, and a test
that two settings' mean curves differ anywhere.

A pointwise 95% band covers the mean at each step, not the curve: over 50 correlated
steps it held the whole true curve in 35-45% of replications (docs/statistics.md). Both
procedures here use the max over steps of a studentized statistic, whose null
distribution carries the correlation between steps. Runs are resampled by sign flips
or label permutations of whole curves, never step by step: the seed is the unit.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.stats as st

from jaxstab.errors import UserError
from jaxstab.stats import _check
from jaxstab.stats._base import Record, tolerance
from jaxstab.stats._survival import _steps


@dataclass(frozen=True)
class CurveBand(Record):
    """Mean curve of the finished runs of one setting over ``steps``, with the pointwise
    t band (each step alone) and the simultaneous band (the whole curve at once), both
    at ``level``; ``critical`` is the simultaneous band's multiplier of the standard
    error (the pointwise one's is the t quantile)."""

    steps: np.ndarray
    mean: np.ndarray
    pointwise_low: np.ndarray
    pointwise_high: np.ndarray
    low: np.ndarray
    high: np.ndarray
    critical: float
    n: int
    n_diverged: int
    level: float
    n_resamples: int
    note: str


@dataclass(frozen=True)
class CurveTest(Record):
    """Whether the mean curves of ``a`` and ``b`` differ at any step: ``statistic`` is
    the largest |t| over steps (paired t on per-seed differences, or Welch's t),
    ``p_value`` from sign flips (paired; all 2^n patterns when there are at most
    ``n_resamples``) or label permutations; ``step_p`` per step,
    adjusted for all steps at once (single-step max-T, Westfall & Young), so the steps
    with ``step_p <= alpha`` are where the curves differ, familywise-controlled."""

    statistic: float
    p_value: float
    step_p: np.ndarray
    steps: np.ndarray
    paired: bool
    n_a: int
    n_b: int
    n_resamples: int
    method: str
    note: str


def _curves(x: Any, name: str, min_n: int = 2) -> np.ndarray:
    try:
        c = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise UserError(f"{name}: need numbers, got {type(x).__name__}") from None
    if c.ndim != 2 or c.shape[1] < 1:
        raise UserError(f"{name}: need a 2-D array (runs x steps), got shape {c.shape}")
    return c


def _studentize(num: np.ndarray, se: np.ndarray, scale: float) -> np.ndarray:
    """num / se, 0 where the runs do not vary at a step: se within rounding residue of
    the curves' ``scale`` (their largest |value|), as ``_base.is_constant`` decides."""
    flat = se <= tolerance([scale])
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(flat, 0.0, num / np.where(flat, 1.0, se))


def flip_max_t(resid: np.ndarray, signs: np.ndarray, scale: float) -> np.ndarray:
    """Max over steps of |t| of the mean of sign-flipped ``resid`` (runs x steps), one
    per row of ``signs`` (resamples x runs): the wild (Rademacher) bootstrap of a mean
    curve, and the exact sign-flip null of a paired difference."""
    n = resid.shape[0]
    m = signs @ resid / n
    ss = np.sum(resid ** 2, axis=0)
    se = np.sqrt(np.maximum(ss - n * m ** 2, 0.0) / (n - 1) / n)
    return np.max(np.abs(_studentize(m, se, scale)), axis=-1)


def sign_patterns(n: int, n_resamples: int, gen: np.random.Generator) -> tuple[np.ndarray, bool]:
    """Every one of the 2^n sign patterns when there are at most ``n_resamples`` (the
    exact distribution: at 10 runs, 499 random draws held all-equal signs 6 times for
    rng 0 against 1 expected), else ``n_resamples`` random ones; ``True`` when exact."""
    if 2 ** n <= n_resamples:
        bits = (np.arange(2 ** n)[:, None] >> np.arange(n)) & 1
        return 1.0 - 2.0 * bits, True
    return gen.choice(np.array([-1.0, 1.0]), size=(n_resamples, n)), False


def curve_band(curves: Any, *, steps: Any = None, level: float = 0.95,
               n_resamples: int = 2000, rng: Any = None) -> CurveBand:
    """Simultaneous and pointwise bands for the mean of ``curves`` (runs x steps).

    Runs with a non-finite point (diverged) are left out and counted, as in
    ``summarize``: the band is for the mean curve of runs that finished. The
    simultaneous band is mean +- c se, c the ``level`` quantile of max_t |t*| under
    sign flips of the runs' residual curves (a wild bootstrap). The nonparametric
    bootstrap of the same max-t covers 99-100% at 8 runs (resamples with few distinct
    runs have tiny spreads and huge t); sign flips covered 0.948-0.955 for normal
    noise, 0.93 for skewed noise, from 8 to 64 runs (docs/statistics.md).
    """
    c = _curves(curves, "curves")
    level = _check.level(level)
    n_resamples = _check.positive_int(n_resamples, "n_resamples", 100)
    gen = _check.rng(rng)
    s = _steps(steps, c.shape[1])
    ok = np.all(np.isfinite(c), axis=1)
    kept = c[ok]
    n = kept.shape[0]
    if n < 3:
        raise UserError(f"curves: need at least 3 runs without a non-finite point, got {n}")
    mean = kept.mean(axis=0)
    se = kept.std(axis=0, ddof=1) / np.sqrt(n)
    scale = float(np.max(np.abs(kept)))
    signs, _ = sign_patterns(n, n_resamples, gen)
    crit = float(np.quantile(flip_max_t(kept - mean, signs, scale), level))
    tq = float(st.t.ppf(0.5 + level / 2, n - 1))
    n_div = int((~ok).sum())
    notes = [f"{n_div} diverged run(s) left out"] if n_div else []
    if n < 8:
        notes.append(f"{n} runs: only {2 ** n} sign patterns, the band is coarse")
    return CurveBand(steps=s, mean=mean, pointwise_low=mean - tq * se,
                     pointwise_high=mean + tq * se, low=mean - crit * se,
                     high=mean + crit * se, critical=crit, n=n, n_diverged=n_div,
                     level=level, n_resamples=int(signs.shape[0]), note="; ".join(notes))


def welch_max_t(x: np.ndarray, member: np.ndarray, scale: float) -> np.ndarray:
    """Max over steps of |Welch t| between runs with ``member`` true and false, one per
    row of ``member`` (resamples x runs), x runs x steps: group sums by matrix product."""
    w = member.astype(float)
    na, nb = w.sum(axis=-1, keepdims=True), (1 - w).sum(axis=-1, keepdims=True)
    sa, sb = w @ x, (1 - w) @ x
    qa, qb = w @ x ** 2, (1 - w) @ x ** 2
    ma, mb = sa / na, sb / nb
    va = np.maximum(qa - na * ma ** 2, 0.0) / (na - 1)
    vb = np.maximum(qb - nb * mb ** 2, 0.0) / (nb - 1)
    return np.max(np.abs(_studentize(ma - mb, np.sqrt(va / na + vb / nb), scale)), axis=-1)


def curve_test(a: Any, b: Any, *, paired: bool = False, steps: Any = None,
               n_resamples: int = 1999, rng: Any = None) -> CurveTest:
    """Test that the mean curves of ``a`` and ``b`` (runs x steps each) differ at some
    step, controlling the error over all steps together.

    ``paired=True`` when row i of both comes from the same seed index (the caller knows
    this from the study's seed sources): per-seed differences, sign flips (exact for a
    symmetric null). Otherwise Welch's t at every step and permutations of the run
    labels (exact under exchangeable runs). Runs with a non-finite point (diverged) are
    left out, a pair whole when paired.
    """
    x, y = _curves(a, "a"), _curves(b, "b")
    if x.shape[1] != y.shape[1]:
        raise UserError(f"b: need as many steps as a ({x.shape[1]}), got {y.shape[1]}")
    if not isinstance(paired, bool):
        raise UserError(f"paired: must be True or False, got {paired!r}")
    n_resamples = _check.positive_int(n_resamples, "n_resamples", 99)
    gen = _check.rng(rng)
    s = _steps(steps, x.shape[1])
    okx, oky = np.all(np.isfinite(x), axis=1), np.all(np.isfinite(y), axis=1)
    if paired:
        if x.shape != y.shape:
            raise UserError(f"b: paired curves need the same shape as a, got {x.shape} "
                            f"and {y.shape}")
        keep = okx & oky
        d = x[keep] - y[keep]
        if d.shape[0] < 3:
            raise UserError(f"a, b: need at least 3 complete pairs, got {d.shape[0]}")
        scale = float(max(np.max(np.abs(x[keep])), np.max(np.abs(y[keep]))))
        observed = flip_max_t(d, np.ones((1, d.shape[0])), scale)
        t_obs = _studentize(d.mean(0), d.std(0, ddof=1) / np.sqrt(d.shape[0]), scale)
        signs, exact = sign_patterns(d.shape[0], n_resamples, gen)
        null = flip_max_t(d, signs, scale)
        n_a = n_b = d.shape[0]
        method, dropped = "sign-flip max-t", int((~keep).sum())
    else:
        xa, yb = x[okx], y[oky]
        n_a, n_b = xa.shape[0], yb.shape[0]
        if min(n_a, n_b) < 2:
            raise UserError(f"a, b: need at least 2 finished runs each, got {n_a} and {n_b}")
        pooled = np.concatenate([xa, yb])
        scale = float(np.max(np.abs(pooled)))
        label = np.r_[np.ones(n_a, bool), np.zeros(n_b, bool)]
        observed = welch_max_t(pooled, label[None], scale)
        va, vb = xa.var(0, ddof=1) / n_a, yb.var(0, ddof=1) / n_b
        t_obs = _studentize(xa.mean(0) - yb.mean(0), np.sqrt(va + vb), scale)
        perms = np.argsort(gen.random((n_resamples, n_a + n_b)), axis=1) < n_a
        null = welch_max_t(pooled, perms, scale)
        method, dropped = "permutation max-t", int((~okx).sum() + (~oky).sum())
        exact = False
    stat = float(observed[0])
    # Ties within float rounding count as at least as extreme (a permutation equal to
    # the observed labelling must not be ranked below it by residue).
    eps = 1e-9 * max(stat, 1.0)
    # Every pattern enumerated (the identity among them): the exact p-value. Random
    # resamples: the observed labelling is added to them (Phipson & Smyth 2010).
    extra = 0 if exact else 1
    p = (extra + np.sum(null >= stat - eps)) / (null.size + extra)
    step_p = (extra + np.sum(null[:, None] >= np.abs(t_obs)[None] - eps, axis=0)) \
        / (null.size + extra)
    note = f"{dropped} run(s) with a non-finite point left out" if dropped else ""
    return CurveTest(statistic=stat, p_value=float(p), step_p=step_p, steps=s,
                     paired=paired, n_a=n_a, n_b=n_b, n_resamples=int(null.size),
                     method=method + (" (all sign patterns)" if exact else ""), note=note)
