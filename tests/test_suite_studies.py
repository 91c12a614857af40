"""The article suite: every built-in study is well formed, and runs end to end (sweep ->
store -> verdicts) at a tiny size. To keep compiles few, the end-to-end run keeps only
the two settings one of the study's claims compares (at most two compiled programs)."""

import math

import numpy as np
import pytest

from jaxstab.stats import verdicts
from jaxstab.store import Store
from jaxstab.builtin.data import FIXED_DATASETS
from jaxstab.builtin.config import METRICS
from jaxstab.loader import builtin_names, expand_refs, load_study, study_from_dict
from jaxstab.sweep import sweep

STUDIES = builtin_names()
SUITE = ("article/imbalance", "article/label_noise", "article/learning_rate",
         "article/batch_size", "article/regularization", "article/architecture",
         "article/rnn_gradients", "article/hparam_search", "article/seed_sources",
         "mnist1d/models")
ENV = {"python": "test"}


def test_every_suite_study_is_built_in_and_in_article():
    assert set(SUITE) <= set(STUDIES)
    article = [s.name for s in expand_refs(["article"])]
    assert all(n in article for n in SUITE if n.startswith("article/"))
    assert "mnist1d/models" not in article
    for n in ("article/example1", "article/example2", "article/example3"):
        assert n in article


@pytest.mark.parametrize("name", STUDIES)
def test_study_conformance(name):
    study = load_study(name)
    assert study.name == name and study.description and study.question
    assert study.claims, "every built-in study has claims"
    assert study_from_dict(study.to_dict()) == study  # the TOML contract round-trips
    keys = {s.key for s in study.settings()}
    assert len(keys) == len(study.settings())
    names = [n for n, _ in study.factors]
    curves = {t.curve for t in study.targets}
    strata = {tuple(dict(s.factors)[k] for k in study.strata) for s in study.settings()}
    for claim in study.claims:
        if claim.kind == "time_to_target":
            assert claim.metric in curves  # the target's curve
        elif claim.kind == "curve":
            assert claim.metric in ("loss", "accuracy")  # the built-in task's curves
        else:
            assert claim.metric in METRICS
        for side in (claim.a, claim.b):
            hits = [s for s in study.settings()
                    if all(_same(dict(s.factors)[k], v) for k, v in side.items())]
            # a claim across strata names one setting in each stratum
            want = len(strata) if study.is_aggregate(claim) else 1
            assert len(hits) == want, (claim.text, side)
            assert set(side) <= set(names)


def _same(x, y):
    if isinstance(x, (list, tuple)):
        return list(x) == list(y)
    return x == y


def shrink(name: str, *, seeds: int = 3) -> "object":
    """A claim's two settings (the first claim's, mostly), 3 seeds (a spread test needs 3), 2
    epochs, few samples."""
    d = load_study(name).to_dict()
    # mnist1d: the MLP-vs-logistic claim (the CNN and GRU compile for minutes on a
    # small CPU; their modules are checked in test_suite_engine)
    claim = d["claims"][-1 if name == "mnist1d/models" else 0]
    for k in d["factors"]:
        vals = [claim[s][k] for s in ("a", "b") if k in claim[s]]
        d["factors"][k] = list({repr(v): v for v in vals}.values()) or d["factors"][k][:1]
    d["claims"] = [claim]
    d["seeds"] = seeds
    data, train = d["data"], d["train"]
    if data["name"] in FIXED_DATASETS or data["name"] in ("classification", "long_range"):
        data["n_samples"] = 300 if data["name"] == "mnist1d" else 120
        data["test_size"] = min(data.get("test_size", 0.3), 0.4)
    elif data["name"] == "article_uniform":
        data["n_samples"] = 96
    n_train = data["n_samples"] - math.ceil(data.get("test_size", 0) * data["n_samples"])
    train["epochs"] = 2  # loss_rises needs two epochs
    train["batch_size"] = min(train.get("batch_size", 32), n_train)
    if "batch_size" in d["factors"]:
        d["factors"]["batch_size"] = [min(b, n_train) for b in d["factors"]["batch_size"]]
    return study_from_dict(d)


@pytest.mark.parametrize("name", SUITE)
def test_study_runs_end_to_end(name, tmp_path):
    study = shrink(name)
    store = Store(tmp_path / "r.sqlite")
    fp = store.ensure_study(study)
    # An explicit chunk size skips the memory probe (a second compile per group).
    stats = sweep(study, chunk_size=8,
                  on_chunk=lambda recs, sec: store.write_chunk(fp, recs, sec, ENV))
    assert stats.runs == len(study.settings()) * study.seeds
    assert stats.groups <= 2
    results = store.results(fp)
    claim = study.claims[0]
    for s in results.settings:
        assert claim.metric in s.metrics and study.main_metric in s.metrics
        assert len(s.seeds) == study.seeds
    (v,) = verdicts(results, study.claims)
    assert v.status in ("holds", "refuted", "inconclusive")
    store.close()


def test_built_in_suite_is_named_suite_and_judges_claims_across_strata():
    (study,) = expand_refs(["suite"])
    assert study.name == "suite/optimizers" and study.strata == ("dataset", "n_samples")
    assert len({dict(s.factors)["dataset"] for s in study.settings()}) == 5
    assert len({dict(s.factors)["optimizer"] for s in study.settings()}) == 3
    assert sum(study.is_aggregate(c) for c in study.claims) >= 2
    assert study.higher_is_better("test_loss") is False


def test_built_in_suite_tiny_run_gives_its_verdicts(tmp_path):
    """Two workloads x two optimizers (four compiles), 3 seeds, 2 epochs: the claim
    across strata gets a verdict from the across-task test, the per-workload ranking
    stays within its workload."""
    from jaxstab.stats import analyze

    d = load_study("suite/optimizers").to_dict()
    d["points"] = [p for p in d["points"] if p["dataset"] in ("wine", "breast_cancer")
                   and p["optimizer"] in ("adam", "sgd")]
    d["claims"] = [d["claims"][0]]
    d["seeds"], d["train"]["epochs"] = 3, 2
    study = study_from_dict(d)
    store = Store(tmp_path / "r.sqlite")
    fp = store.ensure_study(study)
    sweep(study, chunk_size=8,
          on_chunk=lambda recs, sec: store.write_chunk(fp, recs, sec, ENV))
    a = analyze(store.results(fp), study.claims, strata=study.strata,
                directions={"test_accuracy": True}, n_resamples=199)
    (v,) = a.suite.verdicts
    assert v.status in ("holds", "refuted", "inconclusive") and v.statistic == "iqm"
    assert v.these_tasks.n_tasks == 2 and a.verdicts == ()
    assert {r.statistic for r in a.suite.aggregates} == {"mean", "median", "iqm",
                                                         "optimality_gap"}
    for s in a.by_stratum:
        assert all(r.name.startswith(s.task) for r in s.ranking.ranks)
    store.close()


def test_dataset_sizes_and_feature_counts_match_the_registry():
    from jaxstab.builtin.data import _real

    for name, (rows, feats, classes) in FIXED_DATASETS.items():
        if name == "mnist1d":
            continue  # generated; checked in test_suite_engine
        x, y = _real.load(name)
        assert x.shape == (rows, feats) and set(np.unique(y)) == set(range(classes))
        assert np.isfinite(x).all() and x.dtype == np.float32
