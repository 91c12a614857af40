"""Measured tables of docs/statistics.md, "Sequential verdicts" (``--until-decided``).

Run from the repository root (fixed seeds):

    python docs/sequential_tables.py                 # every table
    python docs/sequential_tables.py type1 power     # some of them

Tables: bounds, median, spending, type1, holm, power. Thousands of replications are vectorized: each one
draws the seeds of a claim's two settings, computes the statistic at every look with
jaxstab.stats._groupseq.z_path (what ``sequential_verdicts`` computes look by look) and
decides with jaxstab.stats._groupseq.decide, the very procedure the verdicts use.
"""

from __future__ import annotations

import sys
import time
from functools import lru_cache

import numpy as np
import scipy.optimize as opt
import scipy.stats as st

from jaxstab.stats import _groupseq, look_schedule
from jaxstab.stats._power import brown_forsythe_effect, t_power
from _tables import rng_for  # docs/_tables.py

ALPHA = 0.05
BETA = (45, 5)
COLLAPSE = 0.3  # share of runs stuck at 0.5 (never trained); the rest N(0.9, 0.02^2)
DISTS = ("normal", "beta", "collapse")
SCHEDULES = ((16, 512), (8, 256))
RHO = 1 / (1 + 0.7**2)  # seed correlation of the paired draws below
BATCH = 4000


def draw(dist: str, size, gen: np.random.Generator) -> np.ndarray:
    if dist == "normal":
        return gen.normal(0.9, 0.03, size)
    if dist == "beta":
        return gen.beta(*BETA, size)
    return np.where(gen.random(size) < COLLAPSE, 0.5, gen.normal(0.9, 0.02, size))


@lru_cache
def sigma(dist: str) -> float:
    return float(np.std(draw(dist, 2_000_000, rng_for("sigma", dist))))


def pair(dist, kind, paired, effect, reps, n, gen):
    """Seeds of settings A and B. Paired: a shared seed draw (correlation RHO, as runs
    with one seed index share their keys). mean: A shifted by ``effect`` (in units of
    the std of A - B's per-seed difference when paired, of one setting when not);
    spread: A = effect * Z_A (``effect`` the ratio of every scale), and B's mean moved
    by 0.05 so that a spread test must ignore it."""
    if paired:
        common = draw(dist, (reps, n), gen)
        za = common + 0.7 * draw(dist, (reps, n), gen)
        zb = common + 0.7 * draw(dist, (reps, n), gen)
        scale = 0.7 * np.sqrt(2) * sigma(dist)
    else:
        za, zb = draw(dist, (reps, n), gen), draw(dist, (reps, n), gen)
        scale = sigma(dist)
    if kind == "mean":
        return za + effect * scale, zb
    return effect * za, zb + 0.05


def simulate(dist, kind, paired, effect, sched, reps, *, futility=True, fixed=0):
    """Shares of replications that hold (A > B), are refuted, stop for futility; mean
    seeds per setting at the decision; and the fixed design's rejection rate in the
    direction A > B at ``fixed`` seeds."""
    gen = rng_for("seq", dist, kind, paired, effect, sched, reps, fixed)
    pos = neg = fut = seeds = fix = 0.0
    for start in range(0, reps, BATCH):
        r = min(BATCH, reps - start)
        a, b = pair(dist, kind, paired, effect, r, sched[-1], gen)
        z = _groupseq.z_path(a, b, kind=kind, paired=paired, schedule=sched)[:, None, :]
        d = _groupseq.decide(z, np.ones(z.shape, bool), schedule=sched, alpha=ALPHA,
                             futility=futility)
        code = d.code[:, 0]
        pos += (code == _groupseq.POSITIVE).sum()
        neg += (code == _groupseq.NEGATIVE).sum()
        fut += (code == _groupseq.FUTILE).sum()
        seeds += np.asarray(sched)[d.look[:, 0]].sum()
        if fixed:
            zf = _groupseq.z_path(a, b, kind=kind, paired=paired, schedule=(fixed,))[:, 0]
            fix += (zf >= 1.959964).sum()
    return pos / reps, neg / reps, fut / reps, seeds / reps, fix / reps


def row(*cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def bounds() -> None:
    print("boundaries (|z|) and futility bounds at alpha 0.05, one claim\n")
    for first, top in SCHEDULES + ((64, 512),):
        sched = look_schedule(first, top)
        eff = _groupseq.efficacy_bounds(sched, ALPHA)
        fut = _groupseq.futility_bounds(sched, ALPHA)
        print(f"schedule {sched}")
        print("  efficacy", " ".join(f"{c:.3f}" for c in eff))
        print("  futility", " ".join(f"{f:.3f}" for f in fut[:-1]))


def type1(reps: int = 20_000) -> None:
    print(f"type-I error at alpha {ALPHA}: {reps} replications a cell, no difference\n")
    print(row("schedule", "claim", "data", "holds (greater)", "refuted", "two-sided holds",
              "two-sided, no futility", "seeds (mean)"))
    print(row(*["---"] * 8))
    for first, top in SCHEDULES:
        sched = look_schedule(first, top)
        for kind in ("mean", "spread"):
            for paired in (False, True):
                for dist in DISTS:
                    t0 = time.time()
                    pos, neg, _, seeds, _ = simulate(dist, kind, paired, 0.0 if kind ==
                                                     "mean" else 1.0, sched, reps)
                    p2, n2, *_ = simulate(dist, kind, paired, 0.0 if kind == "mean"
                                          else 1.0, sched, reps, futility=False)
                    name = f"{kind}, {'paired' if paired else 'unpaired'}"
                    print(row(f"{first}..{top}", name, dist, f"{pos:.4f}", f"{neg:.4f}",
                              f"{pos + neg:.4f}", f"{p2 + n2:.4f}", f"{seeds:.0f}"),
                          f"  ({time.time() - t0:.0f} s)" if "-v" in sys.argv else "",
                          flush=True)


def holm(reps: int = 20_000) -> None:
    """Familywise error of three claims (mean, unpaired, normal): all null, and one
    true (an effect a fixed design detects with 16 seeds) beside two null ones."""
    print(f"familywise error, 3 claims, Holm vs Bonferroni, {reps} replications\n")
    print(row("schedule", "claims", "correction", "a null claim decided (FWER)",
              "true claim holds", "seeds (mean, null claims)"))
    print(row(*["---"] * 6))
    for first, top in SCHEDULES:
        sched = look_schedule(first, top)
        d16 = opt.brentq(lambda d: t_power(d, 16) - 0.8, 0.05, 5)
        for label, effects in (("3 null", (0, 0, 0)), ("1 true + 2 null", (d16, 0, 0))):
            gen = rng_for("holm", first, top, label)
            zs = []
            for _ in range(0, reps, BATCH):
                zs.append(np.stack([_groupseq.z_path(
                    *pair("normal", "mean", False, e, BATCH, sched[-1], gen),
                    kind="mean", paired=False, schedule=sched) for e in effects], 1))
            z = np.concatenate(zs)[:reps]
            for corr in ("holm", "bonferroni"):
                d = _groupseq.decide(z, np.ones(z.shape, bool), schedule=sched,
                                     alpha=ALPHA, correction=corr)
                null = [i for i, e in enumerate(effects) if e == 0]
                rejected = np.isin(d.code, (_groupseq.POSITIVE, _groupseq.NEGATIVE))
                fwer = rejected[:, null].any(1).mean()
                true = (d.code[:, 0] == _groupseq.POSITIVE).mean() if effects[0] else \
                    float("nan")
                seeds = np.asarray(sched)[d.look[:, null]].mean()
                print(row(f"{first}..{top}", label, corr, f"{fwer:.4f}",
                          "-" if np.isnan(true) else f"{true:.3f}", f"{seeds:.0f}"),
                      flush=True)


def sized(kind: str, paired: bool, n: int) -> float:
    """The effect a fixed design of n seeds detects with power 0.8 at alpha 0.05 (t
    power; for spread, Brown-Forsythe's standardized effect of a std ratio)."""
    if kind == "mean":
        return opt.brentq(lambda d: t_power(d, n, paired=paired) - 0.8, 0.01, 10)
    return opt.brentq(lambda r: t_power(brown_forsythe_effect(
        r, paired=paired, correlation=RHO), n, paired=paired) - 0.8, 1.0001, 20)


def fixed_power(dist, kind, paired, effect, n, reps=4000) -> float:
    """Simulated power of the fixed design with n seeds (two-sided, at alpha, in the
    direction A > B): the same test at one look."""
    gen = rng_for("fixed", dist, kind, paired, effect, n)
    a, b = pair(dist, kind, paired, effect, reps, n, gen)
    z = _groupseq.z_path(a, b, kind=kind, paired=paired, schedule=(n,))[:, 0]
    return float(np.mean(z >= 1.959964))


def same_power_seeds(dist, kind, paired, effect, power, guess) -> str:
    """Least n (to within 3%) whose fixed design has the sequential design's power,
    by bisection on simulated power."""
    if power >= 0.995:
        return "-"
    lo, hi = 4, max(8, guess)
    while fixed_power(dist, kind, paired, effect, hi) < power:
        lo, hi = hi, 2 * hi
        if hi > 16384:
            return "> 16384"
    while hi - lo > max(1, 0.03 * hi):
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if fixed_power(dist, kind, paired, effect, mid) >= power \
            else (mid, hi)
    return str(hi)


def power(reps: int = 10_000) -> None:
    print(f"power and mean seeds per setting, {reps} replications a cell; the effect is "
          f"the one a fixed design of N seeds detects with power 0.8\n")
    print(row("schedule", "claim", "data", "N", "effect", "fixed N: power",
              "sequential: power", "seeds (mean)", "fixed design of that power",
              "no futility: power", "seeds (mean)", "null: seeds (mean)"))
    print(row(*["---"] * 12))
    for first, top in SCHEDULES:
        sched = look_schedule(first, top)
        for kind in ("mean", "spread"):
            for paired in (False, True):
                for dist in DISTS:
                    null = simulate(dist, kind, paired, 0.0 if kind == "mean" else 1.0,
                                    sched, reps)
                    for n in (top // 16, top // 8, top // 4, top // 2):
                        e = sized(kind, paired, n)
                        pos, _, _, seeds, fix = simulate(dist, kind, paired, e, sched,
                                                         reps, fixed=n)
                        p2, _, _, s2, _ = simulate(dist, kind, paired, e, sched, reps,
                                                   futility=False)
                        name = f"{kind}, {'paired' if paired else 'unpaired'}"
                        what = f"d = {e:.3f}" if kind == "mean" else f"ratio {e:.3f}"
                        print(row(f"{first}..{top}", name, dist, n, what, f"{fix:.3f}",
                                  f"{pos:.3f}", f"{seeds:.0f}",
                                  same_power_seeds(dist, kind, paired, e, pos, n),
                                  f"{p2:.3f}",
                                  f"{s2:.0f}", f"{null[3]:.0f}"), flush=True)


def spending(reps: int = 10_000) -> None:
    """Why not O'Brien-Fleming: the same claims under both spending functions."""
    sched = look_schedule(16, 512)
    print(f"spending functions, looks {sched}, mean, unpaired, normal, {reps} "
          f"replications\n")
    print(row("spending", "boundaries", "N", "power", "seeds (mean)",
              "power, no futility", "seeds (mean), no futility"))
    print(row(*["---"] * 7))
    ours, start = _groupseq.spending, _groupseq.FUTILITY_FROM
    for name in ("equal at each doubling (jaxstab)",
                 "equal at each doubling, futility from the first look",
                 "O'Brien-Fleming (Lan-DeMets)"):
        if name.startswith("O'B"):
            _groupseq.spending = lambda s, a: _groupseq.obf_spending(
                _groupseq.fractions_of(s), a)
        _groupseq.FUTILITY_FROM = 0.0 if "first look" in name else start
        _groupseq.efficacy_bounds.cache_clear()
        _groupseq.futility_bounds.cache_clear()
        c = " ".join(f"{x:.2f}" for x in _groupseq.efficacy_bounds(sched, ALPHA))
        for n in (0, 32, 64, 128, 256):
            e = sized("mean", False, n) if n else 0.0
            pos, neg, _, seeds, _ = simulate("normal", "mean", False, e, sched, reps)
            p2, n2, _, s2, _ = simulate("normal", "mean", False, e, sched, reps,
                                        futility=False)
            power = f"{pos + neg:.3f} (type-I)" if not n else f"{pos:.3f}"
            p2 = f"{p2 + n2:.3f} (type-I)" if not n else f"{p2:.3f}"
            print(row(name, c, n or "null", power, f"{seeds:.0f}", p2, f"{s2:.0f}"),
                  flush=True)
    _groupseq.spending, _groupseq.FUTILITY_FROM = ours, start
    _groupseq.efficacy_bounds.cache_clear()
    _groupseq.futility_bounds.cache_clear()


def median(reps: int = 40_000) -> None:
    """Why spread looks center on the lower median: one look of Brown-Forsythe, 30%
    collapsed runs, no difference, against the first look's boundary 2.638."""
    print(f"spread, unpaired, one look, {reps} replications: P(|z| >= 2.638), nominal "
          f"{2 * st.norm.sf(2.638):.4f}\n")
    print(row("data", "seeds", "midpoint median", "lower median (jaxstab)"))
    print(row(*["---"] * 4))
    for dist in DISTS:
        for n in (8, 16, 32, 64):
            a, b = pair(dist, "spread", False, 1.0, reps, n, rng_for("median", dist, n))
            cells = []
            for center in ("midpoint", "lower"):
                if center == "midpoint":
                    u = np.abs(a - np.median(a, -1, keepdims=True))
                    v = np.abs(b - np.median(b, -1, keepdims=True))
                else:
                    u, v = _groupseq.deviations(a), _groupseq.deviations(b)
                z = _groupseq.z_two_sample(u, v, paired=False, pooled=True)
                cells.append(f"{np.mean(np.abs(z) >= 2.638):.4f}")
            print(row(dist, n, *cells), flush=True)


TABLES = {"bounds": bounds, "median": median, "spending": spending, "type1": type1, "holm": holm, "power": power}


def main(names: list[str]) -> None:
    names = [n for n in names if not n.startswith("-")] or list(TABLES)
    for name in names:
        t0 = time.time()
        TABLES[name]()
        print(f"\n({name}: {time.time() - t0:.0f} s)\n", flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
