"""Issue 13, findings 11 and 12, and the `analyze` entry point that `jaxstab compare`
and the report read: comparisons against the best and a control, grid factors, no
warnings and no bare NaN.
"""

import dataclasses
import json
import re
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import scipy.stats as st

import jaxstab.stats as js
from jaxstab.errors import UserError
from jaxstab.stats import _best, _tests
from test_stats_support import claim, results, setting

NAN = re.compile(r"\bnan\b", re.IGNORECASE)


def strict(fn, *args, **kwargs):
    """Call with every warning an error: nothing may leak to the terminal."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return fn(*args, **kwargs)


def grid_study(rng, *, seeds=8, sources=("init",), shift=0.0):
    out = []
    seed_effect = rng.normal(0, 0.01, seeds)
    for lr in (0.01, 0.1, 1.0):
        for width in (32, 64):
            x = rng.binomial(200, 0.88 + shift * (lr == 0.1), seeds) / 200 + seed_effect
            out.append(setting({"lr": lr, "width": width}, x, sources))
    return results(*out, study=SimpleNamespace(name="mine/grid", main_metric="test_acc"))


def degenerate_study():
    """Every shape that once printed a warning or a bare nan."""
    acc = np.array([150, 151, 163, 170, 171]) / 200
    return results(
        setting({"s": "a"}, acc, ["init"]),
        setting({"s": "b"}, np.array([149, 150, 162, 169, 170]) / 200, ["init"]),  # shift
        setting({"s": "c"}, np.full(5, 162 / 200), ["init"]),  # constant, std 1.2e-16
        setting({"s": "d"}, np.r_[0.9, np.full(4, np.nan)], ["init"]),  # under-run
        setting({"s": "e"}, np.full(5, np.nan), ["init"]))  # all diverged


def test_analyze_record_is_json_without_nan_and_formats_with_reasons():
    claims = [claim("a beats b", {"s": "a"}, {"s": "b"}),
              claim("a beats d", {"s": "a"}, {"s": "d"}),
              claim("c is steadier", {"s": "c"}, {"s": "a"}, kind="spread", direction="less")]
    a = strict(js.analyze, degenerate_study(), claims, metric="test_acc", n_resamples=999)
    text = strict(a.format)
    assert not NAN.search(text), text
    d = a.to_dict()
    json.dumps(d, allow_nan=False)
    assert set(d) == {"study", "metric", "metric_kind", "correction", "alpha", "level",
                      "higher_is_better", "settings", "pairwise", "omnibus", "ranking",
                      "control", "factorial", "verdicts", "notes", "variance",
                      "targets", "direction"}
    assert [r.compared for r in a.settings] == [True, True, True, False, False]
    assert "left out of the comparisons" in a.notes[0] and "s=d" in a.notes[0]
    assert "no statistics" in text and "0 of 5 finished, 5 diverged" in text
    assert "Welch ANOVA" in text and "undefined" in text  # a constant arm: the reason
    assert [v.status for v in a.verdicts][1] == "inconclusive"


def test_analyze_defaults_and_reproducibility():
    res = grid_study(np.random.default_rng(0))
    a1 = js.analyze(res, [], rng=3, n_resamples=999)
    assert a1.metric == "test_acc" and a1.study == "mine/grid"  # the study's main metric
    assert a1.to_dict() == js.analyze(res, [], rng=3, n_resamples=999).to_dict()
    assert dataclasses.is_dataclass(a1) and a1.__dataclass_params__.frozen


def test_most_runs_diverged_still_gets_verdicts_that_say_so():
    rng = np.random.default_rng(1)
    div = rng.random((2, 12)) < 0.8
    div[:, :3] = False
    res = results(setting({"lr": 1.0}, rng.normal(0.7, 0.05, 12), diverged=div[0]),
                  setting({"lr": 2.0}, rng.normal(0.6, 0.05, 12), diverged=div[1]))
    a = strict(js.analyze, res, [claim("lr 1 beats lr 2", {"lr": 1.0}, {"lr": 2.0})],
               metric="test_acc", n_resamples=999)
    (v,) = a.verdicts
    assert "most runs of lr=1 and lr=2 diverged" in v.note
    assert "most runs" in a.format()


# --- finding 12: against the best, against a control, factors -----------------------------

def test_control_comparisons_are_holm_over_k_minus_one():
    res = grid_study(np.random.default_rng(2), shift=0.03)
    a = js.analyze(res, [], control={"lr": 0.01, "width": 32}, n_resamples=999)
    c = a.control
    assert c.control == "lr=0.01, width=32" and len(c.rows) == 5
    raw = [r.p_value for r in c.rows]
    assert [r.p_adjusted for r in c.rows] == pytest.approx(list(js.adjust_pvalues(raw)))
    assert len(a.pairwise.pairs) == 15  # every pair stays in the data
    assert "against the control lr=0.01, width=32 (holm over k-1 = 5" in a.format()
    with pytest.raises(UserError, match=r"control: \{.lr.: 5.0\} matches no setting"):
        js.analyze(res, [], control={"lr": 5.0}, n_resamples=999)


def test_ranking_names_the_settings_tied_with_the_best():
    a = js.analyze(grid_study(np.random.default_rng(3), shift=0.06), [], n_resamples=999)
    ranks = a.ranking.ranks
    assert ranks[0].name.startswith("lr=0.1") and ranks[0].tied_with_best
    assert not any(r.tied_with_best for r in ranks if not r.name.startswith("lr=0.1"))
    assert ranks[1].comparison.difference.point == pytest.approx(
        ranks[1].value - ranks[0].value)
    assert "tied with the best" in a.format()


def test_tied_set_keeps_the_true_best_at_level_alpha():
    # All settings equal: every one is a best, so excluding any fixed one is an error.
    rng = np.random.default_rng(4)
    k, n, reps = 5, 6, 250
    excluded = 0
    for _ in range(reps):
        x = rng.beta(45, 5, (k, n))
        table = {}
        for i in range(k):
            for j in range(i + 1, k):
                _, p = _tests.welch_t(x[i], x[j], "two-sided")
                gap = x[i].mean() - x[j].mean()
                table[i, j] = SimpleNamespace(p_value=float(p),
                                              direction="greater" if gap > 0 else "less")
        excluded += _best.not_best_p(table, k, "greater", "holm")[0] < 0.05
    assert excluded / reps <= 0.05 + 0.02


def test_factor_effects_equal_statsmodels_type3_f():
    sm = pytest.importorskip("statsmodels.formula.api")
    anova_lm = pytest.importorskip("statsmodels.stats.anova").anova_lm
    import pandas as pd

    res = grid_study(np.random.default_rng(5), sources=("order",), shift=0.02)
    res.settings[0].sources = ("init",)  # different sources: no seed blocks
    f = js.factorial(res, metric="test_acc", rng=0, n_resamples=199)
    assert f.factors == ("lr", "width") and not f.blocked
    rows = [(s.factors["lr"], s.factors["width"], v) for s in res.settings
            for v in s.metrics["test_acc"]]
    df = pd.DataFrame(rows, columns=["lr", "width", "y"])
    model = sm.ols("y ~ C(lr, Sum) * C(width, Sum)", data=df).fit()
    table = anova_lm(model, typ=3)
    want = dict(zip(["lr", "width", "lr x width"], table["F"].iloc[1:4], strict=True))
    for e in f.effects:
        assert e.statistic == pytest.approx(want[e.effect], rel=1e-8)
    assert f.effects[0].p_value < 0.05  # lr shifts the mean
    again = js.factorial(res, metric="test_acc", rng=0, n_resamples=199)
    assert again == f


def test_factors_use_seeds_as_blocks_when_settings_share_seed_keys():
    rng = np.random.default_rng(6)
    res = grid_study(rng, shift=0.0)
    f = js.factorial(res, metric="test_acc", rng=0, n_resamples=199)
    assert f.blocked and f.effects[0].df_resid == 6 * 8 - 6 - 7
    one = results(setting({"lr": 1}, [0.9, 0.8]), setting({"lr": 2}, [0.9, 0.7]))
    assert js.factorial(one, metric="test_acc") is None  # one factor: not a grid


def test_factor_type1_error_under_collapsed_runs():
    rng = np.random.default_rng(7)
    reps, hits = 80, np.zeros(3)
    for _ in range(reps):
        out = []
        for i in range(3):
            for j in range(2):
                x = np.where(rng.random(6) < 0.2, 0.5, rng.normal(0.9, 0.02, 6))
                out.append(setting({"a": i, "b": j}, x, ("init",) if (i + j) % 2 else
                                   ("order",)))
        f = js.factorial(results(*out), metric="test_acc", rng=rng, n_resamples=99)
        hits += [e.p_value <= 0.05 for e in f.effects]
    assert np.all(hits / reps <= 0.05 + 0.075)  # 80 reps: the table has the precise rates


def test_big_sweeps_print_the_significant_pairs_only():
    rng = np.random.default_rng(8)
    out = [setting({"lr": float(lr), "wd": float(wd)},
                   rng.normal(0.8 + 0.02 * (lr > 2), 0.01, 6))
           for lr in range(5) for wd in range(3)]
    a = js.analyze(results(*out), [], metric="test_acc", n_resamples=999)
    assert len(a.pairwise.pairs) == 105
    text = a.format()
    assert "105 pairs (holm over all of them" in text and "every pair is in --json" in text
    assert text.count("\n") < 120


# --- finding 11: nothing leaks ------------------------------------------------------------

def test_report_functions_emit_no_warnings_on_degenerate_data():
    res = degenerate_study()
    ok = results(*res.settings[:3])
    strict(js.pairwise, ok, metric="test_acc", rng=0, n_resamples=999)
    strict(js.pairwise, ok, metric="test_acc", metric_kind="spread", rng=0)
    strict(js.omnibus, ok, metric="test_acc")
    strict(js.verdicts, res, [claim("a beats c", {"s": "a"}, {"s": "c"})])
    for s in res.settings:
        x = s.metrics["test_acc"]
        if np.isfinite(x).sum() >= 2:
            strict(js.summarize, x, diverged=~np.isfinite(x))


@pytest.mark.parametrize("name", [
    "article/architecture", "article/batch_size", "article/example1", "article/example2",
    "article/example3", "article/hparam_search", "article/imbalance", "article/label_noise",
    "article/learning_rate", "article/regularization", "article/rnn_gradients",
    "article/seed_sources", "mnist1d/models"])
def test_every_builtin_study_formats_without_warnings_or_bare_nan(name):
    study_mod = pytest.importorskip("jaxstab.loader")
    study = study_mod.load_study(name)
    rng = np.random.default_rng(abs(hash(name)) % 2**32)
    metrics = {study.main_metric, *(c.metric for c in study.claims)}
    settings = []
    for i, s in enumerate(study.settings()):
        n = 5
        vals = {}
        for m in sorted(metrics):
            x = rng.binomial(200, 0.85, n) / 200
            if i == 0:
                x = np.full(n, 0.905)  # a setting without seed variation
            vals[m] = x
        div = np.zeros(n, bool)
        if i == 1:
            div[:4] = True  # most runs diverged
        settings.append(SimpleNamespace(
            key=json.dumps(dict(s.factors), sort_keys=True, default=str),
            factors=dict(s.factors), seeds=np.arange(n), diverged=div,
            sources=tuple(s.vary), curves={},
            metrics={m: np.where(div, np.nan, v) for m, v in vals.items()}))
    res = SimpleNamespace(settings=settings, study=study)
    a = strict(js.analyze, res, study.claims, n_resamples=999)
    text = strict(a.format)
    assert not NAN.search(text), text
    json.dumps(a.to_dict(), allow_nan=False)
    assert len(a.verdicts) == len(study.claims)
    assert "article" not in " ".join(v.statement for v in a.verdicts if "article" not in
                                     v.claim)


def test_welch_anova_nan_is_never_printed_without_a_reason():
    res = degenerate_study()
    o = js.omnibus(results(*res.settings[:3]), metric="test_acc")
    assert o.primary == "Kruskal-Wallis" and "Welch ANOVA undefined" in o.note
    assert st.kruskal(*(s.metrics["test_acc"] for s in res.settings[:3])).pvalue == \
        pytest.approx(o.p_value)


@pytest.mark.parametrize("kind", ["mean", "spread"])
@pytest.mark.parametrize("paired", [False, True])
def test_a_comparison_turned_around_equals_the_comparison_the_other_way(kind, paired):
    from jaxstab.stats._compare import reverse

    rng = np.random.default_rng(9)
    a, b = rng.normal(0.9, 0.02, 9), rng.normal(0.88, 0.01, 9)
    # The spread primary is a permutation test: every split (C(18, 9) = 48620) makes
    # its p the same either way round; Monte Carlo draws would differ by their noise.
    draws = 50_000 if kind == "spread" else 999
    ab = js.compare(a, b, metric_kind=kind, paired=paired, rng=0, n_resamples=draws)
    ba = js.compare(b, a, metric_kind=kind, paired=paired, rng=0, n_resamples=draws)
    back = reverse(ab)
    assert back.direction == ba.direction and back.p_value == pytest.approx(ba.p_value)
    assert [t.statistic for t in back.tests] == pytest.approx([t.statistic for t in ba.tests])
    for mine, theirs in zip((back.difference, *back.effects), (ba.difference, *ba.effects),
                            strict=True):
        assert mine.point == pytest.approx(theirs.point)
        if mine.method in ("noncentral t", "Welch t", "paired t") or "t on" in mine.method \
                or "inversion" in mine.method:
            assert (mine.low, mine.high) == pytest.approx((theirs.low, theirs.high))


@pytest.mark.parametrize("a,b,kind,paired", [
    (np.full(5, 162 / 200), np.array([150, 151, 163, 170, 171]) / 200, "mean", False),
    (np.full(5, 162 / 200), np.array([0.9, 0.9, 0.9, 0.9, 0.905]), "spread", True),
    (np.array([150, 151, 163, 170, 171]) / 200, np.array([0.9, 0.9, 0.9, 0.9, 0.905]),
     "spread", True)])
def test_compare_emits_no_warnings_on_accuracy_like_data(a, b, kind, paired):
    # These once printed "Precision loss occurred in moment calculation" and "invalid
    # value encountered in subtract" on the user's terminal.
    c = strict(js.compare, a, b, metric_kind=kind, paired=paired, n_resamples=999)
    json.dumps(c.to_dict(), allow_nan=False)
