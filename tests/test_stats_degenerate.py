"""Issue 13, findings 1 and 6: rounding residue is not seed variation; Hedges' J(1).

Accuracies on a test set of 200 examples are multiples of 1/200, so a setting whose runs
all score the same, or a pair of settings one example apart at every seed, is common.
Their computed stds are ~1e-16, not 0.
"""

import json
import math
import warnings

import numpy as np
import pytest
import scipy.stats as st

import jaxstab.stats as js
from jaxstab.stats import _base
from test_stats_support import claim, results, setting

# 150/200 - 149/200 is not the same float as 163/200 - 162/200: the difference has a
# residue of 1.1e-16, so np.std of it is not 0 (this is what the paired t test saw).
SHIFT_A = np.array([150, 151, 163]) / 200
SHIFT_B = np.array([149, 150, 162]) / 200
CONST_A = np.full(3, 152 / 200)  # np.std(CONST_A, ddof=1) == 1.4e-16, not 0
CONST_B = np.full(5, 162 / 200)


def test_the_fixtures_carry_rounding_residue():
    assert np.ptp(SHIFT_A - SHIFT_B) > 0
    assert np.std(CONST_A, ddof=1) > 0 and np.std(CONST_B, ddof=1) > 0


def test_one_helper_decides_constant_relative_to_scale():
    assert _base.is_constant(SHIFT_A - SHIFT_B, SHIFT_A, SHIFT_B)
    assert _base.is_constant(CONST_A)
    # Scale-relative: tiny metrics that really vary are not constant...
    assert not _base.is_constant(np.array([1e-9, 2e-9, 3e-9]))
    # ...and a one-example difference on 200 examples is variation, not residue.
    assert not _base.is_constant(np.array([0.9, 0.905, 0.9]))
    assert _base.std(CONST_A) == 0.0


def test_paired_one_example_shift_uses_the_exact_sign_flip_test():
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        c = js.compare(SHIFT_A, SHIFT_B, paired=True)
    # 3 pairs, all of the same sign: the exact sign-flip p is 2 / 2^3.
    assert c.p_value == pytest.approx(0.25)
    assert c.primary == "paired permutation"
    assert "A - B is the same at every seed" in c.note
    g_z = c.effects[0]
    assert math.isnan(g_z.point) and "undefined" in g_z.note
    t = {r.name: r for r in c.tests}["paired t"]
    assert math.isnan(t.p_value) and t.note.startswith("undefined")


def test_paired_shift_claim_does_not_hold_at_three_seeds():
    res = results(setting({"s": "a"}, SHIFT_A, ["init"]), setting({"s": "b"}, SHIFT_B, ["init"]))
    (v,) = js.verdicts(res, [claim("a beats b", {"s": "a"}, {"s": "b"})])
    assert v.status == "inconclusive" and v.p_value == pytest.approx(0.25)
    # The effect is infinite, yet the study can be sized: the exact permutation test
    # needs 6 pairs for p = 2/64 < 0.05 if the shift persists (finding 6).
    assert v.seeds_needed == 6 and "exact paired permutation" in v.reason


def test_hedges_g_between_two_constant_arms_is_undefined_not_huge():
    c = js.compare(CONST_A, CONST_B)
    g = c.effects[0]
    assert math.isnan(g.point) and "neither setting varies" in g.note
    assert c.primary == "permutation" and c.p_value == pytest.approx(2 / math.comb(8, 3))
    assert c.std_a == 0.0 and c.std_b == 0.0
    assert c.difference.method == "no variation"


def test_spread_of_constant_arms():
    spread = js.compare(np.full(5, 152 / 200), np.full(5, 0.9), metric_kind="spread")
    assert spread.p_value == 1.0 and "zero" in spread.note
    wide = np.array([0.8, 0.85, 0.9, 0.95, 0.97])
    (r,) = js.compare(CONST_B, wide, metric_kind="spread").effects
    assert r.point == 0.0
    (inf,) = js.compare(wide, CONST_B, metric_kind="spread").effects
    assert inf.point == math.inf and "no seed variation" in inf.note
    assert json.loads(json.dumps(js.compare(wide, CONST_B, metric_kind="spread")
                                 .to_dict()))["effects"][0]["point"] is None


def test_paired_spread_with_equal_deviations_is_not_a_difference():
    a = np.array([0.9, 0.905, 0.91, 0.915, 0.92])
    c = js.compare(a, a - 0.005, metric_kind="spread", paired=True)
    assert c.p_value == 1.0 and "every seed deviates equally" in c.note


def test_welch_anova_is_not_computed_from_a_constant_arm():
    rng = np.random.default_rng(0)
    data = {"flat": CONST_B, "x": rng.normal(0.8, 0.01, 5), "y": rng.normal(0.81, 0.01, 5)}
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        o = js.omnibus(data)
    assert o.primary == "Kruskal-Wallis" and "no seed variation in flat" in o.note
    welch = {t.name: t for t in o.tests}["Welch ANOVA"]
    assert math.isnan(welch.p_value) and welch.note.startswith("undefined")
    assert o.p_value == pytest.approx(st.kruskal(*data.values()).pvalue)


def test_summary_std_of_a_constant_setting_is_zero():
    s = js.summarize(np.full(6, 0.905))
    assert s.std == 0.0 and s.std_interval.low == s.std_interval.high == 0.0


def test_hedges_correction_is_not_applied_at_one_degree_of_freedom():
    c = js.compare([0.91, 0.95], [0.90, 0.92], paired=True)
    g_z = c.effects[0]
    d = np.array([0.01, 0.03])
    assert g_z.point == pytest.approx(d.mean() / d.std(ddof=1))  # not J(1) * d = 0
    assert "df = 1" in g_z.note
    three = js.compare([0.91, 0.95, 0.93], [0.90, 0.92, 0.9], paired=True).effects[0]
    assert three.note == "" and abs(three.point) < abs(
        np.mean([0.01, 0.03, 0.03]) / np.std([0.01, 0.03, 0.03], ddof=1))
