"""Issue 13, finding 9: the test-set noise baseline per setting (Jordan 2023).

Synthetic per-example correctness (`test_correct`, runs x examples) stands in for what
the engine records.
"""

import math

import numpy as np
import pytest

import jaxstab.stats as js
from jaxstab.errors import UserError
from test_stats_support import results, setting


def correctness(runs, n_test, rng, *, fresh=False):
    """Runs that differ only by test-set sampling: example i is right with probability
    p_i (mostly easy examples, some hard: Beta(0.5, 0.1)), independently per run.
    ``fresh``: a new test set (new p_i) per run, as when the split varies."""
    p = rng.beta(0.5, 0.1, n_test)
    if fresh:
        p = rng.beta(0.5, 0.1, (runs, n_test))
    return (rng.random((runs, n_test)) < p).astype(float)


def test_fixed_test_set_baseline_is_jordans_formula():
    rng = np.random.default_rng(0)
    c = correctness(12, 50, rng)
    b = js.noise_baseline(c)
    p = c.mean(axis=0)
    assert b.baseline == pytest.approx(math.sqrt(12 / 11 * np.sum(p * (1 - p))) / 50)
    assert b.method == "fixed test set (Jordan 2023)" and b.n_test == 50 and b.n_runs == 12
    assert b.observed_std == pytest.approx(c.mean(axis=1).std(ddof=1))
    binomial = js.noise_baseline(c, test_set_varies=True)
    acc = c.mean()
    assert binomial.baseline == pytest.approx(math.sqrt(acc * (1 - acc) / 50))
    assert binomial.method == "binomial"


def test_fixed_baseline_matches_pure_test_noise_and_binomial_overstates_it():
    rng = np.random.default_rng(1)
    c = correctness(400, 200, rng)
    b = js.noise_baseline(c)
    assert b.baseline == pytest.approx(b.observed_std, rel=0.1)
    assert js.noise_baseline(c, test_set_varies=True).baseline > 1.2 * b.observed_std


def test_varying_test_set_baseline_matches_binomial_noise():
    rng = np.random.default_rng(2)
    c = correctness(400, 200, rng, fresh=True)
    b = js.noise_baseline(c, test_set_varies=True)
    assert b.baseline == pytest.approx(b.observed_std, rel=0.1)


def test_per_setting_baselines_follow_the_seed_sources():
    rng = np.random.default_rng(3)
    fixed = correctness(10, 100, rng)
    drawn = correctness(10, 100, rng, fresh=True)
    diverged = np.zeros(10, bool)
    diverged[0] = True
    res = results(
        setting({"v": "init"}, fixed.mean(1), ["init"], curves={"test_correct": fixed}),
        setting({"v": "split"}, drawn.mean(1), ["init", "split"], diverged=diverged,
                curves={"test_correct": drawn}),
        setting({"v": "none"}, drawn.mean(1), ["init"]))
    a, b, c = js.noise_baselines(res)
    assert a.method.startswith("fixed") and a.baseline == js.noise_baseline(fixed).baseline
    assert b.method == "binomial" and b.n_runs == 9  # the diverged run left out
    assert c.baseline is None and "no per-example test correctness" in c.note
    rows = js.variance_by_source(res, metric="test_acc", n_test=100)
    assert rows[0].baseline_method.startswith("fixed")
    (none_row,) = [r for r in rows if r.group == {"v": "none"}]
    assert none_row.baseline_method == "binomial"
    assert "no `test_correct`" in none_row.baseline_note
    assert "upper bound" in none_row.baseline_note


def test_analysis_shows_the_baseline_beside_the_observed_std():
    rng = np.random.default_rng(4)
    c1, c2 = correctness(8, 100, rng), correctness(8, 100, rng)
    res = results(setting({"s": "a"}, c1.mean(1), curves={"test_correct": c1}),
                  setting({"s": "b"}, c2.mean(1)))
    a = js.analyze(res, [], metric="test_acc", n_resamples=999)
    assert a.settings[0].noise.baseline == js.noise_baseline(c1).baseline
    text = a.format()
    assert "test-noise std" in text and "(fixed)" in text
    assert "no per-example test correctness" in text  # the setting without it says why


def test_noise_baseline_bad_input():
    with pytest.raises(UserError, match=r"correct: need shape \(n_runs, n_test\)"):
        js.noise_baseline(np.ones(5))
    with pytest.raises(UserError, match=r"correct: values must be 0 or 1"):
        js.noise_baseline(np.full((3, 4), 0.5))
    one = js.noise_baseline(np.ones((1, 4)))
    assert one.baseline is None and "2 needed" in one.note
