"""Aggregates across tasks (issue 23): rliable's definitions, written out here from its
paper and rliable/metrics.py, the calibration of the intervals and the type-I error of
the two across-task tests, by simulation with fixed seeds (larger tables:
docs/suite_tables.py, docs/statistics.md)."""

import time

import numpy as np
import pytest

from jaxstab.errors import UserError
from jaxstab.stats import (
    aggregate,
    guess_direction,
    performance_profile,
    probability_of_improvement,
    tasks_like_these_test,
    these_tasks_test,
)


def scores(runs=8, tasks=5, seed=0, shift=0.0):
    gen = np.random.default_rng(seed)
    return gen.normal(np.linspace(0.4, 0.9, tasks) - shift, 0.05, (runs, tasks))


def test_points_are_rliables_definitions():
    x = scores(runs=8, tasks=5)  # 40 runs: the middle 50% is 20 of them
    pooled = np.sort(x.ravel())
    reference = {
        "mean": np.mean(np.mean(x, axis=0)),
        "median": np.median(np.mean(x, axis=0)),
        "iqm": np.mean(pooled[10:30]),
        "optimality_gap": 0.7 - np.mean(np.minimum(x, 0.7)),
    }
    for stat, want in reference.items():
        got = aggregate({"a": x}, statistic=stat, gamma=0.7)["a"]
        assert got.point == pytest.approx(want, abs=1e-12), stat
        assert got.low < got.point < got.high and got.level == 0.95
    gap = aggregate({"a": x}, statistic="optimality_gap")["a"].point
    assert gap == pytest.approx(np.mean(np.maximum(1.0 - x, 0.0)))


def test_a_loss_gap_is_the_shortfall_above_the_target():
    x = scores()
    got = aggregate({"a": x}, statistic="optimality_gap", gamma=0.5,
                    higher_is_better=False)["a"].point
    assert got == pytest.approx(np.mean(np.maximum(x - 0.5, 0.0)))
    assert aggregate({"a": x}, statistic="iqm", higher_is_better=False)["a"].point == \
        aggregate({"a": x}, statistic="iqm")["a"].point


def test_normalization_by_reference_scores_and_by_methods():
    x, lo, hi = scores(), np.full(5, 0.2), np.linspace(1.0, 2.0, 5)
    want = aggregate({"a": (x - lo) / (hi - lo)}, statistic="mean")["a"]
    got = aggregate({"a": x}, statistic="mean", normalize={"low": lo, "high": hi})["a"]
    assert got.point == pytest.approx(want.point) and got.high == pytest.approx(want.high)
    base, top = scores(seed=1, shift=0.3), scores(seed=2)
    got = aggregate({"a": x, "rand": base, "best": top}, statistic="mean",
                    normalize={"low": "rand", "high": "best"})
    ref_lo, ref_hi = base.mean(axis=0), top.mean(axis=0)
    assert got["a"].point == pytest.approx(np.mean(((x - ref_lo) / (ref_hi - ref_lo)).mean(0)))
    assert got["best"].point == pytest.approx(1.0)


def test_probability_of_improvement_counts_ties_half():
    gen = np.random.default_rng(3)
    x, y = np.round(gen.normal(0.1, 1, (7, 4)), 1), np.round(gen.normal(0, 1, (6, 4)), 1)
    per_task = [np.mean((x[:, k, None] > y[None, :, k]) + 0.5 * (x[:, k, None] == y[None, :, k]))
                for k in range(4)]
    got = probability_of_improvement(x, y)
    assert got.point == pytest.approx(np.mean(per_task))
    assert 0 <= got.low < got.point < got.high <= 1
    lower = probability_of_improvement(x, y, higher_is_better=False)
    assert lower.point == pytest.approx(1 - np.mean(per_task))


def test_performance_profile_weights_tasks_equally():
    ragged = [np.array([0.1, 0.5, 0.9]), np.array([0.2, 0.6, 0.7, 0.8, 0.95])]
    taus = np.array([0.0, 0.55, 0.75, 1.0])
    prof = performance_profile({"a": ragged}, taus)["a"]
    want = [np.mean([np.mean(t > tau) for t in ragged]) for tau in taus]
    assert prof.point == pytest.approx(want)
    assert np.isnan(prof.low[0]) and np.isnan(prof.high[-1])  # no variation: no band
    assert prof.low[1] < prof.point[1] < prof.high[1]
    loss = performance_profile({"a": ragged}, taus, higher_is_better=False)["a"]
    assert loss.point == pytest.approx([np.mean([np.mean(t < tau) for t in ragged])
                                        for tau in taus])


def test_same_rng_same_interval_and_ragged_tasks_equal_nan_padding():
    x = scores(runs=6)
    for stat in ("median", "iqm"):
        a = aggregate({"a": x}, statistic=stat, rng=7)["a"]
        b = aggregate({"a": x}, statistic=stat, rng=np.random.default_rng(7))["a"]
        assert a == b
    ragged = [x[:3, 0], x[:, 1], x[:5, 2], x[:, 3], x[:4, 4]]
    padded = x.copy()
    padded[3:, 0], padded[5:, 2], padded[4:, 4] = np.nan, np.nan, np.nan
    for stat in ("mean", "median", "iqm", "optimality_gap"):
        got = aggregate({"a": ragged}, statistic=stat, rng=1)["a"]
        assert got == aggregate({"a": padded}, statistic=stat, rng=1, nan_policy="omit")["a"]
    assert aggregate({"a": ragged}, statistic="mean")["a"].point == \
        pytest.approx(np.mean([t.mean() for t in ragged]))
    assert aggregate({"a": ragged})["a"].point == \
        pytest.approx(aggregate({"a": [np.concatenate(ragged)]})["a"].point)


@pytest.mark.parametrize("call, match", [
    (lambda: aggregate(np.ones((3, 3))), r"scores: need a dict"),
    (lambda: aggregate({}), r"scores: no methods"),
    (lambda: aggregate({"a": np.ones(5)}), r"scores\['a'\]: need a 2-D array"),
    (lambda: aggregate({"a": np.ones((3, 2)), "b": np.ones((3, 3))}),
     r"scores\['b'\]: 3 tasks, but scores\['a'\] has 2"),
    (lambda: aggregate({"a": [[1.0, 2.0], []]}), r"task 1 has no runs"),
    (lambda: aggregate({"a": [[1.0, np.nan, 2.0]]}), r"1 non-finite value.*nan_policy='omit'"),
    (lambda: aggregate({"a": np.ones((3, 0))}), r"scores\['a'\]: no tasks"),
    (lambda: aggregate({"a": np.ones((3, 2))}, statistic="iq"), r"statistic: must be one of"),
    (lambda: aggregate({"a": np.ones((3, 2))}, level=95), r"level: must be between 0 and 1"),
    (lambda: aggregate({"a": np.ones((3, 2))}, normalize={"low": "x", "high": "a"}),
     r"normalize\['low'\]: no method 'x'"),
    (lambda: aggregate({"a": np.ones((3, 2))}, higher_is_better="no"), r"higher_is_better"),
    (lambda: probability_of_improvement(np.ones((3, 2)), np.ones((3, 3))),
     r"y: 3 tasks, but x has 2"),
    (lambda: performance_profile({"a": np.ones((3, 2))}, []), r"taus: need a non-empty"),
    (lambda: these_tasks_test(np.ones((3, 2)), np.ones((4, 2)), paired=True),
     r"paired: paired seeds need the same number of runs"),
])
def test_bad_input_is_refused_with_a_clear_message(call, match):
    with pytest.raises(UserError, match=match):
        call()


def test_no_interval_is_printed_where_none_can_be_calibrated():
    two = aggregate({"a": scores(runs=2)}, statistic="mean")["a"]
    assert two.method == "none" and np.isnan(two.low) and "3 runs per task" in two.note
    flat = aggregate({"a": np.tile([[0.5, 0.7, 0.9]], (5, 1))}, statistic="iqm")["a"]
    assert flat.method == "none" and np.isnan(flat.high) and "no run-to-run" in flat.note
    sep = probability_of_improvement(scores(shift=-1), scores())
    assert sep.point == 1.0 and sep.method == "none" and np.isnan(sep.low)


def draw(dist, runs, tasks, gen, shift=0.0):
    mu = np.linspace(0.45, 0.85, tasks) - shift
    if dist == "normal":
        return gen.normal(mu, 0.05, (runs, tasks))
    return np.where(gen.random((runs, tasks)) < 0.3, 0.1, gen.normal(mu, 0.02, (runs, tasks)))


@pytest.mark.parametrize("dist", ["normal", "collapse"])
def test_intervals_cover_at_5_runs_by_5_tasks(dist):
    gen = np.random.default_rng(11)
    truth_gen = np.random.default_rng(12)
    big, other = draw(dist, 100_000, 5, truth_gen), draw(dist, 100_000, 5, truth_gen, 0.03)
    truth = {s: aggregate({"a": big}, statistic=s, gamma=0.8, resamples=100)["a"].point
             for s in ("mean", "median", "iqm", "optimality_gap")}
    truth["p"] = probability_of_improvement(big, other).point
    hits = dict.fromkeys(truth, 0)
    reps = 200
    for _ in range(reps):
        x, y = draw(dist, 5, 5, gen), draw(dist, 5, 5, gen, 0.03)
        for s in ("mean", "median", "iqm", "optimality_gap"):
            iv = aggregate({"a": x}, statistic=s, gamma=0.8, rng=gen, resamples=1000)["a"]
            hits[s] += iv.low <= truth[s] <= iv.high
        iv = probability_of_improvement(x, y)
        hits["p"] += iv.low <= truth["p"] <= iv.high
    cover = {s: h / reps for s, h in hits.items()}
    assert all(0.92 <= c <= 0.995 for c in cover.values()), cover


def test_type_one_error_of_both_tests_across_tasks():
    gen = np.random.default_rng(21)
    reps, these, like = 300, 0, 0
    for _ in range(reps):
        x, y = draw("normal", 5, 5, gen), draw("normal", 5, 5, gen)
        these += these_tasks_test(x, y, rng=gen, resamples=199).p_value <= 0.05
        like += tasks_like_these_test(x + gen.normal(0, 0.02, 5), y).p_value <= 0.05
    # 0.05 + 2 Monte-Carlo standard errors at 300 replications
    assert these / reps <= 0.075 and like / reps <= 0.075, (these / reps, like / reps)


def test_the_tests_find_a_real_difference_and_say_which_question_they_answer():
    x, y = scores(runs=5, tasks=8, seed=1, shift=-0.1), scores(runs=5, tasks=8, seed=2)
    these = these_tasks_test(x, y, rng=0, resamples=999)
    assert these.p_value == pytest.approx(1 / 1000) and these.statistic > 0
    assert these.question.startswith("On these 8 tasks") and "other tasks" in these.question
    paired = these_tasks_test(x, y, paired=True, rng=0, resamples=999)
    assert paired.p_value < 0.01 and "paired" in paired.method
    like = tasks_like_these_test(x, y)
    assert like.p_value == pytest.approx(2 / 2 ** 8) and like.method == "sign-flip (exact)"
    assert like.question.startswith("On tasks like these (8 tasks)")
    few = tasks_like_these_test(x[:, :3], y[:, :3])
    assert few.p_value == pytest.approx(0.25) and "below 0.25" in few.note


@pytest.mark.parametrize("name, higher", [
    ("test_mse", False), ("val_loss", False), ("time_to_target", False), ("testMSE", False),
    ("mae", False), ("train_rmse", False), ("nll", False), ("perplexity", False),
    ("error_rate", False), ("regret", False), ("steps_to_target", False),
    ("test_accuracy", True), ("roc_auc", True), ("lifetime_reward", True), ("f1", True),
])
def test_guess_direction_by_name(name, higher):
    assert guess_direction(name) is higher


def test_cost_grows_with_the_runs_300000_runs_in_about_two_seconds():
    x = np.random.default_rng(0).normal(size=(30_000, 10))
    start = time.perf_counter()
    for stat in ("iqm", "median", "mean", "optimality_gap"):
        assert aggregate({"a": x}, statistic=stat, gamma=0.0)["a"].method != "none"
    probability_of_improvement(x, x + 0.01)
    performance_profile({"a": x}, np.linspace(-2, 2, 50))
    # measured 0.92 s on the 2-core CPU at load average 12; the bound leaves room
    assert time.perf_counter() - start < 4.0


def test_analyze_ranks_an_undeclared_mse_lower_is_better_and_says_it_guessed():
    from types import SimpleNamespace

    from test_stats_support import results, setting

    from jaxstab.stats import analyze

    gen = np.random.default_rng(5)
    study = results(setting({"s": "small"}, gen.normal(0.1, 0.01, 8), ["init"], metric="test_mse"),
                    setting({"s": "large"}, gen.normal(0.5, 0.01, 8), ["init"], metric="test_mse"),
                    study=SimpleNamespace(name="mine/mse", main_metric="test_mse"))
    a = analyze(study, [], metric="test_mse", n_resamples=199)
    assert a.higher_is_better is False
    assert "small" in a.ranking.ranks[0].name
    assert any("assumes lower test_mse is better" in n for n in a.notes)
