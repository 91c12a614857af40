"""compare: equality with scipy/statsmodels, effects, degenerate data, bad input."""

import json
import math

import numpy as np
import pytest
import scipy.stats as st

import jaxstab.stats as js
from jaxstab.errors import UserError
from jaxstab.stats import _effects
from jaxstab.stats._ranks import placements

A = np.array([0.912, 0.897, 0.921, 0.905, 0.889, 0.931, 0.902, 0.915, 0.925])
B = np.array([0.884, 0.901, 0.879, 0.893, 0.870, 0.905, 0.861, 0.889, 0.911, 0.872])
PA = np.array([0.91, 0.93, 0.90, 0.95, 0.92, 0.94, 0.89, 0.93])
PB = np.array([0.90, 0.91, 0.91, 0.92, 0.90, 0.93, 0.87, 0.90])


def by_name(c):
    return {t.name: t for t in c.tests}


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_mean_tests_equal_scipy(alternative):
    c = js.compare(A, B, alternative=alternative, rng=np.random.default_rng(0),
                   n_resamples=999)
    t = by_name(c)
    assert c.primary == "Welch t" and c.tests[0].name == "Welch t"
    welch = st.ttest_ind(A, B, equal_var=False, alternative=alternative)
    assert c.p_value == pytest.approx(welch.pvalue, rel=1e-12)
    assert t["Mann-Whitney U"].p_value == pytest.approx(
        st.mannwhitneyu(A, B, alternative=alternative).pvalue, rel=1e-12)
    perm = st.permutation_test((A, B), lambda x, y, axis: x.mean(axis) - y.mean(axis),
                               vectorized=True, n_resamples=999, alternative=alternative,
                               rng=np.random.default_rng(0))
    assert t["permutation"].p_value == pytest.approx(perm.pvalue)


def test_welch_equals_statsmodels():
    ws = pytest.importorskip("statsmodels.stats.weightstats")
    _, p, _ = ws.ttest_ind(A, B, usevar="unequal")
    assert js.compare(A, B).p_value == pytest.approx(p, rel=1e-10)


def test_paired_mean_tests_equal_scipy():
    c = js.compare(PA, PB, paired=True, alternative="greater")
    t = by_name(c)
    assert c.paired and c.primary == "paired t"
    assert c.p_value == pytest.approx(st.ttest_rel(PA, PB, alternative="greater").pvalue)
    assert t["Wilcoxon signed-rank"].p_value == pytest.approx(
        st.wilcoxon(PA, PB, alternative="greater").pvalue)
    # 2^8 sign flips: the paired permutation test is exact here.
    d = PA - PB
    signs = np.array(np.meshgrid(*[[-1, 1]] * 8)).reshape(8, -1).T
    exact = np.mean((signs * d).mean(1) >= d.mean() - 1e-12)
    assert t["paired permutation"].p_value == pytest.approx(exact)


def _log_sd_ratio(x, y, axis=-1):
    return np.log(np.std(x, axis=axis, ddof=1)) - np.log(np.std(y, axis=axis, ddof=1))


def _centered(x):
    return x - np.median(x)


@pytest.mark.parametrize("alternative", ["two-sided", "greater", "less"])
def test_spread_tests_equal_scipy(alternative):
    a, b = A[:7].mean() + 3 * (A[:7] - A[:7].mean()), B[:7]  # C(14, 7) splits: exact
    c = js.compare(a, b, metric_kind="spread", alternative=alternative)
    t = by_name(c)
    assert c.primary == "permutation (std ratio)"
    # The primary is scipy's exact permutation test of log(std A / std B) over the
    # median-centered runs.
    want = st.permutation_test((_centered(a), _centered(b)), _log_sd_ratio,
                               vectorized=True, alternative=alternative).pvalue
    assert c.p_value == pytest.approx(want)
    za, zb = np.abs(a - np.median(a)), np.abs(b - np.median(b))
    bf = st.ttest_ind(za, zb, alternative=alternative).pvalue
    assert t["Brown-Forsythe"].p_value == pytest.approx(bf)
    fk_two = st.fligner(a, b).pvalue
    expected = {"two-sided": fk_two, "greater": fk_two / 2, "less": 1 - fk_two / 2}
    assert t["Fligner-Killeen"].p_value == pytest.approx(expected[alternative])
    assert c.direction == "greater"


def test_paired_spread_primary_is_the_paired_permutation_of_the_std_ratio():
    wide = PA.mean() + 3 * (PA - PA.mean())
    c = js.compare(wide, PB, metric_kind="spread", paired=True)
    assert c.primary == "paired permutation (std ratio)"
    want = st.permutation_test((_centered(wide), _centered(PB)), _log_sd_ratio,
                               vectorized=True, permutation_type="samples").pvalue
    assert c.p_value == pytest.approx(want)  # 2^8 sign arrangements: exact
    za, zb = np.abs(wide - np.median(wide)), np.abs(PB - np.median(PB))
    assert by_name(c)["paired Brown-Forsythe"].p_value == pytest.approx(
        st.ttest_rel(za, zb).pvalue)


def test_mean_effects():
    c = js.compare(A, B, level=0.9)
    diff, (g, pi) = c.difference, c.effects
    ci = st.ttest_ind(A, B, equal_var=False).confidence_interval(0.9)
    assert (diff.point, diff.low, diff.high) == pytest.approx((A.mean() - B.mean(), *ci))
    na, nb = A.size, B.size
    sp = np.sqrt(((na - 1) * A.var(ddof=1) + (nb - 1) * B.var(ddof=1)) / (na + nb - 2))
    d = (A.mean() - B.mean()) / sp
    assert g.name == "Hedges' g"
    assert g.point == pytest.approx(d * (1 - 3 / (4 * (na + nb) - 9)), rel=1e-3)
    # The interval inverts the noncentral t at the observed t statistic.
    scale = np.sqrt(na * nb / (na + nb))
    assert st.nct.cdf(d * scale, na + nb - 2, g.low * scale) == pytest.approx(0.95)
    assert st.nct.cdf(d * scale, na + nb - 2, g.high * scale) == pytest.approx(0.05)
    u = st.mannwhitneyu(A, B).statistic
    assert pi.name == "P(A>B)" and pi.point == pytest.approx(u / (na * nb))
    assert pi.low <= pi.point <= pi.high and pi.method == "bca"


def test_hedges_g_equals_statsmodels():
    ma = pytest.importorskip("statsmodels.stats.meta_analysis")
    smd, _ = ma.effectsize_smd(A.mean(), A.std(ddof=1), A.size, B.mean(), B.std(ddof=1),
                               B.size)
    assert js.compare(A, B).effects[0].point == pytest.approx(smd, rel=1e-3)


def test_prob_improvement_counts_ties_half():
    c = js.compare([1.0, 2.0, 3.0], [1.0, 2.0, 2.0])
    # pairs: 1>?: tie+0+0, 2: 1+tie+tie, 3: 1+1+1 -> (0.5 + 2 + 3) / 9
    assert c.effects[1].point == pytest.approx(5.5 / 9)


@pytest.mark.parametrize("nx,ny", [(3, 4), (32, 64), (50, 50), (70, 40)])
def test_prob_improvement_pair_count_equals_mann_whitney(nx, ny):
    from jaxstab.stats._effects import _prob_improvement

    rng = np.random.default_rng(nx)
    x = rng.integers(0, 6, (5, nx)).astype(float)  # many ties
    y = rng.integers(0, 6, (5, ny)).astype(float)
    want = [st.mannwhitneyu(a, b).statistic / (nx * ny) for a, b in zip(x, y)]
    np.testing.assert_array_equal(_prob_improvement(x, y), want)


def _p_at(a, b, r, paired):
    from jaxstab.stats._spread import StdRatio
    perm = StdRatio(a, b, paired=paired, rng=np.random.default_rng(0), n_resamples=9999)
    return float(perm.pvalue("two-sided", r))


@pytest.mark.parametrize("paired", [False, True])
def test_spread_effects_invert_the_spread_test(paired):
    a, b = (PA.mean() + 3 * (PA - PA.mean()), PB) if paired else (A[:7], B[:7])
    c = js.compare(a, b, metric_kind="spread", paired=paired, rng=1)
    diff, (ratio,) = c.difference, c.effects
    sa, sb = np.std(a, ddof=1), np.std(b, ddof=1)
    assert ratio.name == "std(A) / std(B)" and ratio.point == pytest.approx(sa / sb)
    assert diff.name == "std(A) - std(B)" and diff.point == pytest.approx(sa - sb)
    # Each end of the ratio's interval is where the exact permutation test of "std A =
    # r std B" turns from not rejecting (inside) to rejecting (outside).
    for r, inward in ((ratio.low, 1 + 1e-6), (ratio.high, 1 - 1e-6)):
        assert _p_at(a, b, r * inward, paired) > 0.05 >= _p_at(a, b, r / inward, paired)
    assert ratio.method.endswith("permutation inversion")
    assert diff.low <= diff.point <= diff.high


def test_delong_standard_error_matches_brute_force():
    rng = np.random.default_rng(0)
    a, b = rng.normal(size=7), np.round(rng.normal(size=5), 1)
    win = (a[:, None] > b[None, :]) + 0.5 * (a[:, None] == b[None, :])
    v_a, v_b = win.mean(1), win.mean(0)
    se = np.sqrt(v_a.var(ddof=1) / 7 + v_b.var(ddof=1) / 5)
    p_a, p_b, u = placements(a, b)
    assert np.allclose(p_a, v_a) and np.allclose(p_b, v_b)
    assert u == win.sum()
    assert _effects._delong_se(p_a, p_b, paired=False) == pytest.approx(se)


def test_large_samples_use_normal_and_percentile_intervals():
    rng = np.random.default_rng(0)
    a, b = rng.normal(0.1, 1, 1500), rng.normal(0, 1, 1500)
    c = js.compare(a, b, n_resamples=200, rng=0)
    assert c.effects[1].method == "normal (DeLong)"
    assert c.effects[1].low < c.effects[1].point < c.effects[1].high
    s = js.compare(a, b, metric_kind="spread", n_resamples=200, rng=0)
    assert s.effects[0].method == "log variance ratio z"  # 3000 runs: no permutations
    assert s.effects[0].low < s.effects[0].point < s.effects[0].high


def test_same_rng_same_comparison_different_rng_different_bootstrap():
    def run(seed):
        return js.compare(A, B, rng=np.random.default_rng(seed), n_resamples=999)
    assert run(3) == run(3)
    assert run(3).effects[1] != run(4).effects[1]


# --- degenerate data ---------------------------------------------------------------------

def test_both_constant_and_equal_gives_p_one_and_says_why():
    for kind in ["mean", "spread"]:
        c = js.compare([0.9] * 5, [0.9] * 6, metric_kind=kind)
        assert c.p_value == 1.0 and all(t.p_value == 1.0 for t in c.tests)
        assert "constant" in c.note
    c = js.compare([0.9] * 4, [0.9] * 4, paired=True)
    assert c.p_value == 1.0 and "A = B" in c.note


def test_both_constant_and_different_uses_exact_permutation():
    c = js.compare([1.0] * 4, [0.5] * 4)
    assert c.primary == "permutation"
    assert c.p_value == pytest.approx(2 / math.comb(8, 4))  # the two extreme splits
    assert "from the permutation test" in c.note and c.direction == "greater"
    assert math.isnan(c.effects[0].point) and "neither setting varies" in c.effects[0].note
    p = js.compare([1.0] * 5, [0.5] * 5, paired=True)
    assert p.primary == "paired permutation" and p.p_value == pytest.approx(2 / 2**5)


def test_constant_spread_against_varying_spread():
    c = js.compare([0.9] * 6, A[:6], metric_kind="spread", alternative="less")
    assert math.isfinite(c.p_value) and c.direction == "less"
    assert c.effects[0].point == 0.0


def test_degenerate_comparison_is_json():
    for c in [js.compare([1.0] * 3, [1.0] * 3), js.compare([1.0] * 4, [0.5] * 4)]:
        text = json.dumps(c.to_dict())
        assert "NaN" not in text


# --- input checks ------------------------------------------------------------------------

def test_paired_needs_same_shape():
    with pytest.raises(UserError, match=r"b: paired samples need the same shape as a, "
                                        r"got \(9,\) and \(10,\)"):
        js.compare(A, B, paired=True)


def test_paired_nan_policy():
    a, b = PA.copy(), PB.copy()
    a[0], b[3] = np.nan, np.nan
    with pytest.raises(UserError, match=r"a, b: 2 pair\(s\) with a non-finite value"):
        js.compare(a, b, paired=True)
    c = js.compare(a, b, paired=True, nan_policy="omit")
    keep = np.ones(8, bool)
    keep[[0, 3]] = False
    assert c.n_a == 6
    assert c.p_value == pytest.approx(st.ttest_rel(PA[keep], PB[keep]).pvalue)


@pytest.mark.parametrize("kwargs,match", [
    (dict(a=[0.9], b=B), r"a: need at least 2 finite values, got 1"),
    (dict(a=A, b=[0.9, np.nan]), r"b: 1 non-finite value\(s\)"),
    (dict(a=A, b=B[:4], metric_kind="spread"), r"b: need at least 5 finite values, got 4"),
    (dict(a=A, b=B, metric_kind="median"), r"metric_kind: must be one of 'mean', 'spread'"),
    (dict(a=A, b=B, alternative="bigger"), r"alternative: must be one of"),
    (dict(a=A, b=B, paired="yes"), r"paired: must be True or False"),
    (dict(a=A, b=B, n_resamples=10), r"n_resamples: must be an integer >= 100"),
])
def test_compare_bad_input(kwargs, match):
    a, b = kwargs.pop("a"), kwargs.pop("b")
    with pytest.raises(UserError, match=match):
        js.compare(a, b, **kwargs)
