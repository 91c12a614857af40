"""Issue 13, findings 2-5 and 10: verdicts on real seed distributions.

Under-run settings, divergence, seed-pairing, seeds needed for the test actually used,
and two-sided claims in the claim's own words.
"""

import json

import numpy as np
import pytest
import scipy.stats as st

import jaxstab.stats as js
from jaxstab.errors import UserError
from jaxstab.stats import _power
from jaxstab.stats._effects import hedges_correction
from test_stats_support import claim, results, setting

RNG = np.random.default_rng(13)
GOOD_A = RNG.normal(0.90, 0.01, 10)
GOOD_B = RNG.normal(0.85, 0.01, 10)


def under_run_study():
    nine_diverged = np.r_[0.91, np.full(9, np.nan)]
    return results(setting({"s": "a"}, GOOD_A, ["init"]), setting({"s": "b"}, GOOD_B, ["init"]),
                   setting({"s": "c"}, nine_diverged, ["order"]))


# --- finding 2: one under-run setting ---------------------------------------------------

def test_an_under_run_arm_makes_only_its_claim_inconclusive():
    claims = [claim("a beats b", {"s": "a"}, {"s": "b"}),
              claim("c beats b", {"s": "c"}, {"s": "b"})]
    good, short = js.verdicts(under_run_study(), claims)
    assert good.status == "holds"
    assert short.status == "inconclusive" and short.comparison is None
    assert "too few finished runs" in short.reason and "1 of 10 finished, 9 diverged" \
        in short.reason
    assert short.seeds_needed is None and np.isnan(short.p_value)
    # The good claim is corrected over the one testable claim only.
    alone = js.verdicts(under_run_study(), claims[:1])[0]
    assert good.p_adjusted == alone.p_adjusted == good.p_value
    text = js.format_verdicts((good, short))
    assert "nan" not in text.lower() and "too few finished runs" in text
    json.dumps([v.to_dict() for v in (good, short)], allow_nan=False)


def test_a_setting_without_any_run_is_inconclusive_too():
    empty = setting({"s": "c"}, [], ["init"])
    empty.metrics = {}  # a setting with no runs records no metric
    res = results(setting({"s": "a"}, GOOD_A, ["init"]), empty)
    (v,) = js.verdicts(res, [claim("a beats c", {"s": "a"}, {"s": "c"})])
    assert v.status == "inconclusive" and "0 of 0 finished" in v.reason


# --- finding 3: seeds needed for the test actually used ---------------------------------

def test_spread_claims_are_sized_for_brown_forsythe_not_the_f_test():
    assert _power.seeds_needed(std_ratio=1.2, test="F") == 239  # what was answered
    n = js.seeds_needed(std_ratio=1.2)
    assert 265 <= n <= 295  # Brown-Forsythe needs about 280 (simulated in the docs)
    # Paired spread claims are sized as paired: correlated seeds need fewer.
    assert js.seeds_needed(std_ratio=1.2, paired=True, correlation=0.7) < n


def collapsed(n, k, rng):
    x = rng.normal(0.9, 0.01, n)
    x[:k] = 0.5
    return x


def test_seeds_needed_is_never_at_or_below_the_seeds_used():
    rng = np.random.default_rng(3)
    # 32 seeds each; A has 2 collapsed runs, so its std is 8x B's, but Brown-Forsythe
    # (robust to them) finds no difference. The F test's sizing answered 6.
    a, b = collapsed(32, 2, rng), rng.normal(0.9, 0.01, 32)
    res = results(setting({"s": "a"}, a, ["init"]), setting({"s": "b"}, b, ["order"]))
    (v,) = js.verdicts(res, [claim("a varies more", {"s": "a"}, {"s": "b"}, kind="spread")])
    assert v.status == "inconclusive"
    assert _power.seeds_needed(std_ratio=a.std(ddof=1) / b.std(ddof=1), test="F") <= 6
    assert v.seeds_needed > 32 and "Brown-Forsythe" in v.reason


@pytest.mark.parametrize("seed", range(6))
def test_inconclusive_mean_claims_never_answer_fewer_seeds_than_used(seed):
    rng = np.random.default_rng(seed)
    n_a, n_b = 20, 9  # unequal arms, where the equal-n sizing could fall below
    res = results(setting({"s": "a"}, rng.normal(0.9, 0.02, n_a), ["init"]),
                  setting({"s": "b"}, rng.normal(0.895, 0.02, n_b), ["order"]))
    (v,) = js.verdicts(res, [claim("a beats b", {"s": "a"}, {"s": "b"})])
    if v.status == "inconclusive" and v.seeds_needed is not None:
        assert v.seeds_needed > n_a


def test_paired_spread_claims_are_sized_as_paired():
    rng = np.random.default_rng(5)
    seed_effect = rng.normal(0, 0.02, 12)
    a = 0.9 + seed_effect + rng.normal(0, 0.012, 12)
    b = 0.9 + seed_effect + rng.normal(0, 0.010, 12)
    res = results(setting({"s": "a"}, a, ["init"]), setting({"s": "b"}, b, ["init"]))
    (v,) = js.verdicts(res, [claim("a varies more", {"s": "a"}, {"s": "b"}, kind="spread")])
    assert v.paired and v.status == "inconclusive"
    assert "paired Brown-Forsythe" in v.reason
    za, zb = np.abs(a - np.median(a)), np.abs(b - np.median(b))
    d = za - zb
    g_z = hedges_correction(11) * d.mean() / d.std(ddof=1)
    assert v.seeds_needed >= js.seeds_needed(effect_size=g_z, paired=True)
    unpaired = js.seeds_needed(effect_size=js.compare(za, zb).effects[0].point)
    assert v.seeds_needed < unpaired  # sized as paired, not as if unpaired


# --- finding 4: divergence enters the verdict -------------------------------------------

def test_divergence_is_tested_and_carried_by_the_verdict():
    a = np.r_[0.95, 0.96, 0.97, np.full(7, np.nan)]  # 7 of 10 diverged, survivors great
    b = RNG.normal(0.90, 0.01, 10)
    res = results(setting({"s": "a"}, a, ["init"]), setting({"s": "b"}, b, ["order"]))
    (v,) = js.verdicts(res, [claim("a beats b", {"s": "a"}, {"s": "b"})])
    assert v.status == "holds"  # on the survivors...
    div = v.divergence  # ...but the verdict says so, with the test of the rates
    assert (div.diverged_a, div.n_a, div.diverged_b, div.n_b) == (7, 10, 0, 10)
    assert div.test == "Boschloo exact"
    assert div.p_value == pytest.approx(st.boschloo_exact([[7, 0], [3, 10]]).pvalue)
    assert "most runs of s=a diverged" in v.note and "survivors only" in v.note
    assert (v.n_a, v.n_total_a) == (3, 10)
    assert "3/10 (7+0 div)" in js.format_verdicts((v,))


def test_paired_divergence_uses_mcnemar():
    flags_a = np.array([1, 1, 1, 1, 1, 0, 0, 0], bool)
    flags_b = np.array([0, 0, 0, 0, 0, 0, 0, 1], bool)
    t = js.divergence_test(flags_a, flags_b, paired=True)
    assert t.test == "McNemar exact"
    assert t.p_value == pytest.approx(st.binomtest(5, 6).pvalue)
    assert js.divergence_test(flags_a, flags_b).test == "Boschloo exact"
    none = js.divergence_test(np.zeros(3, bool), np.zeros(3, bool))
    assert none.p_value == 1.0 and none.note == "no run diverged"
    with pytest.raises(UserError, match=r"diverged_a: need a 1-D boolean array"):
        js.divergence_test([0.5], flags_b)


def test_divergence_rate_interval_is_clopper_pearson():
    r = js.divergence_rate(np.r_[np.ones(3, bool), np.zeros(7, bool)])
    ci = st.binomtest(3, 10).proportion_ci(method="exact")
    assert (r.rate, r.low, r.high) == pytest.approx((0.3, ci.low, ci.high))


# --- finding 5: pairing never drops seeds silently ---------------------------------------

def test_pairing_says_which_seeds_it_left_out():
    a, b = RNG.normal(0.9, 0.01, 20), RNG.normal(0.89, 0.01, 10)
    res = results(setting({"s": "a"}, a, ["init"]), setting({"s": "b"}, b, ["init"]))
    pw = js.pairwise(res, metric="test_acc", rng=0, n_resamples=999)
    c = pw.pairs[0].comparison
    assert c.paired and (c.n_a, c.n_b) == (10, 10)
    assert "10 of 20 runs of s=a have no seed partner in s=b and are left out" in c.note
    b2 = b.copy()
    b2[[1, 2]] = np.nan
    res = results(setting({"s": "a"}, a[:10], ["init"]), setting({"s": "b"}, b2, ["init"]))
    (v,) = js.verdicts(res, [claim("a beats b", {"s": "a"}, {"s": "b"})])
    assert "2 pair(s) dropped because one side diverged" in v.note


# --- finding 10: two-sided claims, wording from the claim ---------------------------------

def test_two_sided_claim_holds_either_way_and_is_never_refuted():
    res = results(setting({"s": "a"}, GOOD_A, ["init"]), setting({"s": "b"}, GOOD_B, ["init"]))
    both = [claim("the settings differ", {"s": "a"}, {"s": "b"}, direction="two-sided"),
            claim("the settings differ (other way)", {"s": "b"}, {"s": "a"},
                  direction="two-sided")]
    assert [v.status for v in js.verdicts(res, both)] == ["holds", "holds"]
    same = results(setting({"s": "a"}, GOOD_A, ["init"]),
                   setting({"s": "b"}, GOOD_A + RNG.normal(0, 0.001, 10), ["init"]))
    (v,) = js.verdicts(same, both[:1])
    assert v.status == "inconclusive"
    one_sided = js.verdicts(res, [claim("b beats a", {"s": "b"}, {"s": "a"})])
    assert one_sided[0].status == "refuted"


def test_statement_uses_the_claims_own_words():
    res = results(setting({"s": "a"}, GOOD_A, ["init"]), setting({"s": "b"}, GOOD_B, ["init"]))
    (v,) = js.verdicts(res, [claim("my new optimizer is better", {"s": "a"}, {"s": "b"})])
    assert v.statement.startswith('"my new optimizer is better" holds')
    assert "article" not in v.statement
    assert "my new optimizer is better" in js.format_verdicts((v,))
