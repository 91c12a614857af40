"""Time to target (censoring, divergence as a competing outcome), its per-setting
statistics against lifelines and hand computations, comparisons, performance profiles of
time to target, and whole-curve bands and tests, checked by small simulations with
fixed rng."""

import math
import warnings

import numpy as np
import pytest
import scipy.stats as st
from lifelines import AalenJohansenFitter, KaplanMeierFitter
from lifelines.statistics import logrank_test
from lifelines.utils import median_survival_times, restricted_mean_survival_time

from jaxstab.errors import UserError
from jaxstab.stats import (
    TimeToTarget,
    compare_time_to_target,
    curve_band,
    curve_test,
    kaplan_meier,
    seeds_needed_time_to_target,
    target_summary,
    time_profile,
    time_to_target,
)
from jaxstab.stats._survcompare import logrank_parts
from jaxstab.stats._survival import (
    CENSORED,
    DIVERGED,
    REACHED,
    km_positions,
    median_ci,
    rmst,
)

nan = float("nan")


def ttt_of(step, outcome, horizon):
    return TimeToTarget(np.asarray(step, float), np.asarray(outcome, np.int8), float(horizon))


def random_sample(rng, n, p_event):
    d = rng.integers(1, 12, n).astype(float)
    return d, rng.random(n) < p_event


# --- time_to_target -------------------------------------------------------------------

def test_time_to_target_reached_censored_diverged():
    curves = np.array([
        [0.1, 0.5, 0.9, 0.95, 0.97],   # reaches 0.9 at step 3
        [0.1, 0.2, 0.3, 0.4, 0.5],     # never: censored at step 5
        [0.1, 0.3, nan, nan, nan],     # diverged at step 3, before reaching
        [0.1, 0.92, nan, nan, nan],    # reached at 2, then diverged: reached
        [0.2, 0.4, 0.8, 0.89, 0.9],    # reaches at the last step
    ])
    r = time_to_target(curves, reach=0.9)
    assert r.step.tolist() == [3, 5, 3, 2, 5]
    assert r.outcome.tolist() == [REACHED, CENSORED, DIVERGED, REACHED, REACHED]
    assert r.horizon == 5 and r.counts() == {"censored": 1, "reached": 3, "diverged": 1}
    d, e = r.durations()
    assert d.tolist() == [3, 5, 5, 2, 5] and e.tolist() == [True, False, False, True, True]
    loss = time_to_target(-curves, below=-0.9, steps=[10, 20, 30, 40, 50])
    assert loss.step.tolist() == [30, 50, 30, 20, 50] and loss.horizon == 50


def test_time_to_target_with_flags_censors_short_curves_at_their_last_step():
    curves = np.array([[0.1, 0.2, nan, nan], [0.1, 0.2, 0.3, 0.4], [0.1, 0.2, 0.3, nan]])
    r = time_to_target(curves, reach=0.35, diverged=np.array([False, True, True]))
    # run 0 was recorded for 2 steps only; run 1 diverged after its last point.
    assert r.outcome.tolist() == [CENSORED, REACHED, DIVERGED]
    assert r.step.tolist() == [2, 4, 4]


@pytest.mark.parametrize("kwargs, match", [
    ({"curves": [[0.1, 0.2]]}, "exactly one of reach= or below="),
    ({"curves": [[0.1, 0.2]], "reach": 1, "below": 0}, "exactly one"),
    ({"curves": [0.1, 0.2], "reach": 0.5}, r"curves: need a 2-D array"),
    ({"curves": [[0.1, 0.2]], "reach": nan}, "reach: must be a finite number"),
    ({"curves": [[0.1, 0.2]], "reach": 0.5, "steps": [1, 2, 3]}, "steps: need one step"),
    ({"curves": [[0.1, 0.2]], "reach": 0.5, "steps": [2, 1]}, "strictly increasing"),
    ({"curves": [[0.1, 0.2]], "reach": 0.5, "diverged": [1]}, "diverged: need one bool"),
    ({"curves": [[nan, 0.2]], "reach": 0.5, "diverged": np.array([False])}, "no finite point"),
])
def test_time_to_target_rejects_bad_input(kwargs, match):
    with pytest.raises(UserError, match=match):
        time_to_target(**kwargs)


# --- Kaplan-Meier, median, restricted mean: against lifelines and by hand -------------

def test_vectorized_km_median_and_rmst_equal_lifelines():
    rng = np.random.default_rng(1)
    checked = 0
    for _ in range(60):
        d, e = random_sample(rng, int(rng.integers(2, 25)), rng.random())
        kmf = KaplanMeierFitter().fit(d, e)
        ttt = ttt_of(d, np.where(e, REACHED, CENSORED), d.max())
        k = kaplan_meier(ttt)
        np.testing.assert_allclose(k.survival, kmf.survival_function_.iloc[:, 0].to_numpy())
        np.testing.assert_allclose(k.low, kmf.confidence_interval_.iloc[:, 0].to_numpy())
        np.testing.assert_allclose(k.high, kmf.confidence_interval_.iloc[:, 1].to_numpy())
        km = km_positions(d[None], e[None])
        for h in (3.5, 8.0, 11.0):
            assert rmst(km, h)[0][0] == pytest.approx(restricted_mean_survival_time(kmf, t=h))
        # lifelines' exp(sum(log)) lands a hair above an exact 0.5 (e.g. 4/8) and then
        # moves the median one time later; the product here is exact there.
        if np.any(np.abs(kmf.survival_function_.to_numpy() - 0.5) < 1e-9):
            continue
        ci = median_survival_times(kmf.confidence_interval_)
        got = [float(v[0]) for v in median_ci(km, 0.95)]
        assert got == pytest.approx([kmf.median_survival_time_, ci.iloc[0, 0], ci.iloc[0, 1]])
        checked += 1
    assert checked > 30


def test_median_at_an_exact_half_and_rmst_variance_by_hand():
    # S: 7/8 after 2, 6/8 after 3, 4/8 after 7 -> the median is 7 (first S <= 0.5).
    d = np.array([10.0, 2, 7, 9, 8, 3, 7, 10])
    e = np.array([False, True, True, True, True, True, True, False])
    km = km_positions(d[None], e[None])
    assert median_ci(km, 0.95)[0][0] == 7.0
    h = 9.5
    mean, var = rmst(km, h)
    # Klein & Moeschberger: sum over event times t_j <= h of A_j^2 d_j / (r_j (r_j - d_j)).
    times = np.unique(d[e])
    surv, s, steps = [], 1.0, []
    for t in times:
        r, dj = np.sum(d >= t), np.sum((d == t) & e)
        s *= 1 - dj / r
        surv.append(s)
        steps.append((t, r, dj))
    def area(t0):
        grid = np.r_[t0, [t for t in times if t0 < t < h], h]
        sf = lambda u: ([1.0] + surv)[int(np.sum(times <= u))]
        return sum(sf(a) * (b - a) for a, b in zip(grid[:-1], grid[1:]))
    want = sum(area(t) ** 2 * dj / (r * (r - dj)) for t, r, dj in steps if t <= h and r > dj)
    assert mean[0] == pytest.approx(area(0.0)) and var[0] == pytest.approx(want)


def test_divergence_as_competing_risk_equals_aalen_johansen():
    rng = np.random.default_rng(3)
    n, horizon = 40, 20
    step = rng.integers(1, horizon + 1, n).astype(float)
    outcome = rng.choice([REACHED, CENSORED, DIVERGED], n, p=[0.5, 0.2, 0.3])
    step[outcome == CENSORED] = horizon          # every run planned to the horizon
    ttt = ttt_of(step, outcome, horizon)
    k = kaplan_meier(ttt)
    event = np.where(outcome == REACHED, 1, np.where(outcome == DIVERGED, 2, 0))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # lifelines jitters tied times and says so
        aj = AalenJohansenFitter(jitter_level=1e-6, seed=0).fit(step, event, event_of_interest=1)
    cif = aj.cumulative_density_.iloc[:, 0]
    for t, s in zip(k.time, k.survival):
        assert 1 - s == pytest.approx(float(cif[cif.index <= t + 1e-3].iloc[-1]), abs=1e-9)


def test_target_summary_counts_share_and_divergence_against_the_setting():
    reach = ttt_of([2, 3, 4, 5, 10, 10], [REACHED] * 4 + [CENSORED] * 2, 10)
    div = ttt_of([2, 3, 4, 5, 3, 6], [REACHED] * 4 + [DIVERGED] * 2, 10)
    a, b = target_summary(reach, horizon=8), target_summary(div, horizon=8)
    ci = st.binomtest(4, 6).proportion_ci(0.95, method="exact")
    assert (a.share_reached.low, a.share_reached.high) == pytest.approx((ci.low, ci.high))
    # diverged runs never reach: the same numbers as runs censored at the horizon
    assert (b.n_diverged, b.n_censored) == (2, 0) and "diverged" in b.note
    assert b.rmst.point == pytest.approx(a.rmst.point) and b.median.point == a.median.point
    assert a.rmst.point == pytest.approx((2 + 3 + 4 + 5 + 8 + 8) / 6)
    miss = target_summary(ttt_of([3, 10, 10], [REACHED, CENSORED, CENSORED], 10))
    assert math.isinf(miss.median.point) and "median not reached" in miss.note
    assert miss.to_dict()["median"]["point"] is None
    with pytest.raises(UserError, match=r"horizon: must be a number in \(0, 10\]"):
        target_summary(reach, horizon=11)
    with pytest.raises(UserError, match="ttt: need the TimeToTarget"):
        target_summary(np.ones(3))


# --- comparisons ----------------------------------------------------------------------

def test_logrank_equals_lifelines_and_stratified_equals_statsmodels():
    survdiff = pytest.importorskip("statsmodels.duration.survfunc").survdiff
    rng = np.random.default_rng(2)
    for _ in range(30):
        na, nb = rng.integers(2, 20, 2)
        d, e = random_sample(rng, na + nb, 0.7)
        g = np.r_[np.ones(na, bool), np.zeros(nb, bool)]
        if not e.any():
            continue
        oe, v = logrank_parts(d[None], e[None], g)
        assert oe[0] ** 2 / v[0] == pytest.approx(logrank_test(d[g], d[~g], e[g], e[~g]).test_statistic)
    d, e = random_sample(rng, 60, 0.7)
    g, strata = rng.random(60) < 0.5, rng.integers(0, 3, 60)
    a = [ttt_of(d[(strata == k) & g], e[(strata == k) & g], 12) for k in range(3)]
    b = [ttt_of(d[(strata == k) & ~g], e[(strata == k) & ~g], 12) for k in range(3)]
    got = compare_time_to_target(a, b, method="asymptotic")
    chi2, p = survdiff(d, e.astype(int), g.astype(int), strata=strata)
    assert got.strata == 3 and got.statistic == pytest.approx(chi2)
    assert got.p_value == pytest.approx(p) and got.method == "asymptotic"
    perm = compare_time_to_target(a, b, n_resamples=4999, rng=0)
    assert perm.method == "permutation" and perm.statistic == got.statistic
    assert perm.p_value == pytest.approx(p, abs=0.03)
    assert compare_time_to_target(a, b, rng=3) == compare_time_to_target(a, b, rng=3)


def test_comparison_direction_rmst_difference_and_inputs():
    fast = ttt_of(np.arange(2, 18), np.full(16, REACHED), 40)
    slow = ttt_of(np.arange(10, 26), np.full(16, REACHED), 40)
    c = compare_time_to_target(fast, slow, alternative="less")
    assert c.hazard_ratio > 1 and c.p_value < 0.01
    assert c.rmst_difference.point == pytest.approx(-8.0) and c.rmst_difference.high < 0
    assert compare_time_to_target(slow, fast, alternative="less").p_value > 0.99
    with pytest.raises(UserError, match="both as one TimeToTarget or both as one per stratum"):
        compare_time_to_target([fast], slow)
    with pytest.raises(UserError, match="alternative: must be one of"):
        compare_time_to_target(fast, slow, alternative="fewer")


def test_logrank_type_one_error_under_the_null():
    """2 000 null samples, 16 runs a setting, discrete times with ties, 30% censored
    and 10% diverged: the rejection rate at 0.05 within Monte-Carlo error."""
    rng = np.random.default_rng(4)
    reps, n, horizon = 2000, 16, 30
    t = np.minimum(np.ceil(rng.exponential(12.0, (reps, 2 * n))), horizon)
    cens = rng.random((reps, 2 * n)) < 0.3
    div = rng.random((reps, 2 * n)) < 0.1
    d = np.where(div, horizon, np.where(cens, np.ceil(t * rng.random(t.shape)), t))
    e = ~(cens | div) & (t < horizon)
    oe, v = logrank_parts(d, e, np.r_[np.ones(n, bool), np.zeros(n, bool)])
    rate = np.mean(oe ** 2 / v > st.chi2.ppf(0.95, 1))
    assert 0.035 < rate < 0.065, rate


def test_permutation_logrank_is_exact_at_eight_runs_where_the_chi_square_is_not():
    """400 null samples of 8 runs a setting, no censoring: the relabelling p-value
    (the default at this size) keeps its level."""
    rng = np.random.default_rng(12)
    rej = 0
    for i in range(400):
        t = np.ceil(rng.exponential(10.0, 16))
        a, b = (ttt_of(t[s], np.full(8, REACHED), 100) for s in (slice(0, 8), slice(8, 16)))
        rej += compare_time_to_target(a, b, n_resamples=199, rng=i).p_value <= 0.05
    assert 0.02 <= rej / 400 <= 0.065, rej


def test_seeds_needed_by_schoenfeld_has_the_power_it_promises():
    n = seeds_needed_time_to_target(2.0, 1.0, alpha=0.05, power=0.8)
    assert n == math.ceil(4 * (st.norm.ppf(0.975) + st.norm.ppf(0.8)) ** 2
                          / math.log(2) ** 2 / 2)
    rng = np.random.default_rng(5)
    reps = 1000
    ta = rng.exponential(1 / 2.0, (reps, n))
    tb = rng.exponential(1.0, (reps, n))
    oe, v = logrank_parts(np.c_[ta, tb], np.ones((reps, 2 * n), bool),
                          np.r_[np.ones(n, bool), np.zeros(n, bool)])
    power = np.mean(oe ** 2 / v > st.chi2.ppf(0.95, 1))
    assert 0.75 < power < 0.87, (n, power)
    assert seeds_needed_time_to_target(2.0, 0.5) == 2 * n or \
        seeds_needed_time_to_target(2.0, 0.5) == 2 * n - 1
    with pytest.raises(UserError, match="hazard_ratio: must be a finite number positive"):
        seeds_needed_time_to_target(1.0, 0.5)


# --- performance profiles ------------------------------------------------------------

def test_time_profile_by_hand_and_reproducible():
    def runs(step, n=6):
        return ttt_of(np.full(n, step), np.full(n, REACHED), 100)
    miss = ttt_of(np.full(6, 100), np.full(6, CENSORED), 100)
    times = {"a": [runs(10), runs(20), runs(30)], "b": [runs(20), runs(10), miss]}
    p = time_profile(times, taus=[1, 2, 3.9], tau_max=4, n_resamples=200, rng=0)
    assert p.times["b"].tolist() == [20, 10, np.inf]
    np.testing.assert_allclose(p.profile["a"], [2 / 3, 1, 1])
    np.testing.assert_allclose(p.profile["b"], [1 / 3, 2 / 3, 2 / 3])
    assert p.score["a"].point == pytest.approx((3 + 2 + 3) / 3 / 3)
    assert p.score["b"].point == pytest.approx((2 + 3 + 0) / 3 / 3)
    rng = np.random.default_rng(6)
    noisy = {m: [ttt_of(rng.integers(5, 40, 8), np.full(8, REACHED), 50) for _ in range(4)]
             for m in ("a", "b")}
    one, two = time_profile(noisy, rng=7, n_resamples=300), time_profile(noisy, rng=7, n_resamples=300)
    assert one.score["a"] == two.score["a"]
    assert one.score["a"].low <= one.score["a"].point <= one.score["a"].high
    with pytest.raises(UserError, match="every method needs the same number of tasks"):
        time_profile({"a": [runs(1)], "b": [runs(1), runs(2)]})
    with pytest.raises(UserError, match="tau_max: must be a finite number > 1"):
        time_profile(times, tau_max=1)


# --- whole curves ----------------------------------------------------------------------

def ar_curves(rng, reps, n, steps=20, phi=0.9):
    e = rng.standard_normal((reps, n, steps))
    x = np.empty_like(e)
    x[..., 0] = e[..., 0]
    for t in range(1, steps):
        x[..., t] = phi * x[..., t - 1] + math.sqrt(1 - phi ** 2) * e[..., t]
    return x


def test_simultaneous_band_covers_the_whole_curve_and_pointwise_does_not():
    rng = np.random.default_rng(8)
    truth = np.linspace(0.5, 0.9, 20)
    sim = pointwise = 0
    reps = 200
    for x in ar_curves(rng, reps, 16):
        band = curve_band(truth + 0.05 * x, n_resamples=400, rng=rng)
        sim += np.all((band.low <= truth) & (truth <= band.high))
        pointwise += np.all((band.pointwise_low <= truth) & (truth <= band.pointwise_high))
    assert 0.9 <= sim / reps <= 0.99 and pointwise / reps < 0.85, (sim, pointwise)


def test_curve_band_leaves_out_diverged_runs_and_is_reproducible():
    rng = np.random.default_rng(9)
    c = 0.8 + 0.01 * rng.standard_normal((10, 6))
    c[0, 3:] = nan
    a, b = curve_band(c, rng=1), curve_band(c, rng=1)
    assert a.n == 9 and a.n_diverged == 1 and "1 diverged" in a.note
    assert a.critical == b.critical and a.critical > st.t.ppf(0.975, 8)
    assert np.all(a.low <= a.pointwise_low) and np.all(a.high >= a.pointwise_high)
    with pytest.raises(UserError, match="need at least 3 runs"):
        curve_band(c[:3])


@pytest.mark.parametrize("paired", [False, True])
def test_curve_test_type_one_error_and_power(paired):
    rng = np.random.default_rng(10 + paired)
    reps, n = 300, 10
    x = ar_curves(rng, reps, 2 * n)
    shared = ar_curves(rng, reps, n) if paired else 0.0  # a seed effect both settings share
    a, b = x[:, :n] + shared, x[:, n:] + shared
    rej = np.mean([curve_test(a[i], b[i], paired=paired, n_resamples=199, rng=i).p_value
                   <= 0.05 for i in range(reps)])
    assert 0.02 <= rej <= 0.085, rej
    shift = np.zeros(20)
    shift[12:] = 3.0
    t = curve_test(a[0] + shift, b[0], paired=paired, n_resamples=1999, rng=0)
    assert t.n_resamples == (1024 if paired else 1999)
    assert t.p_value < 0.01 and t.step_p[15] <= 0.05 and np.all(t.step_p[:3] > 0.05)


def test_curve_test_inputs():
    a = np.zeros((4, 5))
    with pytest.raises(UserError, match=r"b: need as many steps as a \(5\), got 4"):
        curve_test(a, np.zeros((4, 4)))
    with pytest.raises(UserError, match="b: paired curves need the same shape"):
        curve_test(a, np.zeros((3, 5)), paired=True)
    with pytest.raises(UserError, match="paired: must be True or False"):
        curve_test(a, a, paired="yes")
    same = curve_test(a + 0.5, a + 0.5, n_resamples=99, rng=0)
    assert same.statistic == 0 and same.p_value == 1.0
    rng = np.random.default_rng(13)
    x, y = rng.normal(size=(12, 5)), rng.normal(size=(12, 5))
    one, two = curve_test(x, y, rng=4), curve_test(x, y, rng=4)
    assert one.p_value == two.p_value and np.array_equal(one.step_p, two.step_p)
    y[2, 3] = nan
    assert "1 run(s) with a non-finite point" in curve_test(x, y, rng=4).note
