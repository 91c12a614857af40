"""CLI and store contracts: exit codes, one-line errors, nothing written on bad input,
resume without losing or duplicating a run, CSV export."""

import csv
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from jaxstab.store import Store

TINY = """
name = "tiny/lr"
description = "a tiny study"
seeds = 6
vary = ["data", "init", "order"]
main_metric = "train_accuracy"
[data]
name = "article_uniform"
n_samples = 64
[model]
name = "mlp"
hidden = [8]
[train]
optimizer = "keras_adam"
epochs = 2
batch_size = 16
[factors]
learning_rate = [0.001, 0.1]
"""


@pytest.fixture
def study_file(tmp_path):
    p = tmp_path / "tiny.toml"
    p.write_text(TINY)
    return p


def export(cli, store):
    rc, out, err = cli("export", "--store", store)
    assert rc == 0, err
    return list(csv.DictReader(io.StringIO(out)))


def test_run_export_and_resume(cli, study_file, tmp_path):
    rc, out, err = cli("run", study_file, "--store", "r.sqlite", "--chunk-size", "5")
    assert rc == 0, err
    assert "tiny/lr: 12 runs trained, 0 already in the store" in out
    assert 'learning_rate=0.001' in out and "[" in out  # mean [interval]
    assert out.strip().splitlines()[-1].startswith("12 runs in ")
    rows = export(cli, "r.sqlite")
    assert {"study", "setting", "seed", "metric", "value"} <= set(rows[0])
    runs = {(r["setting"], r["seed"]) for r in rows}
    assert len(runs) == 12
    assert json.loads(rows[0]["setting"]).keys() == {"learning_rate"}
    metrics = {r["metric"] for r in rows}
    assert {"epoch_accuracy", "train_accuracy", "train_loss", "diverged"} <= metrics
    # rerun: nothing trained again; more seeds: only the new ones
    rc, out, _ = cli("run", study_file, "--store", "r.sqlite")
    assert "0 runs trained, 12 already in the store" in out
    rc, out, _ = cli("run", study_file, "--store", "r.sqlite", "--seeds", "8")
    assert "4 runs trained, 12 already in the store" in out
    rows2 = export(cli, "r.sqlite")
    assert len(rows2) == len(rows) * 16 // 12
    old = {(r["setting"], r["seed"], r["metric"]): r["value"] for r in rows}
    assert all(old[k] == r["value"] for r in rows2
               if (k := (r["setting"], r["seed"], r["metric"])) in old)
    # export to a file
    rc, _, err = cli("export", "--store", "r.sqlite", "--out", "x.csv")
    assert rc == 0 and (tmp_path / "x.csv").read_text().startswith("study,")
    # to a named pipe (as to /dev/null or /dev/stdout): written into, not replaced
    import stat
    import threading

    os.mkfifo(tmp_path / "pipe")
    got = []
    reader = threading.Thread(target=lambda: got.append((tmp_path / "pipe").read_text()),
                              daemon=True)
    reader.start()
    rc, _, err = cli("export", "--store", "r.sqlite", "--out", "pipe")
    reader.join(timeout=60)
    assert rc == 0, err
    assert stat.S_ISFIFO(os.stat(tmp_path / "pipe").st_mode)
    assert got == [(tmp_path / "x.csv").read_text()]


def test_changed_study_is_not_mixed_with_old_results(cli, study_file, tmp_path):
    assert cli("run", study_file, "--store", "r.sqlite", "--seeds", "2")[0] == 0
    study_file.write_text(TINY.replace("epochs = 2", "epochs = 1"))
    rc, out, _ = cli("run", study_file, "--store", "r.sqlite", "--seeds", "2")
    assert "4 runs trained, 0 already" in out
    store = Store(tmp_path / "r.sqlite")
    assert len(store.studies()) == 2
    res = store.results(store.latest("tiny/lr"))
    assert res.study.train.epochs == 1 and all(len(s.seeds) == 2 for s in res.settings)


@pytest.mark.parametrize("args, message", [
    (["run", "no-such-study"], r"unknown study `no-such-study`"),
    (["run", "article/example2", "--seeds", "0"], r"--seeds: expected a positive integer"),
    (["run", "article/example2", "--seeds", "x"], r"--seeds: expected a positive integer"),
    (["run", "article/example2", "--chunk-size", "-1"], r"--chunk-size: expected a positive"),
    (["run", "article/example2", "--store", "no/such/dir/r.sqlite"], r"--store: "),
    (["run"], r"the following arguments are required: study"),
    (["frobnicate"], r"invalid choice: 'frobnicate'"),
    (["export", "--store", "missing.sqlite"], r"--store: no results store at missing.sqlite"),
])
def test_usage_errors_exit_2_with_one_line_and_write_nothing(cli, tmp_path, args, message):
    import re

    before = set(os.listdir(tmp_path))
    rc, out, err = cli(*args)
    assert rc == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("jaxstab: error: ")
    assert re.search(message, lines[0]), lines[0]
    assert set(os.listdir(tmp_path)) == before


def test_bad_study_file_writes_nothing(cli, tmp_path):
    (tmp_path / "bad.toml").write_text(TINY.replace("[train]", "[train]\nlerning_rate = 1"))
    rc, _, err = cli("run", "bad.toml", "article/example2")
    assert rc == 2 and "did you mean `learning_rate`" in err
    assert not (tmp_path / "results.sqlite").exists()


def test_corrupt_store_is_a_user_error_and_left_alone(cli, study_file, tmp_path):
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    rc, _, err = cli("run", study_file, "--store", bad)
    assert rc == 2 and "is not a usable results store" in err
    assert bad.read_bytes() == b"this is not sqlite" * 100


def test_kill_and_rerun_completes_every_run_exactly_once(cli, study_file, tmp_path):
    """SIGKILL mid-sweep (after some chunks committed), rerun: same export as an
    uninterrupted run, every run once."""
    store = tmp_path / "k.sqlite"
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    text = TINY.replace("seeds = 6", "seeds = 100")
    study_file.write_text(text)
    proc = subprocess.Popen([sys.executable, "-m", "jaxstab.cli", "run", str(study_file),
                             "--store", str(store), "--chunk-size", "2"], cwd=tmp_path,
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    n = 0
    while time.time() < deadline and proc.poll() is None:
        time.sleep(0.01)
        if store.exists():
            try:
                with sqlite3.connect(store, timeout=1) as db:
                    n = db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
            except sqlite3.Error:
                continue
            if n >= 8:
                proc.send_signal(signal.SIGKILL)
                break
    proc.wait(timeout=60)
    assert 8 <= n < 200, "the kill should land mid-sweep"
    rc, out, err = cli("run", study_file, "--store", store, "--chunk-size", "2")
    assert rc == 0, err
    resumed = export(cli, store)
    rc, _, err = cli("run", study_file, "--store", "clean.sqlite", "--chunk-size", "7")
    clean = export(cli, "clean.sqlite")
    key = lambda r: (r["setting"], r["seed"], r["metric"])  # noqa: E731
    assert sorted(map(key, resumed)) == sorted(map(key, clean))
    assert len({(r["setting"], r["seed"]) for r in resumed}) == 200
    want = {key(r): r["value"] for r in clean}
    for r in resumed:
        a, b = r["value"], want[key(r)]
        assert (a == b) or abs(float(a) - float(b)) < 1e-5
