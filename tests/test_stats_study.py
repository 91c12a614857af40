"""Functions over study results: variance_by_source, verdicts, and their tables.

Results and claims are duck-typed stand-ins for jaxstab.store / jaxstab.study objects.
"""

import json
import math
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
import scipy.stats as st

import jaxstab.stats as js
from jaxstab.errors import UserError
from jaxstab.stats import test_noise_baseline  # must not be collected as a test

ALL = ["init", "order", "data"]


@dataclass(frozen=True)
class Claim:
    text: str
    metric: str
    kind: str
    direction: str
    a: dict = field(default_factory=dict)
    b: dict = field(default_factory=dict)


def setting(factors: dict[str, Any], values, sources, metric="test_acc", diverged=None):
    values = np.asarray(values, float)
    return SimpleNamespace(
        key=json.dumps(factors, sort_keys=True), factors=factors,
        seeds=np.arange(values.size), metrics={metric: values},
        diverged=np.zeros(values.size, bool) if diverged is None else np.asarray(diverged),
        sources=tuple(sources))


def results(*settings):
    return SimpleNamespace(settings=list(settings))


# --- variance by source ------------------------------------------------------------------

def source_study():
    rng = np.random.default_rng(0)
    sd = {"init": 0.01, "order": 0.005, "data": 0.02}
    out = []
    for lr in [0.01, 0.1]:
        for vary in [["init"], ["order"], ["data"], ALL]:
            s = math.sqrt(sum(sd[v] ** 2 for v in vary))
            # accuracies on 1000 test examples: k / 1000, as a binomial baseline needs
            acc = np.round(rng.normal(0.9, s, 30) * 1000) / 1000
            out.append(setting({"lr": lr, "vary": vary}, acc, vary))
    return results(*out)


def test_variance_by_source():
    res = source_study()
    rows = js.variance_by_source(res, metric="test_acc", n_test=1000)
    assert len(rows) == 8
    for lr in [0.01, 0.1]:
        group = [r for r in rows if r.group == {"lr": lr}]
        assert [r.sources for r in group] == [("init",), ("order",), ("data",), tuple(ALL)]
        singles = [r for r in group if len(r.sources) == 1]
        assert sum(r.share for r in singles) == pytest.approx(1.0)
        assert group[-1].share is None
        data = singles[2]
        assert data.share > 0.5  # the data draw dominates, as built
    row = rows[0]
    values = res.settings[0].metrics["test_acc"]
    assert row.std == pytest.approx(values.std(ddof=1))
    assert row.std_interval == js.std_interval(values)
    assert row.baseline == pytest.approx(math.sqrt(row.mean * (1 - row.mean) / 1000))
    table = js.format_variance_table(rows)
    assert "test-noise std" in table and "init+order+data" in table
    json.dumps([r.to_dict() for r in rows])


def test_share_intervals_cover_the_true_shares():
    """Normal runs with known per-source stds, 8 and 16 seeds, fixed rng: the 95%
    interval of each share covers the true share 95% of the time (within simulation
    error: 2,000 studies give +-0.01)."""
    rng = np.random.default_rng(25)
    for sd, n in (((1.0, 2.0), 8), ((1.0, 2.0, 0.5), 16), ((0.3, 0.3, 1.0, 0.6), 8)):
        sd = np.array(sd)
        true = sd**2 / np.sum(sd**2)
        x = rng.normal(size=(2000, sd.size, n)) * sd[None, :, None]
        v = x.var(axis=-1, ddof=1)
        share, low, high = js.share_intervals(v, np.full(v.shape, n - 1), level=0.95)
        assert np.allclose(share.sum(axis=-1), 1.0)
        cover = ((low <= true) & (true <= high)).mean(axis=0)
        assert np.all(np.abs(cover - 0.95) < 0.02), (sd, n, cover)
        assert np.all((low <= share) & (share <= high))
    # one source alone, or no spread in the others: no interval
    _, low, _ = js.share_intervals([1.0], [7])
    assert np.isnan(low).all()
    _, low, _ = js.share_intervals([1.0, 0.0], [7, 7])
    assert np.isnan(low[0])


def test_variance_rows_carry_the_share_interval():
    rows = js.variance_by_source(source_study(), metric="test_acc")
    singles = [r for r in rows if len(r.sources) == 1]
    for r in singles:
        iv = r.share_interval
        assert iv.point == r.share and iv.low < r.share < iv.high and iv.level == 0.95
        assert iv.method == "F (Satterthwaite)"
    assert all(r.share_interval is None for r in rows if len(r.sources) > 1)
    assert "%, " in js.format_variance_table(rows)  # "62% [41%, 80%]"
    json.dumps([r.to_dict() for r in rows])


def test_a_seed_source_study_is_not_ranked_but_its_variance_is_shown():
    a = js.analyze(source_study(), metric="test_acc", rng=0, n_resamples=199)
    assert a.ranking is None
    assert any(n.startswith("no ranking: the factor `vary` only selects") for n in a.notes)
    assert len(a.variance) == 8 and a.variance[0].share_interval is not None
    d = a.to_dict()
    assert d["ranking"] is None and d["variance"][0]["share_interval"]["low"] > 0
    text = a.format()
    assert "variance by seed source" in text and "ranking (" not in text
    # without a `vary` factor the settings are ranked as before, and no variance shown
    plain = results(setting({"lr": 0.1}, [0.9, 0.8, 0.85], ALL),
                    setting({"lr": 1.0}, [0.7, 0.6, 0.65], ALL))
    b = js.analyze(plain, metric="test_acc", rng=0, n_resamples=199)
    assert b.ranking is not None and b.variance == ()


def test_variance_by_source_leaves_diverged_runs_out():
    values = np.array([0.9, 0.91, 0.92, np.nan, 0.93])
    res = results(setting({"vary": ["init"]}, values, ["init"],
                          diverged=~np.isfinite(values)),
                  setting({"vary": ["order"]}, [0.9, 0.9, 0.91, 0.9, 0.9], ["order"]))
    rows = js.variance_by_source(res, metric="test_acc")
    assert (rows[0].n, rows[0].n_diverged) == (4, 1)
    assert rows[0].baseline is None
    assert "test-noise" not in js.format_variance_table(rows)


def test_variance_by_source_needs_one_source_settings():
    res = results(setting({"lr": 0.1}, [0.9, 0.8], ALL), setting({"lr": 1}, [0.9, 0.8], ALL))
    with pytest.raises(UserError, match=r"results: no setting varies exactly one seed source"):
        js.variance_by_source(res, metric="test_acc")
    with pytest.raises(UserError, match=r"results: need study results with `.settings`"):
        js.variance_by_source([0.9, 0.8], metric="test_acc")


def test_test_noise_baseline():
    assert test_noise_baseline(0.9, 10_000) == pytest.approx(0.003)
    assert js.test_noise_baseline(1.0, 100) == 0.0
    with pytest.raises(UserError, match=r"p: must be an accuracy in \[0, 1\], got 1.5"):
        js.test_noise_baseline(1.5, 100)
    with pytest.raises(UserError, match=r"n_test: must be an integer >= 1"):
        js.test_noise_baseline(0.5, 0)


# --- verdicts ----------------------------------------------------------------------------

def claim_study():
    rng = np.random.default_rng(1)
    seed_effect = rng.normal(0, 0.01, 20)  # shared by settings varying the same sources
    return results(
        setting({"opt": "adam", "l2": 0.0}, 0.90 + seed_effect + rng.normal(0, 0.005, 20),
                ["init"]),
        setting({"opt": "sgd", "l2": 0.0}, 0.85 + seed_effect + rng.normal(0, 0.005, 20),
                ["init"]),
        setting({"opt": "adam", "l2": 0.1}, rng.normal(0.901, 0.004, 20), ALL),
        # other sources than adam's: not paired
        setting({"opt": "sgd", "l2": 0.1}, rng.normal(0.90, 0.02, 20), ["init", "order"]),
    )


CLAIMS = [
    Claim("adam beats sgd", "test_acc", "mean", "greater", {"opt": "adam", "l2": 0.0},
          {"opt": "sgd", "l2": 0.0}),
    Claim("sgd beats adam", "test_acc", "mean", "greater", {"opt": "sgd", "l2": 0.0},
          {"opt": "adam", "l2": 0.0}),
    Claim("with l2, adam is a bit better", "test_acc", "mean", "greater",
          {"opt": "adam", "l2": 0.1}, {"opt": "sgd", "l2": 0.1}),
    Claim("adam is more consistent with l2", "test_acc", "spread", "less",
          {"opt": "adam", "l2": 0.1}, {"opt": "sgd", "l2": 0.1}),
]


def test_verdicts():
    vs = js.verdicts(claim_study(), CLAIMS, rng=0, n_resamples=999)
    assert [v.status for v in vs] == ["holds", "refuted", "inconclusive", "holds"]
    holds, refuted, unsure, spread = vs
    assert holds.paired and holds.test == "paired t" and holds.effect.name == "Hedges' g_z"
    assert not unsure.paired and unsure.test == "Welch t"
    assert spread.test == "permutation (std ratio)" and spread.effect.name == "std(A) / std(B)"
    raw = [v.p_value for v in vs]
    assert [v.p_adjusted for v in vs] == pytest.approx(list(js.adjust_pvalues(raw)))
    assert all(v.correction == "holm" and v.alpha == 0.05 for v in vs)
    assert (holds.n_a, holds.n_b, holds.setting_a) == (20, 20, '{"l2": 0.0, "opt": "adam"}')
    # seeds only where inconclusive, sized at the Bonferroni level alpha / 4
    assert [v.seeds_needed is None for v in vs] == [True, True, False, True]
    assert unsure.seeds_needed == js.seeds_needed(effect_size=unsure.effect.point,
                                                  alpha=0.05 / 4)
    text = js.format_verdicts(vs)
    assert "INCONCLUSIVE" in text and "p (holm)" in text and str(unsure.seeds_needed) in text
    json.loads(json.dumps([v.to_dict() for v in vs]))


def test_verdict_p_value_is_the_two_sided_primary():
    res = claim_study()
    v = js.verdicts(res, CLAIMS[:1], rng=0, n_resamples=999)[0]
    a, b = (res.settings[i].metrics["test_acc"] for i in (0, 1))
    assert v.p_value == pytest.approx(st.ttest_rel(a, b).pvalue)
    assert v.p_adjusted == v.p_value  # one claim: nothing to correct


def test_fdr_correction_is_named():
    vs = js.verdicts(claim_study(), CLAIMS, correction="fdr_bh", rng=0, n_resamples=999)
    assert all(v.correction == "fdr_bh" for v in vs)
    assert "p (fdr_bh)" in js.format_verdicts(vs)


def test_no_claims():
    assert js.verdicts(claim_study(), []) == ()
    assert js.format_verdicts(()) == "no claims"


@pytest.mark.parametrize("claim,match", [
    (Claim("c1", "test_acc", "mean", "greater", {"opt": "lion"}, {"opt": "sgd", "l2": 0.0}),
     r"claim 'c1': a: \{'opt': 'lion'\} matches no setting; it must select exactly one"),
    (Claim("c2", "test_acc", "mean", "greater", {"opt": "adam", "l2": 0.0}, {"opt": "sgd"}),
     r"claim 'c2': b: \{'opt': 'sgd'\} matches 2 settings"),
    (Claim("c3", "test_acc", "mean", "greater", {"opt": "adam", "l2": 0.0},
           {"l2": 0.0, "opt": "adam"}), r"claim 'c3': a and b select the same setting"),
    (Claim("c4", "loss", "mean", "less", {"opt": "adam", "l2": 0.0},
           {"opt": "sgd", "l2": 0.0}), r"claim 'c4': metric: 'loss' not recorded"),
    (Claim("c5", "test_acc", "median", "less", {"opt": "adam"}, {"opt": "sgd"}),
     r"claim 'c5': kind: must be one of 'mean', 'spread'"),
    (Claim("c6", "test_acc", "mean", "bigger", {"opt": "adam"}, {"opt": "sgd"}),
     r"claim 'c6': direction: must be one of 'greater', 'less', 'two-sided'"),
])
def test_bad_claims_name_the_claim(claim, match):
    with pytest.raises(UserError, match=match):
        js.verdicts(claim_study(), [claim])


def test_list_valued_factors_match():
    res = source_study()
    claim = Claim("data noise dominates", "test_acc", "spread", "greater",
                  {"lr": 0.01, "vary": ["data"]}, {"lr": 0.01, "vary": ("init",)})
    (v,) = js.verdicts(res, [claim], rng=0, n_resamples=999)
    assert v.status == "holds" and not v.paired
