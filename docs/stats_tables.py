"""Measured tables of docs/statistics.md for the degenerate and real-distribution cases
(issue 13): spread intervals, the std interval under collapsed runs, seeds needed for
spread claims, and the type-I error of every comparison added.

Run from the repository root (every table has a fixed seed):

    python docs/stats_tables.py                # every table
    python docs/stats_tables.py spread seeds   # some of them

Tables: spread, bf_null, std, seeds, type1, factorial, divergence. Each replication calls the
library itself (compare, std_interval, seeds_needed, factorial) or, where thousands of
replications must be vectorized, the very test functions and correction the library
calls (jaxstab.stats._tests, adjust_pvalues, _best.not_best_p).
"""

from __future__ import annotations

import math
import sys
import warnings
from types import SimpleNamespace

import numpy as np
import scipy.stats as st

from jaxstab.stats import (adjust_pvalues, compare, divergence_test, factorial,
                           seeds_needed, std_interval)
from jaxstab.stats import _best, _tests
from _tables import rng_for, run_tables  # docs/_tables.py

ALPHA = 0.05
DISTS = ("normal", "beta", "collapse")
NS = (5, 10, 30)
BETA = (45, 5)
COLLAPSE = 0.2  # share of runs stuck at 0.5 while the rest train to N(0.9, 0.02^2)


def draw(dist: str, size, gen: np.random.Generator) -> np.ndarray:
    if dist == "normal":
        return gen.normal(0.9, 0.03, size)
    if dist == "beta":
        return gen.beta(*BETA, size)
    if dist == "lognormal":
        return gen.lognormal(0.0, 0.75, size)
    if dist == "collapse":
        return np.where(gen.random(size) < COLLAPSE, 0.5, gen.normal(0.9, 0.02, size))
    raise ValueError(dist)


def sigma(dist: str) -> float:
    if dist == "normal":
        return 0.03
    if dist == "beta":
        return float(np.sqrt(st.beta(*BETA).var()))
    if dist == "lognormal":
        return float(np.sqrt(st.lognorm(0.75).var()))
    mean = COLLAPSE * 0.5 + (1 - COLLAPSE) * 0.9
    second = COLLAPSE * 0.25 + (1 - COLLAPSE) * (0.9**2 + 0.02**2)
    return math.sqrt(second - mean**2)


def pair(dist: str, n: int, reps: int, paired: bool, ratio: float, gen):
    """A = ratio * Z_A, B = Z_B with Z_A, Z_B of the same shape, so every scale
    (std, mean |x - median|) of A is ``ratio`` times B's. Paired: a shared seed draw,
    as paired runs share keys (correlation about 2/3)."""
    if paired:
        common = draw(dist, (reps, n), gen)
        za = common + 0.7 * draw(dist, (reps, n), gen)
        zb = common + 0.7 * draw(dist, (reps, n), gen)
    else:
        za, zb = draw(dist, (reps, n), gen), draw(dist, (reps, n), gen)
    return ratio * za, zb


def row(*cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def f3(x: float) -> str:
    return f"{x:.3f}"


# --- spread intervals (findings 7) ---------------------------------------------------------

def _old_bca_std_diff(a, b, paired, gen, resamples=999):
    """The interval compare used before: BCa bootstrap of std(A) - std(B)."""
    def stat(x, y, axis=-1):
        return np.std(x, axis=axis, ddof=1) - np.std(y, axis=axis, ddof=1)
    with np.errstate(all="ignore"), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        res = st.bootstrap((a, b), stat, n_resamples=resamples, vectorized=True, axis=-1,
                           paired=paired, method="BCa", rng=gen, batch=50)
    return res.confidence_interval


def spread(reps: int = 1000) -> None:
    print(f"spread intervals: {reps} replications per cell; alternative std ratio 1.5, "
          f"null ratio 1\n")
    print(row("data", "n", "design", "ratio covers 1.5", "difference covers",
              "ratio or difference excludes equality under the null",
              "primary test rejects under the null", "old BCa std diff covers",
              "old BCa std diff excludes 0 under the null"))
    print(row(*["---"] * 9))
    for dist in DISTS:
        for n in NS:
            for paired in (False, True):
                target = 0.5 * sigma_pair(dist, paired)  # (1.5 - 1) times B's std
                gen = rng_for("spread", dist, n, paired)
                a, b = pair(dist, n, reps, paired, 1.5, gen)
                a0, b0 = pair(dist, n, reps, paired, 1.0, gen)
                cov_r = cov_d = excl = rej = 0
                for x, y, x0, y0 in zip(a, b, a0, b0, strict=True):
                    c = compare(x, y, metric_kind="spread", paired=paired, n_resamples=100)
                    (r,) = c.effects
                    cov_r += r.low <= 1.5 <= r.high
                    cov_d += c.difference.low <= target <= c.difference.high
                    c0 = compare(x0, y0, metric_kind="spread", paired=paired, n_resamples=100)
                    (r0,) = c0.effects
                    excl += not (r0.low <= 1 <= r0.high) or not (
                        c0.difference.low <= 0 <= c0.difference.high)
                    rej += c0.p_value < ALPHA
                true = sigma_pair(dist, paired)
                lo, hi = _old_bca_std_diff(a, b, paired, gen)
                old_cov = np.mean((lo <= 0.5 * true) & (0.5 * true <= hi))
                lo0, hi0 = _old_bca_std_diff(a0, b0, paired, gen)
                old_excl = np.mean(~((lo0 <= 0) & (0 <= hi0)))
                print(row(dist, n, "paired" if paired else "independent", f3(cov_r / reps),
                          f3(cov_d / reps), f3(excl / reps), f3(rej / reps), f3(old_cov),
                          f3(old_excl)), flush=True)


def bf_null(reps: int = 20000) -> None:
    print(f"Brown-Forsythe (the primary spread test until issue 24, now a secondary) under "
          f"the null, {reps} replications, independent settings\n")
    print(row("data", *(f"n = {n}" for n in (5, 8, 10, 12, 15, 20, 30))))
    print(row(*["---"] * 8))
    for dist in DISTS:
        rates = []
        for n in (5, 8, 10, 12, 15, 20, 30):
            gen = rng_for("bf-null", dist, n)
            a, b = draw(dist, (reps, n), gen), draw(dist, (reps, n), gen)
            rates.append(np.mean(_tests.brown_forsythe(a, b, "two-sided")[1] <= ALPHA))
        print(row(dist, *(f3(r) for r in rates)), flush=True)


def sigma_pair(dist: str, paired: bool) -> float:
    return sigma(dist) * (math.sqrt(1 + 0.49) if paired else 1.0)


# --- the std interval under collapsed runs (finding 8) -------------------------------------

def std(reps: int = 2000) -> None:
    print(f"95% std intervals: {reps} replications per cell. auto = chi2 unless the runs "
          f"look non-normal (the warning), then chi2 widened to cover Bonett\n")
    print(row("data", "n", "chi2", "Bonett", "auto", "warned", "auto when warned",
              "chi2 when not warned"))
    print(row(*["---"] * 8))
    for dist in ("normal", "beta", "lognormal", "collapse"):
        s = sigma(dist)
        for n in NS:
            x = draw(dist, (reps, n), rng_for("std", dist, n))
            hit = {"chi2": [], "bonett": [], "auto": []}
            warned = []
            for v in x:
                for method in hit:
                    iv = std_interval(v, method=method)
                    hit[method].append(iv.low <= s <= iv.high)
                    if method == "auto":
                        warned.append(bool(iv.note))
            w = np.array(warned)
            chi2, auto = np.array(hit["chi2"]), np.array(hit["auto"])
            print(row(dist, n, f3(chi2.mean()), f3(np.mean(hit["bonett"])), f3(auto.mean()),
                      f3(w.mean()), f3(auto[w].mean()) if w.any() else "-",
                      f3(chi2[~w].mean()) if (~w).any() else "-"), flush=True)


# --- seeds needed for spread claims (finding 3) ---------------------------------------------

POWER_REPS = 4000


def bf_power(ratio: float, n: int, paired: bool, rho: float) -> float:
    gen = rng_for("bf-power", ratio, n, paired, rho)
    a = gen.normal(0.0, 1.0, (POWER_REPS, n))
    if paired:
        b = rho * a + math.sqrt(1 - rho**2) * gen.normal(0.0, 1.0, (POWER_REPS, n))
        p = _tests.paired_brown_forsythe(ratio * a, b, "two-sided")[1]
    else:
        b = gen.normal(0.0, 1.0, (POWER_REPS, n))
        p = _tests.brown_forsythe(ratio * a, b, "two-sided")[1]
    return float(np.mean(p <= ALPHA))


def seeds() -> None:
    print(f"seeds_needed(std_ratio=...) against the simulated power of the test verdicts "
          f"use ({POWER_REPS} replications, normal data, target power 0.8, alpha 0.05)\n")
    print(row("design", "std ratio", "returned n (F test, before)", "returned n",
              "simulated least n", "simulated power at returned n"))
    print(row(*["---"] * 6))
    cases = [(False, 0.0, r) for r in (1.2, 1.5, 2.0, 3.0, 0.6)] + \
            [(True, rho, r) for rho in (0.5, 0.9) for r in (1.2, 1.5, 2.0)]
    for paired, rho, r in cases:
        n = seeds_needed(std_ratio=r, paired=paired, correlation=rho)
        f = "-" if paired else str(seeds_needed(std_ratio=r, test="F"))
        m = max(3, int(0.85 * n))
        while bf_power(r, m, paired, rho) < 0.8:
            m += 1
        design = f"paired, rho = {rho:g}" if paired else "independent"
        print(row(design, r, f, n, m, f3(bf_power(r, n, paired, rho))), flush=True)


# --- type-I error of the comparisons added (finding 12, two-sided claims) -----------------

TYPE1_REPS = 4000


def _samples(dist, k, n, paired, gen):
    if paired:
        common = draw(dist, (TYPE1_REPS, n), gen)
        return [common + 0.7 * draw(dist, (TYPE1_REPS, n), gen) for _ in range(k)]
    return [draw(dist, (TYPE1_REPS, n), gen) for _ in range(k)]


def _primary(x, y, paired):
    return (_tests.paired_t if paired else _tests.welch_t)(x, y, "two-sided")[1]


def type1() -> None:
    k = 5
    print(f"type-I error at alpha = {ALPHA} ({TYPE1_REPS} replications, k = {k} equal "
          f"settings; the primary mean test, Welch or paired t)\n")
    print(row("data", "n", "design", "two-sided claim holds",
              "vs control: any of k-1 significant (Holm)",
              "tied set misses a true best (setting 0)"))
    print(row(*["---"] * 6))
    for dist in DISTS:
        for n in NS:
            for paired in (False, True):
                gen = rng_for("type1", dist, n, paired)
                xs = _samples(dist, k, n, paired, gen)
                p = {(i, j): _primary(xs[i], xs[j], paired)
                     for i in range(k) for j in range(i + 1, k)}
                gap = {(i, j): xs[i].mean(1) - xs[j].mean(1) for (i, j) in p}
                claim = np.mean(p[0, 1] < ALPHA)
                control = [adjust_pvalues([p[0, j][r] for j in range(1, k)]).min() < ALPHA
                           for r in range(TYPE1_REPS)]
                missed = []
                for r in range(TYPE1_REPS):
                    table = {ij: SimpleNamespace(
                        p_value=float(p[ij][r]),
                        direction="greater" if gap[ij][r] > 0 else "less") for ij in p}
                    missed.append(_best.not_best_p(table, k, "greater", "holm")[0] < ALPHA)
                print(row(dist, n, "paired" if paired else "independent", f3(claim),
                          f3(np.mean(control)), f3(np.mean(missed))), flush=True)


# --- grid factors (finding 12) -------------------------------------------------------------

def _grid(dist, n, paired, main, gen):
    out = []
    for i in range(3):
        for j in range(2):
            x = draw(dist, n, gen) + main * (i + j)
            sources = ("init",) if paired or (i + j) % 2 else ("order",)
            out.append(SimpleNamespace(
                key=f"{i},{j}", factors={"a": i, "b": j}, seeds=np.arange(n),
                metrics={"m": x}, diverged=np.zeros(n, bool), sources=sources))
    return SimpleNamespace(settings=out)


def factorial_table(reps: int = 4000, resamples: int = 199) -> None:
    print(f"grid factors, 3 x 2 grid: rejection rate at alpha = {ALPHA} ({reps} "
          f"replications, {resamples} permutations each). main = 0: every null true; "
          f"main = 0.05: both main effects real, the interaction null\n")
    print(row("data", "n", "seeds", "main", "a", "b", "a x b"))
    print(row(*["---"] * 7))
    for dist in ("normal", "beta", "lognormal", "collapse"):
        for n in (5, 10):
            for paired in (False, True):
                for main in (0.0, 0.05):
                    gen = rng_for("factorial", dist, n, paired, main)
                    hits = np.zeros(3)
                    for _ in range(reps):
                        f = factorial(_grid(dist, n, paired, main, gen), metric="m",
                                      rng=gen, n_resamples=resamples)
                        hits += [e.p_value <= ALPHA for e in f.effects]
                    rate = hits / reps
                    print(row(dist, n, "blocks" if paired else "independent", main,
                              *(f3(x) for x in rate)), flush=True)


# --- divergence tests (finding 4) ----------------------------------------------------------

def divergence() -> None:
    print("divergence-rate tests: exact size at alpha = 0.05, by enumerating every "
          "outcome (no simulation noise)\n")
    print(row("test", "runs a side", "divergence rate (both)", "size"))
    print(row(*["---"] * 4))
    for n in (10, 32):
        ps = {}
        for da in range(n + 1):
            for db in range(n + 1):
                flags_a = np.arange(n) < da
                flags_b = np.arange(n) < db
                ps[da, db] = divergence_test(flags_a, flags_b).p_value
        name = divergence_test(np.arange(n) < 1, np.arange(n) < 0).test
        for rate in (0.1, 0.3, 0.5):
            pmf = st.binom.pmf(np.arange(n + 1), n, rate)
            size = sum(pmf[a] * pmf[b] for (a, b), p in ps.items() if p <= ALPHA)
            print(row(name, n, rate, f3(size)), flush=True)
    for n in (10, 32):
        for rate, rho in ((0.3, 0.0), (0.3, 0.5)):
            # Seeds are independent; A and B diverge at a seed with correlation rho.
            both = rate * rate + rho * rate * (1 - rate)
            only = rate - both
            probs = np.array([both, only, only, 1 - both - 2 * only])  # AB, A, B, none
            size = 0.0
            for i in range(n + 1):  # only A
                for j in range(n + 1 - i):  # only B
                    rest = n - i - j
                    mass = sum(st.multinomial.pmf([k, i, j, rest - k], n, probs)
                               for k in range(rest + 1))
                    flags_a = np.r_[np.ones(i, bool), np.zeros(j, bool)]
                    flags_b = np.r_[np.zeros(i, bool), np.ones(j, bool)]
                    if i + j and divergence_test(flags_a, flags_b, paired=True).p_value \
                            <= ALPHA:
                        size += mass
            print(row(f"McNemar exact (rho = {rho:g})", n, rate, f3(size)), flush=True)


TABLES = {"spread": spread, "bf_null": bf_null, "std": std, "seeds": seeds, "type1": type1,
          "factorial": factorial_table, "divergence": divergence}


def main(names: list[str]) -> None:
    run_tables(TABLES, names)


if __name__ == "__main__":
    main(sys.argv[1:])
