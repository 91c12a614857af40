"""Engine contracts: vmapped sweep == loop of single runs, chunking changes nothing,
no recompilation, run keys by fold_in, divergence is data."""

import logging

import jax
import numpy as np
import pytest

from jaxstab.study import SOURCES
from jaxstab.sweep import _keys, execute, source_indices, sweep

from conftest import tiny


def _collect(study, **kw):
    recs = []
    sweep(study, on_chunk=lambda r, s: recs.extend(r), **kw)
    return {(r.setting, r.seed): r for r in recs}


@pytest.mark.parametrize("name", ["article/example1", "article/example2", "article/example3"])
def test_vmapped_sweep_equals_loop_of_single_runs(name):
    study = tiny(name, seeds=3)
    settings = [s for s in study.settings() for _ in range(3)]
    seeds = [k for _ in study.settings() for k in range(3)]
    for group in ({s.static for s in settings}):
        ss = [s for s in settings if s.static == group]
        ks = [k for s, k in zip(settings, seeds) if s.static == group]
        vm = execute(ss, ks, study_seed=study.seed)
        loop = execute(ss, ks, study_seed=study.seed, vmapped=False)
        for k in vm["metrics"]:
            np.testing.assert_allclose(vm["metrics"][k], loop["metrics"][k], rtol=2e-5,
                                       atol=2e-6, err_msg=k)
        np.testing.assert_allclose(vm["curves"]["loss"], loop["curves"]["loss"], rtol=2e-5)


def test_results_do_not_depend_on_chunk_size_or_seed_count():
    study = tiny("article/example2", seeds=5)
    a = _collect(study, chunk_size=1024)
    b = _collect(study, chunk_size=3)  # 10 runs in chunks of 3 or 4, last padded
    c = _collect(study, seeds=3, chunk_size=2)
    assert a.keys() == b.keys() and len(a) == 10
    for key, r in a.items():
        for m, v in r.metrics.items():
            np.testing.assert_allclose(b[key].metrics[m], v, rtol=1e-5, atol=1e-6)
            if key in c:
                np.testing.assert_allclose(c[key].metrics[m], v, rtol=1e-5, atol=1e-6)


def test_second_call_does_not_recompile(caplog):
    study = tiny("article/example3", seeds=4)
    sweep(study, chunk_size=4)  # compile: 8 runs in chunks of 4
    with jax.log_compiles(True), caplog.at_level(logging.WARNING):
        caplog.clear()
        sweep(study, chunk_size=4)
        # a resumed sweep with chunks of the same size reuses the program too
        sweep(study, skip={(s.key, k) for s in study.settings() for k in (0, 1)},
              chunk_size=4)
    compiles = [r for r in caplog.records if "Compiling" in r.getMessage()
                and "one" in r.getMessage()]
    assert compiles == []


def test_run_keys_are_fold_in_of_source_and_seed_index():
    study = tiny("article/example2")
    setting = study.settings()[0]
    idx = source_indices(setting, [7])[0]
    keys = _keys(study.seed, idx)
    root = jax.random.PRNGKey(study.seed)
    for i, s in enumerate(SOURCES):
        k = 7 if s in setting.vary else 0
        want = jax.random.fold_in(jax.random.fold_in(root, i), k)
        np.testing.assert_array_equal(keys[s], want)


def test_seed_sources_not_varied_stay_at_index_zero():
    base = tiny("article/example2", seeds=3, vary=["init"])
    runs = _collect(base)
    key = base.settings()[0].key
    # data and order fixed: the three runs differ by init only, and all differ
    accs = [runs[(key, k)].metrics["train_loss"] for k in range(3)]
    assert len(set(accs)) == 3
    none = tiny("article/example2", seeds=3, vary=[])
    runs = _collect(none)
    accs = [runs[(key, k)].metrics["train_loss"] for k in range(3)]
    assert len(set(accs)) == 1


def test_divergence_is_recorded_never_raised():
    # a deep linear net under plain SGD: lr 10 blows up to inf/NaN within a few steps
    study = tiny("article/example2", seeds=3, train__optimizer="sgd",
                 model__hidden=[32, 32, 32], model__activation="linear",
                 factors={"learning_rate": [0.01, 10.0]})
    runs = _collect(study)
    calm = [r for (s, _), r in runs.items() if "0.01" in s]
    wild = [r for (s, _), r in runs.items() if "10.0" in s]
    assert not any(r.diverged for r in calm)
    assert all(r.metrics["train_accuracy"] is not None for r in calm)
    assert all(r.diverged for r in wild)
    assert all(r.diverged_step is not None and r.diverged_step >= 0 for r in wild)
    assert all(r.metrics["train_accuracy"] is None and r.metrics["diverged"] == 1.0
               for r in wild)


def test_epoch_accuracy_is_running_mean_over_last_epoch():
    study = tiny("article/example2", seeds=2)
    runs = _collect(study)
    for r in runs.values():
        assert r.metrics["epoch_accuracy"] == pytest.approx(r.curves["accuracy"][-1])
        assert len(r.curves["loss"]) == study.train.epochs
        # 96 examples: running accuracy is a multiple of 1/96
        assert (r.metrics["epoch_accuracy"] * 96) == pytest.approx(
            round(r.metrics["epoch_accuracy"] * 96), abs=1e-3)
