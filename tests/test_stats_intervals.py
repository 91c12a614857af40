"""interval, std_interval and summarize: references, reproducibility, bad input."""

import json

import numpy as np
import pytest
import scipy.stats as st

import jaxstab.stats as js
from jaxstab.errors import UserError
from jaxstab.stats import _intervals

X = np.array([0.912, 0.897, 0.921, 0.905, 0.889, 0.931, 0.902, 0.915])


def test_t_interval_equals_scipy_t_interval():
    iv = js.interval(X, method="t", level=0.9)
    ref = st.t.interval(0.9, X.size - 1, loc=X.mean(), scale=st.sem(X))
    assert (iv.point, iv.method, iv.level) == (pytest.approx(X.mean()), "t", 0.9)
    np.testing.assert_allclose([iv.low, iv.high], ref, rtol=1e-12)


def test_t_interval_equals_statsmodels():
    sm = pytest.importorskip("statsmodels.stats.weightstats")
    iv = js.interval(X, method="t")
    np.testing.assert_allclose([iv.low, iv.high],
                               sm.DescrStatsW(X).tconfint_mean(alpha=0.05), rtol=1e-12)


def test_auto_is_t_at_every_seed_count():
    assert js.interval(X).method == "t"
    assert js.interval(X) == js.interval(X, method="t")
    assert all(_intervals.auto_method(n) == "t" for n in (2, 5, 30, 1000, 10**6))


@pytest.mark.parametrize("method,scipy_name", [("bca", "BCa"), ("percentile", "percentile")])
def test_bootstrap_interval_is_scipys(method, scipy_name):
    iv = js.interval(X, method=method, rng=np.random.default_rng(7), n_resamples=2000)
    ref = st.bootstrap((X,), np.mean, method=scipy_name, n_resamples=2000,
                       rng=np.random.default_rng(7)).confidence_interval
    np.testing.assert_allclose([iv.low, iv.high], [ref.low, ref.high], rtol=1e-12)
    assert iv.method == method


@pytest.mark.parametrize("method", ["bca", "percentile"])
def test_same_rng_same_interval_different_rng_different(method):
    def run(seed):
        return js.interval(X, method=method, rng=np.random.default_rng(seed))
    assert run(1) == run(1)
    assert run(1) != run(2)
    assert js.interval(X, method=method, rng=3) == js.interval(X, method=method, rng=3)
    # rng=None is a fixed seed: reports are identical from run to run.
    assert js.interval(X, method=method) == js.interval(X, method=method)


def test_bootstrap_std_interval_reproducible():
    a = js.std_interval(X, method="bca", rng=np.random.default_rng(4))
    b = js.std_interval(X, method="bca", rng=np.random.default_rng(4))
    c = js.std_interval(X, method="bca", rng=np.random.default_rng(5))
    assert a == b and a != c


def test_chi2_std_interval_textbook_value():
    # n = 10, s = 1: the 95% interval for sigma is [0.688, 1.826].
    x = np.array([-1.0, 1.0] * 5)
    x = x / x.std(ddof=1)
    iv = js.std_interval(x)
    assert iv.point == pytest.approx(1.0)
    np.testing.assert_allclose([iv.low, iv.high], [0.6878, 1.8256], atol=1e-4)


def test_constant_sample_gives_a_point_interval():
    for method in ["t", "bca", "percentile"]:
        iv = js.interval([0.9, 0.9, 0.9], method=method)
        assert iv.low == iv.point == iv.high == 0.9
    assert js.std_interval([0.9] * 4).high == 0.0


def test_interval_to_dict_is_json():
    d = js.interval(X).to_dict()
    assert set(d) == {"point", "low", "high", "method", "level", "note"}
    json.dumps(d)


@pytest.mark.parametrize("x,match", [
    ([0.9], r"x: need at least 2 finite values, got 1"),
    ([], r"x: need at least 2 finite values, got 0"),
    ([0.9, np.nan, 0.8], r"x: 1 non-finite value\(s\).*nan_policy='omit'"),
    (np.ones((3, 2)), r"x: need a 1-D array of per-seed values, got shape \(3, 2\)"),
    (["a", "b"], r"x: need numbers"),
])
def test_interval_bad_input(x, match):
    with pytest.raises(UserError, match=match):
        js.interval(x)


def test_interval_bad_options():
    with pytest.raises(UserError, match=r"level: must be between 0 and 1"):
        js.interval(X, level=95)
    with pytest.raises(UserError, match=r"method: must be one of 'auto', 't'"):
        js.interval(X, method="studentized")
    with pytest.raises(UserError, match=r"rng: must be None, a non-negative int"):
        js.interval(X, method="bca", rng="seed")
    with pytest.raises(UserError, match=r"nan_policy: must be one of"):
        js.interval(X, nan_policy="propagate")
    with pytest.raises(UserError, match=r"method: must be one of 'auto', 'chi2', 'bonett'"):
        js.std_interval(X, method="t")


def test_nan_policy_omit_drops_nonfinite():
    x = np.append(X, [np.nan, np.inf])
    assert js.interval(x, nan_policy="omit") == js.interval(X)


# --- summarize ---------------------------------------------------------------------------

def test_summary_values_match_numpy_and_scipy():
    s = js.summarize(X)
    assert (s.n, s.n_total, s.n_diverged, s.divergence_rate) == (8, 8, 0, 0.0)
    assert s.mean == pytest.approx(X.mean())
    assert s.std == pytest.approx(X.std(ddof=1))
    assert s.median == pytest.approx(np.median(X))
    assert s.iqm == pytest.approx(st.trim_mean(X, 0.25))
    assert s.iqm == pytest.approx(np.sort(X)[2:6].mean())
    assert (s.min, s.max) == (X.min(), X.max())
    assert s.cv == pytest.approx(X.std(ddof=1) / X.mean())
    assert s.mean_interval == js.interval(X)
    assert s.std_interval == js.std_interval(X)
    json.dumps(s.to_dict())


def test_diverged_runs_count_in_the_rate_only():
    x = np.append(X, [np.nan, 0.1])
    diverged = np.array([False] * 8 + [True, True])  # a diverged run's value is ignored
    s = js.summarize(x, diverged=diverged)
    assert (s.n, s.n_total, s.n_diverged) == (8, 10, 2)
    assert s.divergence_rate == pytest.approx(0.2)
    assert s.mean == pytest.approx(X.mean())
    assert "diverged" in s.note


def test_nan_without_policy_raises_and_omit_counts_it_as_diverged():
    x = np.append(X, np.nan)
    with pytest.raises(UserError, match=r"x: 1 non-finite value\(s\) in runs not flagged"):
        js.summarize(x)
    with pytest.raises(UserError, match=r"not flagged as diverged"):
        js.summarize(x, diverged=np.zeros(9, bool), nan_policy="raise")
    s = js.summarize(x, nan_policy="omit")
    assert (s.n, s.n_diverged) == (8, 1)


def test_summary_with_fewer_than_two_finished_runs_is_data_not_error():
    s = js.summarize([np.nan, np.nan, 0.5], diverged=[True, True, False])
    assert s.n == 1 and s.divergence_rate == pytest.approx(2 / 3)
    assert s.mean_interval is None and np.isnan(s.std)
    assert json.loads(json.dumps(s.to_dict()))["std"] is None


def test_summary_bad_input():
    with pytest.raises(UserError, match=r"x: need at least 2 runs, got 1"):
        js.summarize([0.5])
    with pytest.raises(UserError, match=r"diverged: need the same shape as x \(8,\)"):
        js.summarize(X, diverged=[False])
    with pytest.raises(UserError, match=r"diverged: need a boolean array"):
        js.summarize(X, diverged=np.zeros(8))
