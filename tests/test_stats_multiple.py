"""adjust_pvalues, pairwise, omnibus, welch_anova, rank_settings."""

import json
from types import SimpleNamespace

import numpy as np
import pytest
import scipy.stats as st

import jaxstab.stats as js
from jaxstab.errors import UserError

P = [0.01, 0.04, 0.03, 0.005, 0.2, 0.04]
G1 = [0.912, 0.897, 0.921, 0.905, 0.889, 0.931]
G2 = [0.884, 0.901, 0.879, 0.893, 0.870, 0.905, 0.861]
G3 = [0.95, 0.90, 0.85, 0.97, 0.88]
GROUPS = {"adam": G1, "sgd": G2, "rmsprop": G3}


def test_holm_by_hand_and_statsmodels():
    expected = [0.05, 0.12, 0.12, 0.03, 0.2, 0.12]  # statsmodels multipletests("holm")
    np.testing.assert_allclose(js.adjust_pvalues(P), expected)
    mt = pytest.importorskip("statsmodels.stats.multitest")
    rng = np.random.default_rng(0)
    for _ in range(20):
        p = rng.uniform(0, 0.2, rng.integers(1, 15))
        np.testing.assert_allclose(js.adjust_pvalues(p), mt.multipletests(p, method="holm")[1])


def test_bh_and_bonferroni():
    np.testing.assert_allclose(js.adjust_pvalues(P, method="fdr_bh"),
                               [0.03, 0.048, 0.048, 0.03, 0.2, 0.048])
    np.testing.assert_allclose(js.adjust_pvalues(P, method="fdr_bh"),
                               st.false_discovery_control(P))
    np.testing.assert_allclose(js.adjust_pvalues(P, method="bonferroni"),
                               np.minimum(np.array(P) * 6, 1))
    assert js.adjust_pvalues([]).size == 0


def test_adjust_bad_input():
    with pytest.raises(UserError, match=r"method: must be one of 'holm', 'fdr_bh'"):
        js.adjust_pvalues(P, method="sidak")
    with pytest.raises(UserError, match=r"p: p-values must be finite and within \[0, 1\]"):
        js.adjust_pvalues([0.1, np.nan])
    with pytest.raises(UserError, match=r"p: need a 1-D array"):
        js.adjust_pvalues([[0.1]])


def test_welch_anova_reference_value():
    # statsmodels.stats.oneway.anova_oneway(use_var="unequal"), the same as R's oneway.test
    f, df1, df2, p = js.welch_anova(*map(np.asarray, (G1, G2, G3)))
    assert (f, df1, df2, p) == pytest.approx((3.75246942504699, 2, 8.05825585908982,
                                              0.07050870918886602), rel=1e-10)
    ow = pytest.importorskip("statsmodels.stats.oneway")
    rng = np.random.default_rng(1)
    groups = [rng.normal(0, s, n) for s, n in [(1, 5), (2, 8), (0.5, 12), (1, 4)]]
    ref = ow.anova_oneway(groups, use_var="unequal")
    assert js.welch_anova(*groups)[3] == pytest.approx(ref.pvalue, rel=1e-10)


def test_omnibus_mean_and_spread_equal_scipy():
    o = js.omnibus(GROUPS)
    assert o.primary == "Welch ANOVA" and o.p_value == pytest.approx(0.07050870918886602)
    assert o.tests[1].p_value == pytest.approx(st.kruskal(G1, G2, G3).pvalue)
    s = js.omnibus(GROUPS, metric_kind="spread")
    assert s.p_value == pytest.approx(st.levene(G1, G2, G3, center="median").pvalue)
    assert s.tests[1].p_value == pytest.approx(st.fligner(G1, G2, G3).pvalue)
    assert (o.k, o.n) == (3, (6, 7, 5))
    json.dumps(o.to_dict())


def test_omnibus_degenerate():
    o = js.omnibus({"a": [1.0] * 3, "b": [1.0] * 4})
    assert o.p_value == 1.0 and "no variation" in o.note
    o = js.omnibus({"a": [1.0] * 3, "b": [1.0, 2.0, 3.0], "c": [4.0, 5.0, 6.0]})
    assert o.primary == "Kruskal-Wallis" and "Welch ANOVA undefined" in o.note


def test_omnibus_bad_input():
    with pytest.raises(UserError, match=r"sgd: need a 1-D array of per-seed values"):
        js.omnibus({"adam": G1, "sgd": [G2]})
    with pytest.raises(UserError, match=r"sgd: need at least 5 finished runs, got 2"):
        js.omnibus({"adam": G1, "sgd": [0.9, np.nan, 0.8]}, metric_kind="spread")


def test_pairwise_on_arrays():
    pw = js.pairwise(GROUPS, rng=0, n_resamples=500)
    assert [(p.a, p.b) for p in pw.pairs] == [("adam", "sgd"), ("adam", "rmsprop"),
                                              ("sgd", "rmsprop")]
    raw = [p.comparison.p_value for p in pw.pairs]
    np.testing.assert_allclose([p.p_adjusted for p in pw.pairs], js.adjust_pvalues(raw))
    assert raw[0] == pytest.approx(st.ttest_ind(G1, G2, equal_var=False).pvalue)
    assert not any(p.comparison.paired for p in pw.pairs)
    bh = js.pairwise(GROUPS, correction="fdr_bh", rng=0, n_resamples=500)
    assert bh.correction == "fdr_bh"
    table = js.format_comparison_table(pw)
    assert "p (holm)" in table and "adam" in table and len(table.splitlines()) == 6
    json.dumps(pw.to_dict())


def test_pairwise_bad_input():
    with pytest.raises(UserError, match=r"data: need at least 2 settings, got 1"):
        js.pairwise({"a": G1})
    with pytest.raises(UserError, match=r"adam vs sgd: b: paired samples need the same "
                                        r"shape as a"):
        js.pairwise({"adam": G1, "sgd": G2}, paired=True)
    with pytest.raises(UserError, match=r"metric: required when comparing study results"):
        js.pairwise(SimpleNamespace(settings=[]))
    with pytest.raises(UserError, match=r"correction: must be one of"):
        js.pairwise(GROUPS, correction="none")


def _setting(name, values, sources=("init",), seeds=None):
    values = np.asarray(values, float)
    return SimpleNamespace(
        key=json.dumps({"opt": name}), factors={"opt": name},
        seeds=np.arange(values.size) if seeds is None else np.asarray(seeds),
        metrics={"acc": values}, diverged=~np.isfinite(values), sources=tuple(sources))


def test_pairwise_on_results_pairs_by_seed_when_sources_match():
    rng = np.random.default_rng(2)
    base = rng.normal(0.9, 0.02, 10)
    res = SimpleNamespace(settings=[
        _setting("adam", base + 0.01, seeds=np.arange(10)),
        # same sources, seeds in another order and one diverged run
        _setting("sgd", np.append((base - 0.002)[::-1][:9], np.nan),
                 seeds=np.append(np.arange(10)[::-1][:9], 0)),
        _setting("lion", rng.normal(0.9, 0.02, 10), sources=("init", "order")),
    ])
    pw = js.pairwise(res, metric="acc", rng=0, n_resamples=500)
    adam_sgd, adam_lion, _ = pw.pairs
    assert adam_sgd.comparison.paired and not adam_lion.comparison.paired
    assert adam_sgd.a == "opt=adam" and adam_sgd.a_key == '{"opt": "adam"}'
    # seed 0 diverged in sgd: 9 pairs, matched by seed index
    assert adam_sgd.comparison.n_a == 9 and adam_sgd.n_diverged_b == 1
    assert adam_sgd.comparison.difference.point == pytest.approx(0.012)
    with pytest.raises(UserError, match=r"metric: 'loss' not recorded for setting"):
        js.pairwise(res, metric="loss")


def test_rank_settings():
    r = js.rank_settings(GROUPS, rng=0, n_resamples=500)
    assert [x.name for x in r.ranks] == ["rmsprop", "adam", "sgd"]  # by mean
    assert r.ranks[0].p_vs_best is None and r.ranks[0].tied_with_best
    # rmsprop is noisy, so nothing is clearly below it, and adam's lead over sgd is not
    # clear once the correction covers all 3 x 2 ordered pairs (the joint best set).
    assert r.ranks[1].tied_with_best and r.ranks[2].tied_with_best
    ps = [st.ttest_ind(g, G3, equal_var=False).pvalue for g in (G1, G2)]
    assert [x.p_vs_best for x in r.ranks[1:]] == pytest.approx(ps)
    # p_adjusted: Holm over the one-sided "j is better than i" tests of every ordered
    # pair (i, j) together, smallest of i's row.
    named = {"adam": G1, "sgd": G2, "rmsprop": G3}
    keys = [(i, j) for i in named for j in named if i != j]
    one = [st.ttest_ind(named[j], named[i], equal_var=False, alternative="greater").pvalue
           for i, j in keys]
    adj = dict(zip(keys, js.adjust_pvalues(one), strict=True))
    for rank in r.ranks:
        want = min(q for (i, _), q in adj.items() if i == rank.name)
        assert rank.p_adjusted == pytest.approx(want)
        assert rank.tied_with_best == (want >= 0.05)
    clear = js.rank_settings({"adam": G1, "sgd": G2}, rng=0, n_resamples=500)
    assert [x.name for x in clear.ranks] == ["adam", "sgd"]
    assert not clear.ranks[1].tied_with_best
    low = js.rank_settings(GROUPS, higher_is_better=False, rng=0, n_resamples=500)
    assert low.ranks[0].name == "sgd"
    spread = js.rank_settings(GROUPS, metric_kind="spread", rng=0)
    assert [x.name for x in spread.ranks] == ["adam", "sgd", "rmsprop"]  # by std
    assert spread.ranks[0].interval.method in ("chi2", "chi2+bonett")
    json.dumps(r.to_dict())
