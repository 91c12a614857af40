"""Hyperparameter search: proposals, selection rules, one vmapped program per batch, fresh
seeds for the winner's curse, verdicts."""

import numpy as np
import pytest

from jaxstab.errors import UserError
from jaxstab.search import (
    FRESH_BASE,
    RULES,
    SEARCH_BASE,
    Evaluator,
    grid_points,
    random_points,
    run_search,
    select,
)
from jaxstab.search_config import SearchConfig
from jaxstab.loader import load_study, study_from_dict


def test_grid_and_random_points_stay_in_bounds_and_are_reproducible():
    cfg = SearchConfig(trials=9, learning_rate=(1e-4, 1.0), weight_decay=(1e-5, 1e-1))
    g = grid_points(cfg)
    assert len(g) == 9 and len(set(g)) == 9
    assert {round(lr, 8) for lr, _ in g} == {1e-4, 1e-2, 1.0}
    a = random_points(cfg, np.random.default_rng(3))
    b = random_points(cfg, np.random.default_rng(3))
    assert a == b and len(a) == 9
    assert all(1e-4 <= lr <= 1.0 and 1e-5 <= wd <= 1e-1 for lr, wd in a)


def test_selection_rules():
    scores = np.array([[0.90, 0.50],   # best single seed, erratic
                       [0.75, 0.74],   # best lower bound
                       [0.80, 0.70],   # best mean
                       [np.nan, 0.99]])  # a diverged seed counts as the worst
    assert select(scores, "best_seed", 1.0) == (3, pytest.approx(0.99))
    i, s = select(scores, "mean", 1.0)
    assert i == 2 and s == pytest.approx(0.75)
    i, s = select(scores, "lcb", 1.0)
    assert i == 1 and s == pytest.approx(0.745)


def test_search_needs_weight_decay_optimizer():
    d = load_study("article/hparam_search").to_dict()
    d["train"]["optimizer"] = "adam"
    with pytest.raises(UserError, match=r"search: optimizer `adam` has no weight decay"):
        Evaluator(study_from_dict(d), 4)


def test_search_end_to_end_one_program_fresh_seeds(monkeypatch):
    import jaxstab.sweep as sweep_mod

    d = load_study("article/hparam_search").to_dict()
    d["train"]["epochs"] = 1
    d["data"]["n_samples"] = 150
    d["search"].update(trials=3, batch=2, seeds=2, fresh_seeds=2, replicates=3)
    study = study_from_dict(d)
    calls = []
    real = sweep_mod.execute

    def spy(settings, seeds, **kw):
        calls.append((len(settings), list(seeds)))
        return real(settings, seeds, **kw)

    monkeypatch.setattr(sweep_mod, "execute", spy)
    result = run_search(study)
    assert {n for n, _ in calls} == {4}  # batch x seeds: every call reuses one program
    search_seeds = {k for _, ks in calls for k in ks if k < FRESH_BASE}
    fresh_seeds = {k for _, ks in calls for k in ks if k >= FRESH_BASE}
    assert search_seeds == set(range(SEARCH_BASE, SEARCH_BASE + 6))
    assert fresh_seeds == set(range(FRESH_BASE, FRESH_BASE + 6))
    assert len(result.picks) == 3 * len(RULES) * 3
    for p in result.picks:
        assert len(p.fresh_scores) == 2
        assert 1e-4 <= p.learning_rate <= 0.3 and 1e-4 <= p.weight_decay <= 1.0
    assert result.trials[("bayes", 1)][1].shape == (3, 2)
    vs = result.verdicts()
    assert len(vs) == 5 and all(v.status in ("holds", "refuted", "inconclusive") for v in vs)
    assert len(result.table()) == 1 + 3 * len(RULES)


def _small_search():
    d = load_study("article/hparam_search").to_dict()
    d["train"]["epochs"] = 1
    d["data"]["n_samples"] = 150
    d["seeds"] = 2
    d["factors"] = {"learning_rate": [0.001, 0.01], "weight_decay": [0.0001]}
    d["claims"] = []
    d["search"].update(trials=3, batch=2, seeds=2, fresh_seeds=2, replicates=2)
    return study_from_dict(d)


def test_interrupted_search_resumes_without_losing_or_repeating_a_run(tmp_path):
    from jaxstab.search import stored_search
    from jaxstab.store import Store

    study = _small_search()
    metric = study.main_metric
    full = run_search(study)  # the reference: uninterrupted, in memory
    store = Store(tmp_path / "r.sqlite")
    fp = store.ensure_study(study)
    commits = []

    class Stop(Exception):
        pass

    def commit(recs, seconds):
        store.write_chunk(fp, recs, seconds, {})
        commits.append(len(recs))
        if len(commits) == 3:
            raise Stop

    with pytest.raises(Stop):
        run_search(study, known=store.values(fp, metric), on_chunk=commit)
    first = len(store.done(fp))
    assert first == sum(commits) and 0 < first < full.runs
    assert stored_search(store, fp, study) is None  # incomplete: nothing to report yet

    resumed = run_search(study, known=store.values(fp, metric),
                         on_chunk=lambda r, s: store.write_chunk(fp, r, s, {}))
    assert resumed.stored == first and resumed.runs + first == full.runs
    assert len(store.done(fp)) == full.runs
    assert [p.to_dict() for p in resumed.picks] == [p.to_dict() for p in full.picks]
    from jaxstab.search import picks_to_rows

    assert stored_search(store, fp, study) is None  # picks are stored by run_study
    store.write_search_picks(fp, picks_to_rows(resumed.picks))
    again = stored_search(store, fp, study)  # read back: no Optuna, no replayed proposals
    assert [p.to_dict() for p in again.picks] == [p.to_dict() for p in full.picks]
    code = ("import sys, jaxstab; from jaxstab.store import Store; "
            f"s = Store({str(tmp_path / 'r.sqlite')!r}, create=False); "
            f"from jaxstab.search import stored_search; from jaxstab.loader import "
            f"study_from_dict; import json; "
            f"st = s.results({fp!r}).study; r = stored_search(s, {fp!r}, st); "
            "r.verdicts(); assert len(r.picks) > 0; assert 'optuna' not in sys.modules")
    import subprocess
    import sys

    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    # the study's own settings hold only the study's runs, not the search's
    assert all(len(s.seeds) == 0 for s in store.results(fp).settings)


def test_run_trains_the_search_and_compare_and_report_show_it(cli, tmp_path):
    import json

    toml = tmp_path / "search.toml"
    d = _small_search().to_dict()
    from jaxstab.report._render import to_toml

    toml.write_text(to_toml(d))
    rc, out, err = cli("run", toml)
    assert rc == 0, err
    assert f"{d['name']} search: " in out and "already in the store" in out
    assert "best_seed" in out and "winner's curse" in out
    rc, out2, err = cli("run", toml)  # nothing left to train
    assert rc == 0, err
    assert "search: 0 runs trained" in out2
    rc, out, err = cli("compare", toml, "--json")
    assert rc == 0, err
    data = json.loads(out)
    assert len(data["search"]["picks"]) == 3 * len(RULES) * 2
    assert {v["status"] for v in data["search"]["verdicts"]} <= {"holds", "refuted",
                                                                  "inconclusive"}
    rc, out, err = cli("report", "--out", "rep")
    assert rc == 0, err
    page = next(p for p in (tmp_path / "rep").glob("*.html") if p.name != "index.html")
    html = page.read_text()
    assert 'id="search"' in html and "winner" in html
    assert html.count('class="verdict ') == 5
