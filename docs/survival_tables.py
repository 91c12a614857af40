"""Measured tables of docs/statistics.md for time to target and whole curves (issue 27):
coverage of the median and restricted-mean intervals under censoring, type-I error of
the log-rank and curve tests, power at Schoenfeld's seed count, and whole-curve
coverage of the simultaneous band against the pointwise one.

Run from the repository root (every table has a fixed seed):

    python docs/survival_tables.py                 # every table
    python docs/survival_tables.py median logrank  # some of them

Tables: median, logrank, seeds, curve_test, band, profile. Thousands of replications call the
very functions the library calls, vectorized over replications (km_positions,
median_ci, rmst, logrank_parts); the curve tables call curve_test and curve_band
themselves, one replication at a time.
"""

from __future__ import annotations

import math
import sys
import time

import numpy as np
import scipy.optimize as opt
import scipy.stats as st

from jaxstab.stats import (
    TimeToTarget,
    curve_band,
    curve_test,
    seeds_needed_time_to_target,
    time_profile,
)
from jaxstab.stats._profiles import _area, _ratios
from jaxstab.stats._survcompare import _z, logrank_parts
from jaxstab.stats._survival import km_positions, median_ci, rmst, rmst_t_parts
from _tables import rng_for  # docs/_tables.py

NS = (8, 16, 64)
CENSORING = (0.0, 0.3, 0.7)
# Time to target: ceil of a Weibull(1.5, scale 15) in steps (ties, as on a step grid).
SHAPE, SCALE, TAU, H = 1.5, 15.0, 20.0, 200


def surv(t: np.ndarray) -> np.ndarray:
    return np.exp(-(np.asarray(t, float) / SCALE) ** SHAPE)


TRUE_MEDIAN = float(np.argmax(surv(np.arange(H)) <= 0.5))
TRUE_RMST = float(np.sum(surv(np.arange(int(TAU)))))  # S is constant on [k, k+1)


def censor_rate(share: float) -> float:
    """Rate of an exponential censoring time C (ceil'd to steps) that censors ``share``
    of runs: P(C < T) = sum_t P(T = t) (1 - exp(-rate (t - 1)))."""
    t = np.arange(1, H)
    p_t = surv(t - 1) - surv(t)
    return float(opt.brentq(lambda r: np.sum(p_t * -np.expm1(-r * (t - 1))) - share,
                            1e-9, 50.0))


def draw(gen: np.random.Generator, reps: int, n: int, share: float):
    t = np.ceil(SCALE * gen.weibull(SHAPE, (reps, n)))
    if share == 0:
        return t, np.ones(t.shape, bool)
    c = np.ceil(gen.exponential(1 / censor_rate(share), (reps, n)))
    return np.minimum(t, c), t <= c


def table_median(reps: int = 10_000) -> None:
    print(f"true median {TRUE_MEDIAN:g} steps, true restricted mean to {TAU:g} steps "
          f"{TRUE_RMST:.3f}; {reps} replications a cell (Monte-Carlo error of a "
          f"coverage near 0.95: +-{1.96 * math.sqrt(0.0475 / reps):.3f})")
    print("| censored | runs | seen censored | median: covers | median: no point | "
          "median: open top | RMST: normal | RMST: used (t) | RMST a - b: used (Welch t) |")
    print("|---|---|---|---|---|---|---|---|---|")
    for share in CENSORING:
        for n in NS:
            gen = rng_for("median", share, n)
            d, e = draw(gen, reps, n, share)
            km = km_positions(d, e)
            med, lo, hi = median_ci(km, 0.95)
            mean, var = rmst(km, TAU)
            normal = np.mean(np.abs(mean - TRUE_RMST) <= st.norm.ppf(0.975) * np.sqrt(var))
            tv, df = rmst_t_parts(var, n, e.sum(axis=1))
            used = np.mean(np.abs(mean - TRUE_RMST) <= st.t.ppf(0.975, df) * np.sqrt(tv))
            # the difference with a second setting drawn from the same law (truth 0)
            d2, e2 = draw(gen, reps, n, share)
            mean2, var2 = rmst(km_positions(d2, e2), TAU)
            tv2, df2 = rmst_t_parts(var2, n, e2.sum(axis=1))
            with np.errstate(invalid="ignore"):  # both variances 0: nobody reached
                welch = (tv + tv2) ** 2 / (tv ** 2 / df + tv2 ** 2 / df2)
                diff = np.mean(np.abs(mean - mean2) <= st.t.ppf(0.975, welch) * np.sqrt(tv + tv2))
            cover = np.mean((lo <= TRUE_MEDIAN) & (TRUE_MEDIAN <= hi))
            print(f"| {share:.0%} | {n} | {1 - e.mean():.2f} | {cover:.3f} | "
                  f"{np.mean(np.isinf(med)):.3f} | {np.mean(np.isinf(hi)):.3f} | "
                  f"{normal:.3f} | {used:.3f} | {diff:.3f} |")


PERM_REPS = 2_000


def table_logrank(reps: int = 20_000) -> None:
    print(f"{reps} replications a cell; both settings draw from the same law; 10% of runs "
          f"diverge (never reach: kept at risk to the horizon {H}); alpha 0.05 "
          f"(Monte-Carlo error +-{1.96 * math.sqrt(0.0475 / reps):.3f})")
    print(f"| censored | runs a setting | log-rank (chi-square) | stratified, 4 strata of "
          f"runs/4 (chi-square) | log-rank (permutation, {PERM_REPS} replications) |")
    print("|---|---|---|---|---|")
    crit = st.chi2.ppf(0.95, 1)
    for share in CENSORING:
        for n in NS:
            gen = rng_for("logrank", share, n)
            d, e = draw(gen, reps, 2 * n, share)
            div = gen.random(d.shape) < 0.1
            d, e = np.where(div, H, d), e & ~div
            g = np.r_[np.ones(n, bool), np.zeros(n, bool)]
            oe, v = logrank_parts(d, e, g)
            with np.errstate(invalid="ignore"):  # V = 0: nobody reached, no rejection
                plain = np.mean(oe ** 2 / v > crit)
            # Strata: 4 tasks whose steps differ 1x, 2x, 4x, 8x, n/4 runs of each
            # setting in each; the stratified test sums O - E and V over them.
            k, oes, vs = n // 4, 0.0, 0.0
            for j in range(4):
                idx = np.r_[j * k + np.arange(k), n + j * k + np.arange(k)]
                o, w = logrank_parts(d[:, idx] * 2 ** j, e[:, idx],
                                     np.r_[np.ones(k, bool), np.zeros(k, bool)])
                oes, vs = oes + o, vs + w
            with np.errstate(invalid="ignore"):
                strat = np.mean(oes ** 2 / vs > crit)
            # the default at these sizes: relabellings, as compare_time_to_target does
            perm = 0
            for i in range(PERM_REPS):
                labels = gen.permuted(np.broadcast_to(g, (199, g.size)), axis=1)
                o, w = logrank_parts(np.broadcast_to(d[i], labels.shape),
                                     np.broadcast_to(e[i], labels.shape), labels)
                z, zn = _z(oe[i], v[i]), _z(o, w)
                perm += (1 + np.sum(np.abs(zn) >= abs(z) - 1e-9 * max(abs(z), 1))) / 200 <= 0.05
            print(f"| {share:.0%} | {n} | {plain:.4f} | {strat:.4f} | {perm / PERM_REPS:.3f} |")


def table_seeds(reps: int = 4_000) -> None:
    print(f"{reps} replications a cell: exponential times to target, a hazard ratio "
          f"between the settings, administrative censoring at the horizon that leaves the "
          f"stated share reaching (pooled); two-sided log-rank at 0.05, target power 0.8")
    print("| hazard ratio | share reaching | seeds (Schoenfeld) | simulated power |")
    print("|---|---|---|---|")
    for hr in (1.5, 2.0, 3.0):
        for share in (1.0, 0.6):
            n = seeds_needed_time_to_target(hr, share)
            # rates 1 and hr; horizon h such that the pooled share reaching is `share`
            h = np.inf if share == 1 else opt.brentq(
                lambda x: (2 - np.exp(-x) - np.exp(-hr * x)) / 2 - share, 1e-6, 100)
            gen = rng_for("seeds", hr, share)
            ta, tb = gen.exponential(1 / hr, (reps, n)), gen.exponential(1.0, (reps, n))
            t = np.c_[ta, tb]
            d, e = np.minimum(t, h), t <= h
            oe, v = logrank_parts(d, e, np.r_[np.ones(n, bool), np.zeros(n, bool)])
            print(f"| {hr:g} | {share:g} | {n} | {np.mean(oe ** 2 / v > st.chi2.ppf(0.95, 1)):.3f} |")


def ar_noise(gen: np.random.Generator, n: int, steps: int, dist: str) -> np.ndarray:
    """AR(1) noise over steps (phi 0.9, unit variance): neighbouring steps of one run
    move together, as learning curves do; "skewed" draws the innovations from a centred
    gamma(2)."""
    e = gen.standard_normal((n, steps)) if dist == "normal" else \
        (gen.gamma(2.0, 1.0, (n, steps)) - 2.0) / math.sqrt(2.0)
    x = np.empty_like(e)
    x[:, 0] = e[:, 0]
    for t in range(1, steps):
        x[:, t] = 0.9 * x[:, t - 1] + math.sqrt(1 - 0.81) * e[:, t]
    return x


STEPS = 50
CURVE = 0.9 - 0.4 * np.exp(-np.arange(STEPS) / 10)


def table_curve_test(reps: int = 1_000) -> None:
    print(f"{reps} replications a cell, {STEPS} steps, both settings the same mean curve "
          f"with AR(1) noise; unpaired: independent settings; paired: a per-seed curve "
          f"shared by both settings plus independent noise (the unpaired test on such "
          f"data is conservative: it ignores the shared part); 999 resamples a test; "
          f"alpha 0.05 (Monte-Carlo error "
          f"+-{1.96 * math.sqrt(0.0475 / reps):.3f})")
    print("| noise | runs a setting | unpaired (permutation max-t) | paired (sign-flip max-t) |")
    print("|---|---|---|---|")
    for dist in ("normal", "skewed"):
        for n in NS:
            gen = rng_for("curve_test", dist, n)
            rej = {False: 0, True: 0}
            for _ in range(reps):
                a = CURVE + 0.02 * ar_noise(gen, n, STEPS, dist)
                b = CURVE + 0.02 * ar_noise(gen, n, STEPS, dist)
                rej[False] += curve_test(a, b, n_resamples=999, rng=gen).p_value <= 0.05
                seed = ar_noise(gen, n, STEPS, dist)
                a = CURVE + 0.02 * (seed + ar_noise(gen, n, STEPS, dist))
                b = CURVE + 0.02 * (seed + ar_noise(gen, n, STEPS, dist))
                rej[True] += curve_test(a, b, paired=True, n_resamples=999,
                                        rng=gen).p_value <= 0.05
            print(f"| {dist} | {n} | {rej[False] / reps:.3f} | {rej[True] / reps:.3f} |")


def boot_max_t_crit(x: np.ndarray, gen: np.random.Generator, b: int = 1000) -> float:
    """The alternative not used: nonparametric bootstrap of the studentized max-t."""
    n = x.shape[0]
    xb = x[gen.integers(0, n, (b, n))]
    se = xb.std(axis=1, ddof=1) / math.sqrt(n)
    with np.errstate(divide="ignore", invalid="ignore"):
        t = np.abs(xb.mean(axis=1) - x.mean(axis=0)) / se
    return float(np.quantile(np.nanmax(t, axis=1), 0.95))


def table_band(reps: int = 1_000) -> None:
    print(f"{reps} replications a cell, {STEPS} steps, AR(1) noise; share of replications "
          f"whose band holds the true mean curve at every step (Monte-Carlo error "
          f"+-{1.96 * math.sqrt(0.0475 / reps):.3f}); 1000 resamples (n = 8: all 256 sign "
          f"patterns)")
    print("| noise | runs | pointwise t band | simultaneous (sign-flip max-t, used) | "
          "max-t nonparametric bootstrap (not used) | mean critical value |")
    print("|---|---|---|---|---|---|")
    for dist in ("normal", "skewed"):
        for n in NS:
            gen = rng_for("band", dist, n)
            pw = sim = boot = 0
            crits = []
            for _ in range(reps):
                x = CURVE + 0.02 * ar_noise(gen, n, STEPS, dist)
                band = curve_band(x, n_resamples=1000, rng=gen)
                pw += np.all((band.pointwise_low <= CURVE) & (CURVE <= band.pointwise_high))
                sim += np.all((band.low <= CURVE) & (CURVE <= band.high))
                se = x.std(axis=0, ddof=1) / math.sqrt(n)
                boot += np.all(np.abs(band.mean - CURVE) <= boot_max_t_crit(x, gen) * se)
                crits.append(band.critical)
            print(f"| {dist} | {n} | {pw / reps:.3f} | {sim / reps:.3f} | {boot / reps:.3f} | "
                  f"{np.mean(crits):.2f} |")


def table_profile(reps: int = 400) -> None:
    # Two methods on 5 tasks; lognormal steps to target (sigma 0.5), so the true median
    # of a cell is exp(mu); b is slower than a by the factors below on each task.
    mu = np.log([20.0, 40.0, 60.0, 80.0, 100.0])
    slower = np.array([0.7, 1.0, 1.5, 2.0, 3.0])
    true = np.exp(np.stack([mu, mu + np.log(slower)]))
    score = _area(_ratios(true), 4.0)
    print(f"{reps} replications a cell, 2 methods x 5 tasks, lognormal steps to target "
          f"(sigma 0.5), b slower than a by {slower.tolist()} (true scores "
          f"{score[0]:.3f}, {score[1]:.3f}); censoring: an exponential time with mean "
          f"(1/c - 1) x the cell's true median, c the nominal share (the share seen is "
          f"in the table); 1000 bootstrap resamples; Monte-Carlo error "
          f"+-{1.96 * math.sqrt(0.0475 / reps):.3f}")
    print("| nominal c | seen censored | runs a cell | covers: a | covers: b | mean width: a "
          "| mean width: b |")
    print("|---|---|---|---|---|---|---|")
    for share in (0.0, 0.3):
        for n in NS[:2]:
            gen = rng_for("profile", share, n)
            hits, widths, seen = np.zeros(2), np.zeros(2), 0.0
            for _ in range(reps):
                cells = {}
                for m, name in enumerate("ab"):
                    cells[name] = []
                    for k in range(5):
                        t = true[m, k] * np.exp(0.5 * gen.standard_normal(n))
                        c = gen.exponential(true[m, k] * (1 / share - 1), n) if share else \
                            np.full(n, np.inf)
                        h = float(np.max(np.minimum(t, c)))
                        seen += np.mean(t > c) / 10
                        cells[name].append(TimeToTarget(
                            np.minimum(t, c), np.where(t <= c, 1, 0).astype(np.int8), h))
                prof = time_profile(cells, n_resamples=1000, rng=gen)
                for m, name in enumerate("ab"):
                    iv = prof.score[name]
                    hits[m] += iv.low <= score[m] <= iv.high
                    widths[m] += iv.high - iv.low
            print(f"| {share:.0%} | {seen / reps:.2f} | {n} | {hits[0] / reps:.3f} | "
                  f"{hits[1] / reps:.3f} | "
                  f"{widths[0] / reps:.3f} | {widths[1] / reps:.3f} |")


TABLES = {"median": table_median, "logrank": table_logrank, "seeds": table_seeds,
          "curve_test": table_curve_test, "band": table_band, "profile": table_profile}

if __name__ == "__main__":
    for name in sys.argv[1:] or list(TABLES):
        if name not in TABLES:
            sys.exit(f"unknown table {name!r}; choose from {', '.join(TABLES)}")
        start = time.perf_counter()
        print(f"\n### {name}\n")
        TABLES[name]()
        print(f"\n({time.perf_counter() - start:.0f} s)")
