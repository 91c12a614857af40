"""seeds_needed: reference values and input checks (simulation: test_stats_calibration)."""

import math

import pytest
import scipy.stats as st

import jaxstab.stats as js
from jaxstab.errors import UserError
from jaxstab.stats import _power


def test_effect_size_matches_statsmodels():
    # statsmodels TTestIndPower / TTestPower .solve_power(0.5, alpha=0.05, power=0.8):
    # 63.77 and 33.37 seeds.
    assert js.seeds_needed(effect_size=0.5) == 64
    assert js.seeds_needed(effect_size=-0.5) == 64
    assert js.seeds_needed(effect_size=0.5, paired=True) == 34
    pw = pytest.importorskip("statsmodels.stats.power")
    for d in [0.3, 0.8, 1.5]:
        ref = pw.TTestIndPower().solve_power(effect_size=d, alpha=0.05, power=0.8)
        assert js.seeds_needed(effect_size=d) == math.ceil(ref)
        ref = pw.TTestPower().solve_power(effect_size=d, alpha=0.01, power=0.9)
        assert js.seeds_needed(effect_size=d, paired=True, alpha=0.01, power=0.9) == \
            math.ceil(ref)


def test_t_power_matches_statsmodels():
    assert _power.t_power(0.7, 20) == pytest.approx(0.5782904310179556, rel=1e-8)
    assert _power.t_power(0.7, 20, paired=True) == pytest.approx(0.8435058764333008,
                                                                 rel=1e-8)


def test_half_width_is_the_least_n():
    n = js.seeds_needed(half_width=0.5, std=1.0)
    assert n == 18
    assert st.t.ppf(0.975, n - 1) / math.sqrt(n) <= 0.5 < st.t.ppf(0.975, n - 2) / math.sqrt(n - 1)
    assert js.seeds_needed(half_width=10.0, std=1.0) == 2
    assert js.seeds_needed(half_width=0.005, std=0.02, level=0.99) > \
        js.seeds_needed(half_width=0.005, std=0.02)


def test_noether_formula():
    # N = (1.95996 + 0.84162)^2 / (3 * 0.25^2) = 41.86 in all, 21 per setting
    assert js.seeds_needed(prob_improvement=0.75) == 21
    assert js.seeds_needed(prob_improvement=0.25) == 21


def test_std_ratio_is_symmetric_and_reaches_power():
    n = js.seeds_needed(std_ratio=2.0)
    assert n == js.seeds_needed(std_ratio=0.5)
    d = js.brown_forsythe_effect(2.0)
    assert _power.t_power(d, n) >= 0.8 > _power.t_power(d, n - 1)
    f = js.seeds_needed(std_ratio=2.0, test="F")
    assert _power.f_power(2.0, f) >= 0.8 > _power.f_power(2.0, f - 1)
    assert f < n  # Brown-Forsythe, the test verdicts use, needs more seeds than F


def test_more_than_max_n_gives_none():
    assert js.seeds_needed(effect_size=0.001) is None
    assert js.seeds_needed(effect_size=0.5, max_n=10) is None
    assert js.seeds_needed(prob_improvement=0.5001) is None


@pytest.mark.parametrize("kwargs,match", [
    ({}, r"seeds_needed: give exactly one of half_width, effect_size, prob_improvement, "
         r"std_ratio \(got none\)"),
    (dict(effect_size=0.5, std_ratio=2), r"\(got effect_size, std_ratio\)"),
    (dict(half_width=0.1), r"std: required with half_width"),
    (dict(effect_size=0.5, std=1), r"std: only used with half_width"),
    (dict(half_width=-0.1, std=1), r"half_width: must be a positive finite number"),
    (dict(effect_size=0.0), r"effect_size: must be nonzero"),
    (dict(effect_size=float("nan")), r"effect_size: must be finite"),
    (dict(prob_improvement=0.5), r"prob_improvement: must be in \[0, 1\] and not 0.5"),
    (dict(std_ratio=1.0), r"std_ratio: must differ from 1"),
    (dict(effect_size=0.5, power=1.2), r"power: must be between 0 and 1"),
    (dict(effect_size=0.5, max_n=1), r"max_n: must be an integer >= 2"),
])
def test_seeds_needed_bad_input(kwargs, match):
    with pytest.raises(UserError, match=match):
        js.seeds_needed(**kwargs)


def test_power_stays_finite_and_monotone_at_large_paired_effects():
    """scipy's nct.sf gives NaN deep in the tail; power must still be a number in
    [0, 1] that grows with n, so seeds_needed finds the small n a big effect needs."""
    from jaxstab.stats import seeds_needed
    from jaxstab.stats._power import t_power

    powers = [t_power(3.0, n, paired=True, alpha=0.0167) for n in range(2, 60)]
    assert all(0.0 <= p <= 1.0 for p in powers)
    assert all(b >= a - 1e-12 for a, b in zip(powers, powers[1:]))
    assert seeds_needed(effect_size=3.0, paired=True, alpha=0.0167) <= 6
