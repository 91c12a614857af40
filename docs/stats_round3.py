"""Measured tables of docs/statistics.md, "Round 3" (issue 24): the joint best set, the
spread test's type-I error, one spread quantity, the spread intervals with collapsed
runs. Every table has a fixed seed; run from the repository root:

    python docs/stats_round3.py                 # every table
    python docs/stats_round3.py best spread     # some of them

Tables: best, spread, quantity, intervals, others. Thousands of replications call the very
functions the library calls (jaxstab.stats._tests on 2-D arrays, _best.not_best_p,
jaxstab.stats._effects), the rest the public compare / rank_settings.
"""

from __future__ import annotations

import sys
from types import SimpleNamespace

import numpy as np

from jaxstab.stats import _best, _effects, _tests, compare, rank_settings
from _tables import rng_for, run_tables  # docs/_tables.py

ALPHA = 0.05
DISTS = ("normal", "beta", "t3", "collapse")
COLLAPSE = 0.3  # share of runs stuck at 0.5 while the rest train to N(0.9, 0.02^2)


def draw(dist: str, size, gen: np.random.Generator) -> np.ndarray:
    if dist == "normal":
        return gen.normal(0.9, 0.03, size)
    if dist == "beta":
        return gen.beta(45, 5, size)
    if dist == "t3":
        return 0.9 + 0.02 * gen.standard_t(3, size)
    if dist == "collapse":
        return np.where(gen.random(size) < COLLAPSE, 0.5, gen.normal(0.9, 0.02, size))
    raise ValueError(dist)


def samples(dist, k, shape, paired, gen):
    """k settings; paired: a shared seed draw plus 0.7 x noise (correlation ~2/3)."""
    if paired:
        common = draw(dist, shape, gen)
        return [common + 0.7 * draw(dist, shape, gen) for _ in range(k)]
    return [draw(dist, shape, gen) for _ in range(k)]


def row(*cells) -> str:
    return "| " + " | ".join(str(c) for c in cells) + " |"


def f3(x: float) -> str:
    return f"{x:.3f}"


def best(reps: int = 1000, n: int = 8) -> None:
    print(f"best set: share of studies where some truly best setting is left out of the "
          f"set ({reps} replications, k equal settings, {n} seeds, primary mean test; "
          f"before: per-setting Holm over k - 1, now: Holm over all k (k - 1) ordered "
          f"pairs)\n")
    print(row("data", "design", *(f"k = {k} before" for k in (5, 10, 15)),
              *(f"k = {k} now" for k in (5, 10, 15))))
    print(row(*["---"] * 8))
    for dist in DISTS:
        for paired in (False, True):
            before, now = [], []
            for k in (5, 10, 15):
                gen = rng_for("best", dist, k, paired)
                xs = samples(dist, k, (reps, n), paired, gen)
                test = _tests.paired_t if paired else _tests.welch_t
                p = {(i, j): test(xs[i], xs[j], "two-sided")[1]
                     for i in range(k) for j in range(i + 1, k)}
                gap = {ij: xs[ij[0]].mean(1) - xs[ij[1]].mean(1) for ij in p}
                miss_old = miss_new = 0
                for r in range(reps):
                    table = {ij: SimpleNamespace(
                        p_value=float(np.nan_to_num(p[ij][r], nan=1.0)),
                        direction="greater" if gap[ij][r] > 0 else "less") for ij in p}
                    miss_new += min(_best.not_best_p(table, k, "greater", "holm")) < ALPHA
                    miss_old += min(_old_not_best(table, k)) < ALPHA
                before.append(miss_old / reps)
                now.append(miss_new / reps)
            print(row(dist, "paired" if paired else "independent", *map(f3, before),
                      *map(f3, now)), flush=True)


def _old_not_best(table, k):
    """The rule before issue 24: each setting's k - 1 tests corrected on their own."""
    return [float(np.min(_best.adjust_pvalues(
        [_best._better_p(table, j, i, "greater") for j in range(k) if j != i])))
        for i in range(k)]


def spread(reps: int = 4000, resamples: int = 999) -> None:
    print(f"spread tests under the null (equal std; {reps} replications, {resamples} "
          f"permutations or every arrangement when fewer; two-sided, alpha {ALPHA}). "
          f"now: permutation of log(std A / std B) over median-centered runs (paired: "
          f"swapped within a seed); BF: Brown-Forsythe (paired: t on |x - median|). "
          f"Spread claims need 5 seeds: n = 4 is shown for why\n")
    print(row("data", "design", *(f"n = {n} {w}" for n in (4, 5, 8, 16)
                                  for w in ("BF", "now"))))
    print(row(*["---"] * 10))
    for dist in DISTS:
        for paired in (False, True):
            cells = []
            for n in (4, 5, 8, 16):
                gen = rng_for("spread", dist, n, paired)
                a, b = samples(dist, 2, (reps, n), paired, gen)
                if paired:
                    bf = _tests.paired_brown_forsythe(a, b, "two-sided")[1]
                    now = _tests.paired_std_ratio_permutation(a, b, "two-sided", gen,
                                                              resamples)[1]
                else:
                    bf = _tests.brown_forsythe(a, b, "two-sided")[1]
                    now = _tests.std_ratio_permutation(a, b, "two-sided", gen, resamples)[1]
                cells += [f3(np.mean(bf <= ALPHA)), f3(np.mean(now <= ALPHA))]
            print(row(dist, "paired" if paired else "independent", *cells), flush=True)


def quantity(draws: int = 200) -> None:
    print(f"one spread quantity: 1 of 32 runs collapsed (0.5) against a normal setting "
          f"of about the same std ({draws} draws, 999 permutations)\n")
    print(row("ranked first", "first-ranked marked not tied", "effect named",
              "effect = std ratio", "direction = sign of std difference"))
    print(row(*["---"] * 5))
    gen = rng_for("quantity")
    not_tied = agree = same_dir = 0
    for _ in range(draws):
        x = np.r_[gen.normal(0.9, 0.02, 31), 0.5]
        y = gen.normal(0.9, float(np.std(x, ddof=1)), 32)
        r = rank_settings({"collapsed": x, "normal": y}, metric_kind="spread", rng=gen,
                          n_resamples=999)
        not_tied += not r.ranks[0].tied_with_best
        c = compare(x, y, metric_kind="spread", rng=gen, n_resamples=999)
        ratio = np.std(x, ddof=1) / np.std(y, ddof=1)
        agree += abs(c.effects[0].point - ratio) < 1e-12
        same_dir += c.direction == ("greater" if ratio > 1 else "less")
    print(row("by std", f"{not_tied} of {draws}", c.effects[0].name,
              f"{agree} of {draws}", f"{same_dir} of {draws}"), flush=True)


def intervals(reps: int = 200, resamples: int = 499) -> None:
    print(f"95% spread intervals with {int(COLLAPSE * 100)}% collapsed runs ({reps} "
          f"replications, A = 1.5 Z_A, B = Z_B of the same shape, {resamples} "
          f"permutations): coverage of std(A) / std(B) = 1.5 and of std(A) - std(B)\n")
    print(row("data", "n", "design", "ratio covers", "difference covers"))
    print(row(*["---"] * 5))
    for dist in ("collapse",):
        for n in (8, 10, 12):
            for paired in (False, True):
                gen = rng_for("intervals", dist, n, paired)
                big = samples(dist, 1, 1_000_000, paired, gen)[0]
                target = 0.5 * float(np.std(big))
                za, zb = samples(dist, 2, (reps, n), paired, gen)
                hr = hd = 0
                for x, y in zip(1.5 * za, zb, strict=True):
                    r = _effects.spread_ratio(x, y, paired=paired, level=0.95, rng=gen,
                                              n_resamples=resamples)
                    d = _effects.spread_difference(x, y, paired=paired, level=0.95, rng=gen,
                                                   n_resamples=resamples)
                    hr += r.low <= 1.5 <= r.high
                    hd += d.low <= target <= d.high
                print(row(dist, n, "paired" if paired else "independent", f3(hr / reps),
                          f3(hd / reps)), flush=True)


def others(reps: int = 300) -> None:
    import scipy.stats as st

    from jaxstab.stats import interval
    print(f"the other findings ({reps} replications where simulated)\n")
    print(row("finding", "before", "now"))
    print(row(*["---"] * 3))
    gen = rng_for("constant")
    a, b = 1e12 + gen.normal(0, 1e5, 10), np.full(10, 1e12 + 3e5)
    c = compare(a, b)
    print(row("1e12 +- 1e5 vs 1e12 + 3e5 (float64), n = 10", "p = 1, std 0",
              f"{c.primary} p = {c.p_value:.2g}, std {c.std_a:.3g}"))
    gen = rng_for("ceiling")
    hit = flat = 0
    for _ in range(reps):
        x = gen.binomial(100, 0.999, 5) / 100
        iv, t = interval(x, n_test=100), interval(x)
        hit += iv.low <= 0.999 <= iv.high
        flat += t.low <= 0.999 <= t.high
    print(row("mean interval, Binomial(100, 0.999) / 100, n = 5",
              f"t interval covers {f3(flat / reps)}",
              f"with n_test = 100 covers {f3(hit / reps)}"))
    for shift in (0.0, 0.5):
        gen = rng_for("pi", shift)
        true = st.norm.cdf(shift / np.sqrt(2 + 2 * 0.49))
        old = new = 0
        for _ in range(reps):
            common = gen.normal(0, 1, 5)
            x = common + 0.7 * gen.normal(0, 1, 5) + shift
            y = common + 0.7 * gen.normal(0, 1, 5)
            e = _effects.prob_improvement(x, y, paired=True, level=0.95, rng=gen,
                                          n_resamples=999)
            bca = _effects.bootstrap((x, y), _effects._prob_improvement, method="bca",
                                     level=0.95, rng=gen, n_resamples=999, paired=True)
            new += e.low <= true <= e.high
            old += bca[0] <= true <= bca[1]
        print(row(f"P(A>B), paired, n = 5, normal, shift {shift:g} std",
                  f"BCa covers {f3(old / reps)}", f"{e.method} covers {f3(new / reps)}"),
              flush=True)


TABLES = {"best": best, "spread": spread, "quantity": quantity, "intervals": intervals,
          "others": others}


def main(names: list[str]) -> None:
    run_tables(TABLES, names)


if __name__ == "__main__":
    main(sys.argv[1:])
