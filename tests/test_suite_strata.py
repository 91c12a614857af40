"""Issue 23: strata (settings compared within a stratum, aggregates across), declared
metric direction, tidy import, and the suite section of ``jaxstab compare``."""

import json
from types import SimpleNamespace

import numpy as np
import pytest

import jaxstab.stats as js
from jaxstab.errors import UserError
from jaxstab.loader import study_from_dict
from test_stats_support import claim, results, setting

DATASETS = {"easy": 0.97, "mid": 0.75, "hard": 0.55}
ALGOS = {"erm": 0.0, "mixup": 0.03, "cutmix": 0.0}


def suite_results(rng, *, seeds=6, effect=1.0, metric="test_acc", loss=False):
    out = []
    for d, base in DATASETS.items():
        for a, eff in ALGOS.items():
            x = base + effect * eff + rng.normal(0, 0.01, seeds)
            out.append(setting({"dataset": d, "algo": a}, 1 - x if loss else x,
                               metric=metric))
    return results(*out, study=SimpleNamespace(name="s", main_metric=metric))


def test_one_easy_dataset_the_ranking_stays_within_strata():
    res = suite_results(np.random.default_rng(0))
    mixed = js.analyze(res, metric="test_acc", n_resamples=199)
    # without strata the easy dataset's settings take the top of the ranking
    assert {r.name.split(",")[0] for r in mixed.ranking.ranks[:3]} == {"dataset=easy"}
    a = js.analyze(res, metric="test_acc", strata=["dataset"], n_resamples=199)
    assert a.ranking is None and a.pairwise is None and a.control is None
    assert [s.task for s in a.by_stratum] == [f"dataset={d}" for d in DATASETS]
    for s in a.by_stratum:
        names = [r.name for r in s.ranking.ranks]
        assert all(n.startswith(s.task + ",") for n in names)  # no cross-stratum BEST
        assert names[0].endswith("algo=mixup") and s.ranking.ranks[0].tied_with_best
        assert all(p.a.startswith(s.task) and p.b.startswith(s.task)
                   for p in s.pairwise.pairs)  # pairs (and seed pairing) within it
    assert len(a.by_stratum[0].pairwise.pairs) == 3
    text = a.format()
    assert text.index("aggregates across strata") < text.index("within stratum")
    assert "settings are ranked and compared within each stratum" in text


def test_control_is_taken_within_each_stratum():
    a = js.analyze(suite_results(np.random.default_rng(1)), metric="test_acc",
                   strata=("dataset",), control={"algo": "erm"}, n_resamples=199)
    for s in a.by_stratum:
        assert s.control is not None and len(s.control.rows) == 2
        assert all(r.name.startswith(s.task) for r in s.control.rows)


def test_aggregates_and_improvement_follow_the_direction():
    res = suite_results(np.random.default_rng(2), metric="test_mse", loss=True)
    a = js.analyze(res, metric="test_mse", strata=["dataset"], n_resamples=199)
    assert a.direction == "guessed" and not a.higher_is_better  # mse: lower is better
    assert any("guessed from the name" in n for n in a.notes)
    assert "guessed from the name" in a.format()
    assert a.by_stratum[0].ranking.ranks[0].name.endswith("algo=mixup")  # lowest mse
    d = a.to_dict()
    json.dumps(d, allow_nan=False)
    assert {"aggregates", "improvement", "across_task_tests"} <= set(d)
    assert {r["statistic"] for r in d["aggregates"]} == {"mean", "median", "iqm",
                                                         "optimality_gap"}
    assert set(d["aggregates"][0]) >= {"metric", "setting", "statistic", "point", "low",
                                       "high"}
    pi = {(i["a"], i["b"]): i for i in d["improvement"]}
    assert set(pi["algo=erm", "algo=mixup"]) >= {"a", "b", "point", "low", "high"}
    assert pi["algo=erm", "algo=mixup"]["point"] < 0.1  # mixup's lower mse is better
    questions = {t["question"].split(":")[0] for t in d["across_task_tests"]}
    assert questions == {"On these 3 tasks", "On tasks like these (3 tasks)"}
    # declared the other way round, everything turns: the name guess is overridden
    b = js.analyze(res, metric="test_mse", strata=["dataset"], n_resamples=199,
                   directions={"test_mse": True})
    assert b.direction == "declared" and b.higher_is_better
    assert not any("guessed" in n for n in b.notes)
    assert b.by_stratum[0].ranking.ranks[-1].name.endswith("algo=mixup")
    pib = {(i.a, i.b): i for i in b.suite.improvement}
    assert pib["algo=erm", "algo=mixup"].point > 0.9


def test_claim_across_strata_is_decided_by_the_aggregate_test():
    across = claim("mixup beats erm on IQM across datasets", {"algo": "mixup"},
                   {"algo": "erm"})
    within = claim("mixup beats erm on mid", {"dataset": "mid", "algo": "mixup"},
                   {"dataset": "mid", "algo": "erm"})
    a = js.analyze(suite_results(np.random.default_rng(3)), [across, within],
                   metric="test_acc", strata=["dataset"], n_resamples=499)
    (v,) = a.suite.verdicts
    assert v.status == "holds" and v.statistic == "iqm" and v.p_adjusted < 0.05
    assert v.these_tasks.question.startswith("On these 3 tasks")
    assert v.tasks_like_these.p_value >= 0.25  # 3 tasks: its smallest p is 1/4
    assert [x.claim for x in a.verdicts] == [within.text]
    null = js.analyze(suite_results(np.random.default_rng(4), effect=0.0), [across],
                      metric="test_acc", strata=["dataset"], n_resamples=499)
    assert null.suite.verdicts[0].status == "inconclusive"
    worse = claim("erm beats mixup", {"algo": "erm"}, {"algo": "mixup"})
    ref = js.analyze(suite_results(np.random.default_rng(3)), [worse], metric="test_acc",
                     strata=["dataset"], n_resamples=499)
    assert ref.suite.verdicts[0].status == "refuted"


BASE = {"name": "mine/suite", "task": "imported", "main_metric": "test_mse",
        "factors": {"dataset": ["a", "b"], "algo": ["x", "y"]}}


def test_study_strata_and_metrics_are_analysis_not_identity():
    plain = study_from_dict(BASE)
    s = study_from_dict({**BASE, "strata": ["dataset"], "metrics": {"test_mse": "lower"}})
    assert s.strata == ("dataset",) and s.higher_is_better("test_mse") is False
    assert s.higher_is_better("other") is None
    assert s.fingerprint == plain.fingerprint  # same runs, same store entry
    assert "strata" not in plain.to_dict() and "metrics" not in plain.to_dict()
    assert study_from_dict(s.to_dict()).strata == ("dataset",)


@pytest.mark.parametrize("extra, match", [
    ({"strata": ["datset"]}, "strata.*datset.*dataset"),
    ({"strata": ["dataset", "algo"]}, "every factor a stratum"),
    ({"metrics": {"test_mse": "down"}}, "metrics.test_mse.*higher, lower"),
    ({"strata": ["dataset"], "claims": [{
        "text": "t", "metric": "test_mse", "kind": "mean", "direction": "less",
        "a": {"dataset": "a", "algo": "x"}, "b": {"dataset": "b", "algo": "x"}}]},
     "different strata"),
    ({"strata": ["dataset"], "claims": [{
        "text": "t", "metric": "test_mse", "kind": "mean", "direction": "less",
        "statistic": "iqm", "a": {"dataset": "a", "algo": "x"},
        "b": {"dataset": "a", "algo": "y"}}]}, "only for a claim across strata"),
    ({"strata": ["dataset"], "claims": [{
        "text": "t", "metric": "test_mse", "kind": "spread", "direction": "less",
        "a": {"algo": "x"}, "b": {"algo": "y"}}]}, "across strata compares aggregates"),
])
def test_bad_strata_and_directions_are_refused(extra, match):
    with pytest.raises(UserError, match=match):
        study_from_dict({**BASE, **extra})


def _tidy(path, rng, header="dataset,algo,seed,accuracy,test_mse"):
    rows = [header]
    for d, base in DATASETS.items():
        for a, eff in ALGOS.items():
            for s in range(5):
                acc = base + eff + rng.normal(0, 0.01)
                rows.append(f"{d},{a},{s},{acc},{1 - acc}")
    path.write_text("\n".join(rows) + "\n")


def test_tidy_import_with_strata_and_lower_is_better(cli, tmp_path):
    _tidy(tmp_path / "scores.csv", np.random.default_rng(5))
    rc, out, err = cli("import", "scores.csv", "--study", "torch/suite", "--strata",
                       "dataset", "--lower-is-better", "test_mse")
    assert rc == 0, err
    assert "45 runs imported" in out and "9 settings" in out
    rc, out, err = cli("compare", "torch/suite", "--metric", "test_mse", "--json")
    d = json.loads(out)
    assert d["strata"] == ["dataset"] and d["direction"] == "declared"
    assert d["higher_is_better"] is False
    assert d["ranking"] is None and len(d["by_stratum"]) == 3
    assert {"metric", "setting", "statistic", "point", "low", "high"} <= set(
        d["aggregates"][0])
    assert {"a", "b", "point", "low", "high"} <= set(d["improvement"][0])
    rc, out, _ = cli("compare", "torch/suite")  # accuracy: guessed, and it says so
    assert out.index("across 3 strata") < out.index("within stratum")
    assert "higher accuracy is better (guessed from the name)" in out
    rc, out, _ = cli("compare", "torch/suite", "--lower-is-better", "accuracy")
    assert "lower accuracy is better (declared)" in out


def test_tidy_import_errors_name_the_file(cli, tmp_path):
    _tidy(tmp_path / "runs.csv", np.random.default_rng(6))
    rc, _, err = cli("import", "runs.csv", "--study", "s", "--strata", "task")
    assert rc == 2 and err.strip().startswith("jaxstab: error: --strata: runs.csv has no "
                                              "column `task`")
    rc, _, err = cli("import", "runs.csv", "--study", "s", "--lower-is-better", "mse")
    assert rc == 2 and "`mse` is not a metric of runs.csv" in err
    (tmp_path / "nums.csv").write_text("seed,acc\n0,0.5\n1,0.6\n")
    rc, _, err = cli("import", "nums.csv", "--study", "s")
    assert rc == 2 and "nums.csv: no `setting` column and no factor column" in err
    (tmp_path / "short.csv").write_text("algo,seed,acc\nx,0,0.5\ny,1\n")
    rc, _, err = cli("import", "short.csv", "--study", "s")
    assert rc == 2 and "short.csv: line 3 has 2 fields" in err
    assert not (tmp_path / "results.sqlite").exists()


def test_end_of_run_summary_names_a_best_per_stratum(tmp_path):
    from jaxstab.importer import import_scores
    from jaxstab.store import Store
    from jaxstab.summary import summary_lines

    _tidy(tmp_path / "scores.csv", np.random.default_rng(7))
    store = Store(tmp_path / "r.sqlite")
    study, _ = import_scores(str(tmp_path / "scores.csv"), "s", store=store,
                             strata=["dataset"], lower_is_better=["accuracy"])
    lines = summary_lines(store.results(study.fingerprint), 5)
    best = [x for x in lines if x.startswith("best")]
    assert [x.split(":")[0] for x in best] == [f"best in dataset={d}" for d in DATASETS]
    # accuracy declared lower-is-better: the lowest mean (erm or cutmix) is called best
    assert all("algo=mixup" not in x.split(";")[0] and "lowest mean" in x for x in best)
    store.close()
