"""A user's own experiment through the same engine, store, statistics and report:
a training function (``task = "module:function"``), a Flax module on a CSV file, and
the mistakes user code makes, each caught before training as one line (exit 2)."""

import json
import shutil
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import jaxstab
from jaxstab.study import Study
from jaxstab.loader import load_study
from jaxstab.sweep import execute, sweep

from conftest import count_runs

PKG = Path(__file__).parent / "userpkg"


@pytest.fixture
def pkg(tmp_path):
    """A copy of the user's package (their folder, their TOML files) in tmp_path."""
    dst = tmp_path / "userpkg"
    shutil.copytree(PKG, dst, ignore=shutil.ignore_patterns("__pycache__"))
    return dst


def _collect(study, **kw):
    recs = []
    sweep(study, on_chunk=lambda r, s: recs.extend(r), **kw)
    return {(r.setting, r.seed): r for r in recs}


def test_task_runs_through_cli_compare_report_and_resumes(cli, pkg, tmp_path):
    rc, out, err = cli("run", pkg / "task.toml", "--store", "s.sqlite")
    assert rc == 0, err
    assert "user/moons: 24 runs trained, 0 already in the store" in out
    rc, out, _ = cli("run", pkg / "task.toml", "--store", "s.sqlite")
    assert rc == 0 and "0 runs trained, 24 already in the store" in out
    rc, out, err = cli("compare", pkg / "task.toml", "--store", "s.sqlite", "--json")
    assert rc == 0, err
    got = json.loads(out)
    assert got["study"] == "user/moons" and len(got["verdicts"]) == 1
    assert got["verdicts"][0]["claim"].startswith("A larger learning rate")
    rc, out, err = cli("report", "--store", "s.sqlite", "--out", "rep")
    assert rc == 0, err
    page = (tmp_path / "rep" / "user-moons.html").read_text()
    assert "A larger learning rate gives a higher test accuracy" in page


def test_run_study_reads_back_numpy_arrays_per_setting(pkg, tmp_path):
    study = jaxstab.load_study(str(pkg / "task.toml"))
    report = jaxstab.run_study(study, store=tmp_path / "s.sqlite", seeds=3)
    assert report.runs == 12 and report.saved == 12
    res = jaxstab.results(tmp_path / "s.sqlite", study)
    rows = res.values("test_accuracy")
    assert [f for f, _ in rows] == [{"learning_rate": lr, "width": w}
                                    for lr in (0.05, 0.5) for w in (4, 8)]
    assert all(isinstance(v, np.ndarray) and v.shape == (3,) for _, v in rows)
    assert res.setting(learning_rate=0.5, width=8).curves["loss"].shape == (3, 3)
    cmp = jaxstab.compare(tmp_path / "s.sqlite", study)
    assert "A larger learning rate" in cmp.format()


def test_user_task_vmapped_equals_looped_and_chunking_changes_nothing(pkg):
    study = load_study(str(pkg / "task.toml"))
    for group in {s.static for s in study.settings()}:
        ss = [s for s in study.settings() if s.static == group for _ in range(3)]
        ks = [k for s in study.settings() if s.static == group for k in range(3)]
        vm = execute(ss, ks, study_seed=study.seed)
        loop = execute(ss, ks, study_seed=study.seed, vmapped=False)
        for k in vm["metrics"]:
            np.testing.assert_allclose(vm["metrics"][k], loop["metrics"][k], rtol=2e-5,
                                       atol=2e-6, err_msg=k)
        np.testing.assert_allclose(vm["curves"]["loss"], loop["curves"]["loss"], rtol=2e-5)
    a = _collect(study, seeds=3)
    b = _collect(study, seeds=3, chunk_size=2)
    assert a.keys() == b.keys() and len(a) == 12
    for key, r in a.items():
        for m, v in r.metrics.items():
            np.testing.assert_allclose(b[key].metrics[m], v, rtol=1e-5, atol=1e-6)


def test_user_task_second_call_does_not_recompile(pkg, caplog):
    import logging

    import jax

    study = load_study(str(pkg / "task.toml"))
    sweep(study, seeds=2, chunk_size=4)
    with jax.log_compiles(True), caplog.at_level(logging.WARNING):
        caplog.clear()
        sweep(study, seeds=2, chunk_size=4)
    assert not [r for r in caplog.records if "Compiling" in r.getMessage()]


def test_flax_module_on_csv_with_optax_by_name(pkg, tmp_path):
    study = load_study(str(pkg / "model.toml"))
    s = study.settings()[0]
    assert s.data.name == "file" and s.data.n_samples == 120 and s.data.n_features == 4
    ss, ks = [s] * 3, [0, 1, 2]
    vm = execute(ss, ks, study_seed=study.seed)
    loop = execute(ss, ks, study_seed=study.seed, vmapped=False)
    np.testing.assert_allclose(vm["metrics"]["test_accuracy"],
                               loop["metrics"]["test_accuracy"], atol=1e-6)
    assert np.isfinite(vm["metrics"]["train_loss"]).all()
    report = jaxstab.run_study(study, store=tmp_path / "s.sqlite")
    assert report.runs == 8
    res = jaxstab.results(tmp_path / "s.sqlite", study)
    assert res.study.data.digest == study.data.digest
    # the stored configuration says what ran: the module, its args and the file's hash
    assert res.study.model.name == "models:ResMLP" and res.study.model.args == {
        "width": 8, "depth": 1}


def test_identity_is_the_task_its_source_and_its_config(pkg, tmp_path):
    base = load_study(str(pkg / "task.toml")).to_dict()
    fps = {Study(**{**_kw(base), "config": {"width": 8, "epochs": 4}}).fingerprint,
           Study(**_kw(base)).fingerprint}
    assert len(fps) == 2
    # the same task file with one edit elsewhere in its module: a new fingerprint
    text = (pkg / "tasks.py").read_text()
    (pkg / "tasks.py").write_text(text + "\n# an edit\n")
    copy = tmp_path / "copy.toml"
    copy.write_text((pkg / "task.toml").read_text())
    code = ("import sys; from jaxstab.loader import load_study; "
            f"print(load_study({str(pkg / 'task.toml')!r}).fingerprint)")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() not in fps


def _kw(d):
    from jaxstab.loader import study_from_dict

    s = study_from_dict(d)
    return {f: getattr(s, f) for f in ("name", "task", "config", "factors", "vary",
                                       "seeds")}


def test_python_function_as_task():
    sys.path.insert(0, str(PKG))
    try:
        import tasks
    finally:
        sys.path.remove(str(PKG))
    s = Study(name="py/moons", task=tasks.make_train, config={"width": 4, "epochs": 1},
              factors=(("learning_rate", (0.1, 0.2)),), seeds=2)
    s.check()
    assert s.task == "tasks:make_train" and s.float_factors == {"learning_rate"}
    recs = _collect(s)
    assert len(recs) == 4 and all(r.metrics["test_accuracy"] is not None
                                  for r in recs.values())


def test_divergence_is_data_for_a_user_task(pkg):
    s = Study(name="div", task="tasks:make_train_diverges", seeds=16,
              factors=(("learning_rate", (0.1,)),))
    recs = _collect(s)
    div = [r for r in recs.values() if r.diverged]
    assert 0 < len(div) < 16
    assert all(r.diverged_step == 2 and r.metrics["test_accuracy"] is None for r in div)


def _task_toml(pkg, task, extra=""):
    p = pkg / "bad.toml"
    p.write_text(f'name = "bad"\ntask = "{task}"\nseeds = 2\n[config]\nwidth = 4\n'
                 f'epochs = 1\n[factors]\nlearning_rate = [0.1, 0.2]\n{extra}')
    return p


@pytest.mark.parametrize("task, message", [
    ("nosuchmodule:make_train", r"task: module `nosuchmodule` not found"),
    ("tasks:nosuch", r"task: `tasks` has no `nosuch`"),
    ("tasks", r"task: expected `module:name`, got 'tasks'"),
    ("tasks:not_callable", r"task: `tasks:not_callable` is not a function"),
    ("tasks:make_train_not_a_dict", r"task: train\(keys, hparams\) returned "
                                    r"ShapeDtypeStruct, expected a non-empty dict"),
    ("tasks:make_train_matrix", r"task: train returned `test_accuracy` of shape \(2, 2\): "
                                r"a metric is 0-d, a curve 1-d"),
    ("tasks:make_train_side_effect", r"task: train\(keys, hparams\) cannot be traced by "
                                     r"JAX .*TracerBoolConversionError"),
])
def test_mistakes_in_user_code_are_one_line_exit_2_nothing_written(cli, pkg, tmp_path,
                                                                   task, message):
    import re

    rc, out, err = cli("run", _task_toml(pkg, task), "--store", "s.sqlite")
    assert rc == 2, err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("jaxstab: error: "), err
    assert re.search(message, lines[0]), lines[0]
    assert "Traceback" not in err and not (tmp_path / "s.sqlite").exists()


@pytest.mark.parametrize("edit, message", [
    ('[data]\npath = "missing.csv"', r"data.path: cannot read .*missing.csv"),
    ('[data]\npath = "data.csv"\ntarget = "nope"', r"data.target: no column `nope`"),
    ('[model]\nname = "models:NotAModule"', r"model.name: `models:NotAModule` is not a Flax"),
    ('[model]\nname = "models:ResMLP"\nargs = { nope = 1 }', r"model.args: .*nope"),
    ('[train]\noptimizer = "lionn"', r"train.optimizer: unknown value 'lionn'.*did you mean "
                                     r"`lion`"),
    ('[train]\noptimizer = "lion"\noptimizer_args = { b3 = 1 }',
     r"train.optimizer_args.b3: unknown value 'b3'"),
    ('[train]\nwarmup_steps = 3', r"train.warmup_steps: goes with schedule"),
    ('[model]\nactivation = "relux"', r"model.activation: unknown value 'relux'"),
    ('[model]\nname = "models:ResMLP"\ndropout = 0.5',
     r"model.dropout: does not apply to a user's module `models:ResMLP`; give its "
     r"settings in `args`"),
    ('[train]\noptimizer = "lion"\nweight_decay = 0.01',
     r"train.weight_decay: optax's `lion` takes it in optimizer_args \(or as a factor\)"),
])
def test_mistakes_in_builtin_components_are_one_line(cli, pkg, tmp_path, edit, message):
    import re

    p = pkg / "bad.toml"
    body = edit if edit.startswith("[data]") else f'[data]\npath = "data.csv"\n' \
        f'target = "label"\ntest_size = 0.25\n{edit}'
    p.write_text(f'name = "bad"\nseeds = 2\n{body}\n')
    rc, out, err = cli("run", p, "--store", "s.sqlite")
    assert rc == 2 and re.search(message, err), err
    assert len(err.strip().splitlines()) == 1 and not (tmp_path / "s.sqlite").exists()


def test_claim_on_a_metric_the_task_never_records_is_caught_before_training(cli, pkg,
                                                                              tmp_path):
    claim = ('[[claims]]\ntext = "t"\nmetric = "f1"\nkind = "mean"\ndirection = "greater"\n'
             'a = { learning_rate = 0.1 }\nb = { learning_rate = 0.2 }\n')
    rc, _, err = cli("run", _task_toml(pkg, "tasks:make_train", claim), "--store", "s.sqlite")
    assert rc == 2 and "claims[0].metric: `f1` is not recorded by the claim" in err
    assert not (tmp_path / "s.sqlite").exists()


def test_resume_after_a_kill_trains_each_run_once(pkg, tmp_path):
    store = tmp_path / "s.sqlite"
    cmd = [sys.executable, "-m", "jaxstab.cli", "run", str(pkg / "task.toml"),
           "--store", str(store), "--chunk-size", "2"]
    p = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.DEVNULL,
                         stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    n = 0
    while time.time() < deadline and p.poll() is None and n < 2:
        time.sleep(0.2)
        n = count_runs(store)
    p.kill()
    p.wait()
    assert 0 < n < 24 or p.returncode == 0
    out = subprocess.run(cmd, cwd=tmp_path, capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    with sqlite3.connect(store) as db:
        assert db.execute("SELECT COUNT(*), COUNT(DISTINCT setting || seed) FROM runs"
                          ).fetchone() == (24, 24)
    ref = tmp_path / "ref.sqlite"
    subprocess.run(cmd[:5] + ["--store", str(ref), "--chunk-size", "2"], cwd=tmp_path,
                   check=True, capture_output=True)
    a = jaxstab.results(store, "user/moons").values("test_accuracy")
    b = jaxstab.results(ref, "user/moons").values("test_accuracy")
    assert [f for f, _ in a] == [f for f, _ in b]
    for (_, x), (_, y) in zip(a, b):
        np.testing.assert_array_equal(x, y)


def test_optax_by_name_keeps_optax_defaults_unless_swept():
    from jaxstab.builtin.optim import _factory

    assert _factory("lion", ("learning_rate",))[1] == ("learning_rate",)
    assert _factory("lion", ("learning_rate", "weight_decay"))[1] == (
        "learning_rate", "weight_decay")
    assert _factory("adamw")[1] == ("learning_rate", "weight_decay")  # the registry's own


def test_two_study_folders_with_a_module_of_one_name_stay_apart(cli, tmp_path):
    for name, value in (("a", 1.0), ("b", 2.0)):
        d = tmp_path / name
        d.mkdir()
        (d / "tasks.py").write_text(
            "import jax.numpy as jnp\n\ndef make_train(config):\n"
            f"    def train(keys, hparams):\n        return {{'score': jnp.array({value})}}\n"
            "    return train\n")
        (d / "s.toml").write_text(f'name = "probe/{name}"\ntask = "tasks:make_train"\n'
                                  'seeds = 2\nmain_metric = "score"\n')
    rc, out, err = cli("run", tmp_path / "a" / "s.toml", tmp_path / "b" / "s.toml")
    assert rc == 0, err
    assert "probe/b: 2 runs trained, 0 already in the store" in out
    rows = [r.split(",") for r in cli("export")[1].splitlines()[1:]]
    scores = {(r[0], r[4]): float(r[5]) for r in rows}
    assert scores[("probe/a", "score")] == 1.0 and scores[("probe/b", "score")] == 2.0


INT_TASK = '''
import jax


def make_train(config):
    def train(keys, hparams):
        return {"score": jax.random.normal(keys["init"]) * hparams["learning_rate"]}
    return train
'''


def test_integer_factor_values_say_they_make_the_factor_static(tmp_path):
    """`learning_rate = [3, 30]` is a static factor (config, not hparams): the task's
    KeyError and a claim's float value both say so."""
    from jaxstab.errors import UserError

    (tmp_path / "inttask.py").write_text(INT_TASK)
    body = ('name = "int/lr"\ntask = "inttask:make_train"\nseeds = 2\nvary = ["init"]\n'
            'main_metric = "score"\n[factors]\nlearning_rate = [3, 30]\n')
    (tmp_path / "a.toml").write_text(body)
    with pytest.raises(UserError, match=r"^task: train\(keys, hparams\) raised KeyError: "
                       r"'learning_rate' \(factor `learning_rate` = 3 here: integer, string "
                       r"or boolean values make a factor static, given to make_train in "
                       r"config, not in hparams; write its values as floats, e\.g\. 3\.0,"):
        load_study(str(tmp_path / "a.toml")).check()
    (tmp_path / "b.toml").write_text(
        body + '[[claims]]\ntext = "t"\nmetric = "score"\nkind = "mean"\ndirection = "greater"\n'
               'a = { learning_rate = 3e-3 }\n'
               'b = { learning_rate = 3 }\n')
    with pytest.raises(UserError, match=r"^claims\.a: learning_rate = 0\.003 is not one of "
                       r"the factor's values \(3, 30: integers, which make `learning_rate` "
                       r"a static factor; write floats, e\.g\. 3\.0, for a traced "
                       r"hyperparameter\)$"):
        load_study(str(tmp_path / "b.toml"))


SOURCE_TASK = '''
import jax


def make_train(config):
    def train(keys, hparams):
        a = jax.random.normal(keys["init"])
        b = 3.0 * jax.random.normal(keys["order"])
        return {"score": a + b}
    return train
'''


def test_compare_of_a_seed_source_study_shows_shares_with_intervals_and_no_best(
        cli, tmp_path):
    (tmp_path / "srctask.py").write_text(SOURCE_TASK)
    (tmp_path / "src.toml").write_text(
        'name = "mine/sources"\ntask = "srctask:make_train"\nseeds = 16\n'
        'main_metric = "score"\n[factors]\nvary = [["init"], ["order"], ["init", "order"]]\n')
    rc, out, err = cli("run", "src.toml")
    assert rc == 0, err
    assert "best" not in out  # the run's summary names no best setting
    rc, out, err = cli("compare", "src.toml")
    assert rc == 0, err
    assert "variance by seed source (score; share: of the summed one-source variances, " \
           "with its 95% interval)" in out
    assert "ranking (" not in out and "no ranking: the factor `vary`" in out
    rc, out, err = cli("compare", "src.toml", "--json")
    d = json.loads(out)
    assert d["ranking"] is None
    shares = {tuple(r["sources"]): r["share_interval"] for r in d["variance"]}
    assert shares[("init", "order")] is None
    order = shares[("order",)]
    assert order["low"] < 0.9 < order["high"]  # 9 / (1 + 9): order's true share
    assert order["point"] + shares[("init",)]["point"] == pytest.approx(1.0)
