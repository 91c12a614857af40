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
from jaxstab.study import SearchConfig, load_study, study_from_dict


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
