"""Reliability (issue 14): results never mixed up, every mistake caught before training,
every stop clean. One test per finding; the bad-input corpus (tests/corpus) holds the
load-time cases (names, duplicate spellings, run counts, claims)."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import jaxstab
from jaxstab.errors import UserError
from jaxstab.store import Store

from conftest import count_runs

TINY = """
name = "{name}"
seeds = {seeds}
vary = ["data", "init", "order"]
main_metric = "train_accuracy"
[data]
name = "article_uniform"
n_samples = 48
[model]
name = "mlp"
hidden = [4]
[train]
optimizer = "sgd"
epochs = {epochs}
batch_size = 16
[factors]
learning_rate = [0.01, 0.1]
"""


def tiny(tmp_path, name="rel/tiny", seeds=3, epochs=1, file="tiny.toml"):
    p = tmp_path / file
    p.write_text(TINY.format(name=name, seeds=seeds, epochs=epochs))
    return p


def _ok(result):
    rc, out, err = result
    assert rc == 0, err
    return out


def test_a_renamed_copy_is_another_study(cli, tmp_path):
    _ok(cli("run", tiny(tmp_path)))
    out = _ok(cli("run", tiny(tmp_path, name="rel/renamed", file="renamed.toml")))
    assert "rel/renamed: 6 runs trained, 0 already in the store" in out
    assert "rel/tiny" in _ok(cli("compare", "rel/tiny"))
    names = {r.split(",")[0] for r in _ok(cli("export")).splitlines()[1:]}
    assert names == {"rel/tiny", "rel/renamed"}


def test_compare_shows_the_version_asked_for_or_the_most_recently_run(cli, tmp_path):
    a = tiny(tmp_path, epochs=1, file="a.toml")
    b = tiny(tmp_path, epochs=2, file="b.toml")
    _ok(cli("run", a))
    _ok(cli("run", b))
    _ok(cli("run", a, "--seeds", 4))  # a is now the most recently run version
    fa, fb = (jaxstab.load_study(str(p)).fingerprint for p in (a, b))
    got = json.loads(_ok(cli("compare", "rel/tiny", "--json")))
    assert got["fingerprint"] == fa and got["other_versions"] == [fb]
    assert json.loads(_ok(cli("compare", b, "--json")))["fingerprint"] == fb
    got = json.loads(_ok(cli("compare", "rel/tiny", "--json", "--fingerprint", fb)))
    assert got["fingerprint"] == fb
    text = _ok(cli("compare", "rel/tiny"))
    assert f"other versions in the store: {fb} (--fingerprint selects one)" in text
    c = tiny(tmp_path, epochs=3, file="c.toml")
    rc, _, err = cli("compare", c)
    assert rc == 2 and "this version of rel/tiny" in err and "has no runs" in err


def test_too_many_runs_and_too_large_a_model_are_refused_before_anything_is_written(
        cli, tmp_path):
    p = tmp_path / "big.toml"
    p.write_text(TINY.format(name="rel/big", seeds=2, epochs=1).replace(
        "hidden = [4]", "hidden = [1000000, 1000000]"))
    rc, _, err = cli("run", p, "--store", "t.sqlite")
    assert rc == 2 and err.startswith("jaxstab: error: model: one run of") and \
        "parameters with gradients and optimizer state" in err
    assert not (tmp_path / "t.sqlite").exists()


def test_seed_override_is_checked_against_the_run_limit(cli, tmp_path):
    p = tmp_path / "grid.toml"
    p.write_text(TINY.format(name="rel/grid", seeds=2, epochs=1).replace(
        "learning_rate = [0.01, 0.1]",
        "learning_rate = [" + ", ".join(f"0.0{i}" for i in range(10, 21)) + "]"))
    rc, _, err = cli("run", p, "--seeds", 10_000_000, "--store", "s.sqlite")
    assert rc == 2 and err.strip() == (
        "jaxstab: error: --seeds: 10,000,000 seeds x 11 settings = 110,000,000 runs, "
        "allowed at most 100,000,000 per study")
    assert not (tmp_path / "s.sqlite").exists()


@pytest.mark.parametrize("edit, message", [
    ('name = "mlp"', "claims[0].metric: `grad_ratio` is not recorded by the claim"),
])
def test_a_claim_on_a_metric_never_recorded_is_refused_at_load(cli, tmp_path, edit, message):
    p = tmp_path / "claim.toml"
    p.write_text(TINY.format(name="rel/claim", seeds=2, epochs=1) + (
        '[[claims]]\ntext = "t"\nmetric = "grad_ratio"\nkind = "mean"\n'
        'direction = "greater"\na = { learning_rate = 0.1 }\nb = { learning_rate = 0.01 }\n'))
    rc, _, err = cli("run", p, "--store", "s.sqlite")
    assert rc == 2 and message in err and not (tmp_path / "s.sqlite").exists()
    q = tmp_path / "notest.toml"
    q.write_text(p.read_text().replace('"grad_ratio"', '"test_accuracy"'))
    rc, _, err = cli("run", q, "--store", "s.sqlite")
    assert rc == 2 and "claims[0].metric: `test_accuracy` is not recorded by the claim" in err


def test_a_study_without_factors_runs_and_compares(cli, tmp_path):
    p = tmp_path / "one.toml"
    p.write_text(TINY.format(name="rel/one", seeds=3, epochs=1).replace(
        "[factors]\nlearning_rate = [0.01, 0.1]\n", ""))
    _ok(cli("run", p))
    for metric in ("train_accuracy", "diverged"):
        out = _ok(cli("compare", "rel/one", "--metric", metric))
        assert out.startswith("rel/one (")


@pytest.mark.parametrize("sig, code", [(signal.SIGINT, 130), (signal.SIGTERM, 143)])
def test_a_signal_stops_within_one_chunk_with_its_exit_code(tmp_path, sig, code):
    p = tiny(tmp_path, seeds=2000)
    store = tmp_path / "s.sqlite"
    cmd = [sys.executable, "-m", "jaxstab.cli", "run", str(p), "--store", str(store),
           "--chunk-size", "4"]
    proc = subprocess.Popen(cmd, cwd=tmp_path, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None and count_runs(store) < 4:
        time.sleep(0.05)
    # frozen at once, so that the signal lands mid-sweep however fast the runs commit
    proc.send_signal(signal.SIGSTOP)
    proc.send_signal(sig)
    proc.send_signal(signal.SIGCONT)
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == code, err
    assert "resume with: jaxstab run" in err.strip().splitlines()[-1]
    n = count_runs(store)
    assert 0 < n < 4000 and n % 4 == 0  # whole chunks only
    with sqlite3.connect(store) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"


def test_a_store_that_cannot_be_written_is_still_readable(cli, tmp_path, monkeypatch):
    _ok(cli("run", tiny(tmp_path)))
    store = tmp_path / "results.sqlite"
    for extra in ("-wal", "-shm"):
        Path(f"{store}{extra}").unlink(missing_ok=True)
    real = __import__("os").access
    monkeypatch.setattr("os.access",
                        lambda path, mode: False if mode & 2 else real(path, mode))
    db = Store(store, create=False)  # as in a read-only folder: no -shm to create
    try:
        res = db.results(db.latest("rel/tiny"))
        assert sum(len(s.seeds) for s in res.settings) == 6
    finally:
        db.close()
    assert not Path(f"{store}-shm").exists()


def test_resume_pads_to_the_earlier_chunk_size_and_is_bit_identical(tmp_path):
    study = jaxstab.load_study(str(tiny(tmp_path, seeds=5)))
    calls = []

    def stop():
        calls.append(1)
        return len(calls) == 2  # after the second chunk

    with pytest.raises(KeyboardInterrupt):
        jaxstab.run_study(study, store=tmp_path / "a.sqlite", chunk_size=3,
                          should_stop=stop)
    jaxstab.run_study(study, store=tmp_path / "a.sqlite")  # no --chunk-size: pads to 3
    jaxstab.run_study(study, store=tmp_path / "b.sqlite", chunk_size=3)
    a = jaxstab.results(tmp_path / "a.sqlite", study)
    b = jaxstab.results(tmp_path / "b.sqlite", study)
    for sa, sb in zip(a.settings, b.settings):
        for m in sa.metrics:
            np.testing.assert_array_equal(sa.metrics[m], sb.metrics[m])
    assert {c["env"]["chunk_size"] for c in a.chunks} == {3}


def test_compare_a_study_file_uses_its_own_claims_without_a_run(cli, tmp_path):
    p = tiny(tmp_path)
    _ok(cli("run", p))
    claim = ('[[claims]]\ntext = "{t}"\nmetric = "train_accuracy"\nkind = "mean"\n'
             'direction = "two-sided"\na = {{ learning_rate = 0.1 }}\n'
             'b = {{ learning_rate = 0.01 }}\n')
    p.write_text(p.read_text() + claim.format(t="The two rates differ"))
    got = json.loads(_ok(cli("compare", p, "--json")))
    assert [v["claim"] for v in got["verdicts"]] == ["The two rates differ"]
    assert got["verdicts"][0]["direction"] == "two-sided"
    assert got["verdicts"][0]["status"] in ("holds", "inconclusive")
    assert "0 runs trained" not in _ok(cli("compare", p))  # nothing was trained


def test_report_names_never_collide_or_start_with_a_dash():
    from jaxstab.report._model import slugs

    got = slugs(["-rf", "é/x", "è/x", "a" * 120, "index"])
    assert len(set(v.lower() for v in got.values())) == 5
    assert not any(v.startswith(("-", ".")) for v in got.values())


def test_a_report_writes_all_its_pages_or_none(cli, tmp_path, monkeypatch):
    from jaxstab.report import _write

    _ok(cli("run", tiny(tmp_path)))
    _ok(cli("run", tiny(tmp_path, name="rel/other", file="other.toml")))
    out = tmp_path / "rep"
    out.mkdir()
    (out / "index.html").write_text("old")
    real, calls = _write._write, []

    def full_disk(path, text):
        calls.append(path)
        if len(calls) == 3:
            raise OSError(28, "No space left on device")
        real(path, text)

    monkeypatch.setattr(_write, "_write", full_disk)
    with pytest.raises(UserError, match=r"--out: cannot write the report into .*No space"):
        _write.write_report(tmp_path / "results.sqlite", out, jobs=1)
    assert sorted(p.name for p in out.iterdir()) == ["index.html"]
    assert (out / "index.html").read_text() == "old"
