"""Sequential verdicts (``--until-decided``): boundaries, calibration by simulation
(fixed rng), and the contract of ``sequential_verdicts``.

The simulations are vectorized over replications and run the very statistic
(``_groupseq.z_path``, checked equal to the per-look ``statistic``) and decision
procedure (``_groupseq.decide``) the public function uses. docs/sequential_tables.py
prints the larger tables of docs/statistics.md.
"""

from __future__ import annotations

import json
import math
import warnings
import zlib

import numpy as np
import pytest
import scipy.optimize as opt
import scipy.stats as st

import jaxstab.stats as js
from jaxstab.errors import UserError
from jaxstab.stats import _groupseq
from jaxstab.stats._power import t_power
from test_stats_support import claim, results, setting

ALPHA = 0.05
REPS = 4000
SCHED = js.look_schedule(8, 128)  # 8, 16, 32, 64, 128


def rng_for(*case: object) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(repr(case).encode()))


def draw(dist, size, gen):
    if dist == "normal":
        return gen.normal(0.9, 0.03, size)
    if dist == "beta":
        return gen.beta(45, 5, size)
    # 30% of runs collapse to a constant (never trained), the rest train.
    return np.where(gen.random(size) < 0.3, 0.5, gen.normal(0.9, 0.02, size))


def pair(dist, kind, paired, shift, reps, n, gen):
    """Settings A and B; paired runs share a seed draw (correlation ~2/3). Spread
    nulls move B's mean: a spread test must ignore it."""
    if paired:
        common = draw(dist, (reps, n), gen)
        a, b = (common + 0.7 * draw(dist, (reps, n), gen) for _ in range(2))
    else:
        a, b = draw(dist, (reps, n), gen), draw(dist, (reps, n), gen)
    return (a + shift, b) if kind == "mean" else (a, b + 0.05)


def decide(z, sched=SCHED, **kw):
    z = z if z.ndim == 3 else z[:, None, :]
    return _groupseq.decide(z, np.ones(z.shape, bool), schedule=sched, alpha=ALPHA, **kw)


# --- boundaries ------------------------------------------------------------------------

def test_integration_reproduces_gsdesign_obrien_fleming_boundaries():
    # gsDesign(k=5, test.type=1, alpha=0.025, sfu=sfLDOF): 4.8769 3.3569 2.6803 2.2898 2.0310
    t = tuple(k / 5 for k in range(1, 6))
    got = _groupseq.bounds_for(t, _groupseq.obf_spending(t, ALPHA))
    assert np.allclose(got, [4.8769, 3.3569, 2.6803, 2.2898, 2.0310], atol=2e-4)


def test_boundaries_spend_alpha_equally_at_each_doubling():
    # The canonical joint distribution simulated directly: sums of independent increments.
    sched = js.look_schedule(16, 512)
    gen = rng_for("canonical")
    n = np.asarray(sched, float)
    steps = gen.normal(size=(400_000, n.size)) * np.sqrt(np.diff(n, prepend=0))
    z = np.cumsum(steps, 1) / np.sqrt(n)
    c = np.asarray(_groupseq.efficacy_bounds(sched, ALPHA))
    crossed = np.abs(z) >= c
    first = np.where(crossed.any(1), crossed.argmax(1), -1)
    per_look = [np.mean(first == k) for k in range(n.size)]
    assert np.allclose(per_look, ALPHA / n.size, atol=0.0012), per_look
    assert abs(np.mean(first >= 0) - ALPHA) < 0.0015
    assert c[-1] < 2.52 and _groupseq.efficacy_bounds((64,), ALPHA) == pytest.approx((1.959964,))


def test_look_schedule_doubles_to_the_maximum():
    assert js.look_schedule(16, 512) == (16, 32, 64, 128, 256, 512)
    assert js.look_schedule(16, 100) == (16, 32, 64, 100)
    assert js.look_schedule(16, 70) == (16, 32, 70)  # 64 -> 70 is merged into one look
    assert js.look_schedule(8, 8) == (8,)
    assert js.look_schedule(8, 10) == (8, 10)


@pytest.mark.parametrize("first,top,match", [
    (4, 64, r"--seeds: a sequential run needs at least 8 seeds .* got 4"),
    (True, 64, r"--seeds: .* got True"),
    (16.0, 64, r"--seeds: .* got 16.0"),
    (16, 8, r"--max-seeds: must be an integer at least the first look's 16 seeds "
            r"\(--seeds\), got 8"),
    (16, "64", r"--max-seeds: .* got '64'"),
])
def test_look_schedule_errors(first, top, match):
    with pytest.raises(UserError, match=match):
        js.look_schedule(first, top)


# --- calibration -----------------------------------------------------------------------

@pytest.mark.parametrize("dist", ["normal", "beta", "collapse"])
@pytest.mark.parametrize("kind,paired", [("mean", False), ("mean", True),
                                         ("spread", False), ("spread", True)])
def test_type1_error_under_the_look_schedule(kind, paired, dist):
    a, b = pair(dist, kind, paired, 0.0, REPS, SCHED[-1], rng_for("t1", kind, paired, dist))
    z = _groupseq.z_path(a, b, kind=kind, paired=paired, schedule=SCHED)
    for futility in (True, False):  # non-binding: control without it too
        code = decide(z, futility=futility).code[:, 0]
        holds = np.mean(code == _groupseq.POSITIVE)  # a directional claim "A > B"
        either = np.mean(np.isin(code, (_groupseq.POSITIVE, _groupseq.NEGATIVE)))
        assert holds <= ALPHA / 2 + 0.01 and either <= ALPHA + 0.01, (holds, either)


def test_type1_error_with_many_looks():
    sched = js.look_schedule(16, 512)
    a, b = pair("normal", "mean", False, 0.0, REPS, 512, rng_for("t1-long"))
    d = decide(_groupseq.z_path(a, b, kind="mean", paired=False, schedule=sched), sched)
    code = d.code
    assert np.mean(d.look == len(sched) - 1) > 0.1  # many come to the last look
    assert np.mean(np.isin(code, (_groupseq.POSITIVE, _groupseq.NEGATIVE))) <= ALPHA + 0.01


def sized_shift(n):
    """Shift (in the data's std 0.03) a fixed design of n seeds detects with power 0.8."""
    return 0.03 * opt.brentq(lambda d: t_power(d, n) - 0.8, 0.01, 5)


@pytest.mark.parametrize("correction", ["holm", "bonferroni"])
def test_familywise_error_of_three_claims(correction):
    gen = rng_for("fwer", correction)
    for shifts in ((0, 0, 0), (sized_shift(16), 0, 0)):
        z = np.stack([_groupseq.z_path(*pair("normal", "mean", False, s, REPS, 128, gen),
                                       kind="mean", paired=False, schedule=SCHED)
                      for s in shifts], 1)
        code = decide(z, correction=correction).code
        null = [i for i, s in enumerate(shifts) if s == 0]
        fwer = np.isin(code[:, null], (_groupseq.POSITIVE, _groupseq.NEGATIVE)).any(1).mean()
        assert fwer <= ALPHA + 0.01, (shifts, fwer)


def test_holm_passes_level_on_and_finds_more_than_bonferroni():
    gen = rng_for("holm-power")
    shifts = (sized_shift(16), sized_shift(64))
    z = np.stack([_groupseq.z_path(*pair("normal", "mean", False, s, REPS, 128, gen),
                                   kind="mean", paired=False, schedule=SCHED)
                  for s in shifts], 1)
    holm = np.mean(decide(z).code[:, 1] == _groupseq.POSITIVE)
    bonf = np.mean(decide(z, correction="bonferroni").code[:, 1] == _groupseq.POSITIVE)
    assert holm > bonf + 0.02, (holm, bonf)


def test_power_and_seeds_at_the_sized_effect():
    # An effect a fixed design of 32 seeds detects with power 0.8, looks 8..256.
    sched = js.look_schedule(8, 256)
    a, b = pair("normal", "mean", False, sized_shift(32), REPS, 256, rng_for("power"))
    d = decide(_groupseq.z_path(a, b, kind="mean", paired=False, schedule=sched), sched)
    power = np.mean(d.code[:, 0] == _groupseq.POSITIVE)
    seeds = np.asarray(sched)[d.look[:, 0]].mean()
    same_power = js.seeds_needed(effect_size=sized_shift(32) / 0.03, power=power)
    assert power >= 0.95 and seeds <= 0.75 * same_power, (power, seeds, same_power)
    a, b = pair("normal", "mean", False, 0.0, REPS, 256, rng_for("power-null"))
    d = decide(_groupseq.z_path(a, b, kind="mean", paired=False, schedule=sched), sched)
    assert np.asarray(sched)[d.look[:, 0]].mean() <= 0.45 * 256  # futility saves seeds


@pytest.mark.parametrize("kind,paired", [("mean", False), ("mean", True),
                                         ("spread", False), ("spread", True)])
def test_vectorized_path_equals_the_per_look_statistic(kind, paired):
    a, b = pair("beta", kind, paired, 0.01, 3, 32, rng_for("same", kind, paired))
    z = _groupseq.z_path(a, b, kind=kind, paired=paired, schedule=(8, 16, 32))
    for r in range(3):
        one = [_groupseq.statistic(a[r, :n], b[r, :n], kind=kind, paired=paired).z
               for n in (8, 16, 32)]
        assert np.allclose(z[r], one, rtol=1e-12)


# --- sequential_verdicts ----------------------------------------------------------------

def study(a, b, *, sources_b=("init",), **kw):
    return results(setting({"s": "a"}, a, **kw), setting({"s": "b"}, b, sources_b))


def same(v, w) -> bool:
    """Equal verdicts (NaN fields compare equal: to_dict writes them as None)."""
    return json.dumps(jsonable(v)) == json.dumps(jsonable(w))


def jsonable(v):
    return [x.to_dict() for x in v] if isinstance(v, list) else v.to_dict()


def run(res, claims, sched=SCHED, upto=None, **kw):
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        return js.sequential_verdicts(res, claims, schedule=sched,
                                      upto=len(sched) - 1 if upto is None else upto, **kw)


A_GT_B = claim("a beats b", {"s": "a"}, {"s": "b"})
GEN = np.random.default_rng(7)
BASE = GEN.normal(0.9, 0.03, 128)
NOISE = GEN.normal(0.0, 0.03, 128)


def test_a_clear_effect_holds_early_and_says_it_is_sequential():
    res = study(BASE + 0.03 + 0.3 * NOISE, BASE)  # paired, g_z about 3
    (v,) = run(res, [A_GT_B])
    assert v.status == "holds" and v.seeds_used == 8 and v.settings_needed == ()
    assert v.paired and v.test == "paired t" and len(v.looks) == 1
    (look,) = v.looks
    assert look.decision == "holds" and look.statistic >= look.efficacy > 2.5
    assert look.refute == -look.efficacy and look.alpha == ALPHA
    assert "holds (sequential test, decided at look 1 of 5 with 8 seeds per setting)" \
        in v.statement
    json.dumps(v.to_dict(), allow_nan=False)
    back = js.SequentialVerdict.from_dict(json.loads(json.dumps(v.to_dict())))
    assert same(back, v) and isinstance(back.looks[0], js.Look)


def test_pure_and_resumable_at_the_same_look():
    res = study(BASE + 0.012 + NOISE, BASE)
    assert same(run(res, [A_GT_B]), run(res, [A_GT_B]))
    for j in range(len(SCHED)):
        cut = study((BASE + 0.012 + NOISE)[:SCHED[j]], BASE[:SCHED[j]])
        # Seeds beyond a look do not change it; a store cut after round j resumes there.
        at_j = run(res, [A_GT_B], upto=j)
        assert same(at_j, run(cut, [A_GT_B], upto=j)) and same(at_j, run(cut, [A_GT_B]))


def test_a_decided_claim_keeps_its_verdict_whatever_runs_later():
    a = BASE + 0.3 * NOISE
    a[:8] += 0.03  # holds at look 1; later seeds show no difference at all
    (v,) = run(study(a, BASE), [A_GT_B])
    assert v.status == "holds" and v.seeds_used == 8
    (w,) = run(study(a[:8], BASE[:8]), [A_GT_B])
    assert same(v, w)


def test_undecided_names_the_settings_and_the_next_look():
    res = study(BASE + 0.012 + NOISE, BASE)
    (v,) = run(res, [A_GT_B], upto=0)
    assert v.status == "undecided" and v.next_seeds == 16
    assert v.settings_needed == (res.settings[0].key, res.settings[1].key)
    assert js.seeds_to_run([v]) == {res.settings[0].key: 16, res.settings[1].key: 16}
    assert "next look at 16 seeds" in v.statement and v.looks[0].decision == "continue"


def test_missing_seeds_stop_a_claim_undecided():
    res = study(BASE[:20] + 0.012 + NOISE[:20], BASE[:20])  # looks 8, 16 complete
    (v,) = run(res, [A_GT_B])
    assert v.status == "undecided" and v.seeds_used == 16 and v.next_seeds == 32
    empty = study([], BASE)
    empty.settings[0].metrics = {}
    (v,) = run(empty, [A_GT_B])
    assert v.status == "undecided" and v.looks == () and v.next_seeds == 8
    assert "first look needs seeds 0-7" in v.statement


def test_no_effect_stops_for_futility_and_says_why():
    e = NOISE[:16] - NOISE[:16].mean()  # paired differences with mean exactly 0
    a = np.r_[BASE[:16] + e, BASE[16:] + 0.05]  # later seeds would show a big effect
    (v,) = run(study(a, BASE), [A_GT_B], sched=(16, 32, 64, 128))
    assert v.status == "futile" and v.seeds_used == 16 and v.settings_needed == ()
    (look,) = v.looks
    assert look.decision == "futile" and abs(look.statistic) < 1e-6 < look.futility
    assert "stops for futility (sequential test, at look 1 of 4 with 16 seeds" in v.statement
    # Futility is judged from 1/8 of the maximum on: not at 8 of 128 seeds.
    (w,) = run(study(a, BASE), [A_GT_B], sched=(8, 16, 32, 64, 128), upto=0)
    assert w.status == "undecided" and math.isnan(w.looks[0].futility)


def test_the_text_table_shows_each_path():
    res = study(BASE + 0.03 + 0.3 * NOISE, BASE)
    text = js.format_sequential_verdicts(run(res, [A_GT_B]))
    assert "HOLDS" in text and "path: 8: z=" in text and "nan" not in text.lower()
    assert js.format_sequential_verdicts([]) == "no claims"


def paired_at_z(z_target, n=64):
    """Paired values whose paired t maps to exactly ``z_target``."""
    e = NOISE[:n] - NOISE[:n].mean()
    t = st.t.isf(st.norm.sf(z_target), n - 1)
    return BASE[:n] + e + t * e.std(ddof=1) / math.sqrt(n), BASE[:n]


def test_not_shown_at_the_last_look():
    (v,) = run(study(*paired_at_z(1.5)), [A_GT_B], sched=(64,))
    assert v.status == "not shown" and v.looks[0].statistic == pytest.approx(1.5)
    assert "is not shown (sequential test, its one look up to 64 seeds" in v.statement


def test_refuted_two_sided_and_less():
    b, a = paired_at_z(4.0)  # A below B
    (v,) = run(study(a, b), [A_GT_B], sched=(64,))
    assert v.status == "refuted" and v.looks[0].statistic < v.looks[0].refute
    two = claim("they differ", {"s": "a"}, {"s": "b"}, direction="two-sided")
    less = claim("a is lower", {"s": "a"}, {"s": "b"}, direction="less")
    w, x = run(study(a, b), [two, less], sched=(64,))
    assert w.status == "holds" and math.isnan(w.looks[0].refute)
    assert w.looks[0].statistic < 0  # two-sided: the signed z of A - B
    assert x.status == "holds" and x.looks[0].statistic > 0  # in the claim's direction


def test_holm_recycles_alpha_and_bonferroni_does_not():
    a1, b1 = paired_at_z(6.0)
    a2, b2 = paired_at_z(2.1)  # between the boundaries at alpha/2 (2.24) and alpha (1.96)
    res = results(setting({"s": "a"}, a1), setting({"s": "b"}, b1),
                  setting({"s": "c"}, a2), setting({"s": "d"}, b2))
    claims = [A_GT_B, claim("c beats d", {"s": "c"}, {"s": "d"})]
    holm = run(res, claims, sched=(64,))
    assert [v.status for v in holm] == ["holds", "holds"]
    assert holm[0].looks[0].alpha == ALPHA / 2 and holm[1].looks[0].alpha == ALPHA
    bonf = run(res, claims, sched=(64,), correction="bonferroni")
    assert [v.status for v in bonf] == ["holds", "not shown"]
    bh = run(res, claims, sched=(64,), correction="fdr_bh")
    assert [v.status for v in bh] == ["holds", "holds"]
    assert bh[0].correction.startswith("holm (in place of fdr_bh")


def test_diverged_runs_are_left_out_with_a_note():
    a, b = BASE + 0.03 + 0.3 * NOISE, BASE.copy()
    a[[1, 3]] = np.nan
    (v,) = run(study(a, b), [A_GT_B])
    assert v.looks[0].n_a == 6 and "2 pair(s) dropped because one side diverged" in v.note
    (w,) = run(study(a, b, sources_b=("order",)), [A_GT_B])
    assert not w.paired and w.looks[0].n_a == 6 and w.looks[0].n_b == 8
    assert "diverged runs left out: 2 of 8 runs of s=a" in w.looks[0].note
    dead = np.full(128, np.nan)
    (x,) = run(study(dead, b), [A_GT_B])  # never testable: stops at the first look
    assert x.status == "untestable" and len(x.looks) == 1 and x.next_seeds == 0
    assert math.isnan(x.looks[0].statistic) and "too few finished runs" in x.note
    assert "is untestable" in x.statement and "nan" not in x.statement
    json.dumps(x.to_dict(), allow_nan=False)


@pytest.mark.parametrize("kind", ["mean", "spread"])
@pytest.mark.parametrize("paired", [True, False])
def test_constant_arms_decide_nothing_spuriously(kind, paired):
    c = claim("a differs", {"s": "a"}, {"s": "b"}, kind=kind)
    src = ("init",) if paired else ("order",)
    k = np.arange(128)
    # Equal values that differ by float rounding only (np.std of them is ~1e-17).
    (v,) = run(study(np.full(128, 0.81) + 1e-17 * (k % 3), np.full(128, 0.81),
                     sources_b=src), [c])
    assert v.status in ("futile", "not shown") and v.looks[-1].statistic == 0
    assert "no seed variation" in v.note
    # The same accuracies computed two ways: k/200 and 3k/600 are not the same floats.
    vals = k % 7 + 150
    (w,) = run(study(vals / 200, 3 * vals / 600, sources_b=src), [c])
    assert w.status in ("futile", "not shown")
    assert all(abs(lk.statistic) < 1e-6 for lk in w.looks)


def test_a_constant_shift_is_decided_by_the_exact_permutation_test():
    (v,) = run(study(np.full(128, 0.9), np.full(128, 0.8)), [A_GT_B])
    assert v.status == "holds" and v.test.startswith("exact permutation")
    assert v.seeds_used == 8  # 2^-8 sign flips: z = 2.66 at 8 pairs


def test_errors_name_the_argument():
    res = study(BASE, BASE + 0.01)
    cases = [
        (dict(schedule=(4, 8), upto=0), r"schedule: need increasing integer seed counts, "
                                        r"the first at least 8"),
        (dict(schedule=(16, 16), upto=0), r"schedule: need increasing"),
        (dict(schedule=(16, 32.5), upto=0), r"schedule: need increasing"),
        (dict(schedule="abc", upto=0), r"schedule: need increasing"),
        (dict(schedule=SCHED, upto=5), r"upto: must be a look index from 0 to 4, got 5"),
        (dict(schedule=SCHED, upto=True), r"upto: must be a look index"),
        (dict(schedule=SCHED, upto=0, alpha=1.5), r"alpha: must be between 0 and 1"),
        (dict(schedule=SCHED, upto=0, correction="sidak"), r"correction: must be one of"),
    ]
    for kw, match in cases:
        with pytest.raises(UserError, match=match):
            js.sequential_verdicts(res, [A_GT_B], **kw)
    with pytest.raises(UserError, match=r"settings: need study results or a list"):
        js.sequential_verdicts(3, [A_GT_B], schedule=SCHED, upto=0)
    with pytest.raises(UserError, match=r"claim 'x': metric: 'loss' not recorded"):
        run(res, [claim("x", {"s": "a"}, {"s": "b"}, metric="loss")])
    with pytest.raises(UserError, match=r"a and b select the same setting"):
        run(res, [claim("x", {"s": "a"}, {"s": "a"})])
    with pytest.raises(UserError, match=r"matches no setting"):
        run(res, [claim("x", {"s": "z"}, {"s": "a"})])
    assert run(res, []) == [] and run(res.settings, [A_GT_B])[0].claim == "a beats b"
