"""Reliability round 3 (issue 28): every size a user controls is checked against a budget
before work or memory is spent (the budgets are lowered here through their
``JAXSTAB_MAX_*`` variables, so each test is small), and every failure is one clear line
with nothing half-written. One test (or a few) per row of the issue's table."""

from __future__ import annotations

import csv
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from jaxstab import cli
from jaxstab.store import Store
from jaxstab.loader import study_from_dict

FIXTURES = Path(__file__).parent / "fixtures"


def run_cli(capsys, *args):
    capsys.readouterr()
    rc = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


def one_line(rc, err, pattern):
    assert rc == 2, err
    lines = err.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("jaxstab: error: "), lines[0]
    assert re.search(pattern, lines[0]), lines[0]
    return lines[0]


def write_csv(path: Path, header, rows, **kw) -> Path:
    with open(path, "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f, lineterminator="\n", **kw)
        w.writerow(header)
        w.writerows(rows)
    return path


def exported(tmp_path: Path, store: Path) -> list[dict]:
    out = tmp_path / "export.csv"
    assert cli.main(["export", "--store", str(store), "--out", str(out)]) == 0
    with open(out, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


# ------------------------------------------------------------------- import: sizes


def test_an_import_is_sized_from_the_settings_present_not_their_grid(tmp_path, capsys,
                                                                     monkeypatch):
    # 3 factors x 1,000 values each span 10^9 grid points; 1,000 settings are present.
    rows = [[json.dumps({"a": i, "b": 2 * i, "c": f"v{i}"}), 0, 0.5] for i in range(1000)]
    f = write_csv(tmp_path / "wide.csv", ["setting", "seed", "acc"], rows)
    t0 = time.perf_counter()
    rc, out, err = run_cli(capsys, "import", f, "--study", "t/grid", "--store",
                           tmp_path / "r.sqlite")
    assert rc == 0, err
    assert "1000 runs imported" in out and "(1000 settings)" in out
    assert time.perf_counter() - t0 < 60
    # over the budget: refused in one line, counted from the rows, nothing written
    monkeypatch.setenv("JAXSTAB_MAX_SETTINGS", "500")
    rc, out, err = run_cli(capsys, "import", f, "--study", "t/grid", "--store",
                           tmp_path / "s.sqlite")
    one_line(rc, err, r"setting: more than 500 settings")
    assert not (tmp_path / "s.sqlite").exists()
    monkeypatch.delenv("JAXSTAB_MAX_SETTINGS")
    monkeypatch.setenv("JAXSTAB_MAX_ROWS", "999")  # and the rows, as they are read
    rc, out, err = run_cli(capsys, "import", f, "--study", "t/grid", "--store",
                           tmp_path / "s.sqlite")
    one_line(rc, err, r"\.csv: more than 999 rows")
    assert not (tmp_path / "s.sqlite").exists()


def test_spellings_of_one_number_are_one_setting(tmp_path, capsys):
    rows = [[json.dumps({"lr": v}), k + 4 * j, "acc", 0.1 * k]
            for j, v in enumerate((1, 1.0)) for k in range(4)]
    f = write_csv(tmp_path / "a.csv", ["setting", "seed", "metric", "value"], rows)
    store = tmp_path / "r.sqlite"
    rc, out, err = run_cli(capsys, "import", f, "--study", "t/one", "--store", store)
    assert rc == 0 and "8 runs imported" in out and "(1 settings)" in out, (out, err)
    got = exported(tmp_path, store)
    assert {r["setting"] for r in got} == {'{"lr":1.0}'} and len(got) == 16  # acc, diverged
    # the same seed under both spellings: one run given twice, refused
    rows = [[json.dumps({"lr": v}), k, "acc", 0.1 * k] for v in (1, 1.0) for k in range(4)]
    f = write_csv(tmp_path / "b.csv", ["setting", "seed", "metric", "value"], rows)
    rc, _, err = run_cli(capsys, "import", f, "--study", "t/two", "--store", store)
    one_line(rc, err, r"acc of setting \{\"lr\":1.0\} seed 0 is given twice")
    # true and 1 are equal in Python but not one value of a factor
    rows = [[json.dumps({"flag": v}), k + 4 * j, "acc", 0.5]
            for j, v in enumerate((True, 1)) for k in range(4)]
    f = write_csv(tmp_path / "c.csv", ["setting", "seed", "metric", "value"], rows)
    rc, _, err = run_cli(capsys, "import", f, "--study", "t/three", "--store", store)
    one_line(rc, err, r"factor `flag` mixes true/false with numbers")


def test_twenty_thousand_plain_labels_import_in_seconds(tmp_path, capsys):
    rows = [[f"label {i}", 0, 0.5] for i in range(20_000)]
    f = write_csv(tmp_path / "labels.csv", ["setting", "seed", "acc"], rows)
    t0 = time.perf_counter()
    rc, out, err = run_cli(capsys, "import", f, "--study", "t/labels", "--store",
                           tmp_path / "r.sqlite")
    took = time.perf_counter() - t0
    assert rc == 0 and "(20000 settings)" in out, err
    assert took < 60, took  # was > 300 s (a quadratic check of the points)


# ----------------------------------------------------------------- import: syntax


def test_an_unclosed_quote_is_one_short_line(tmp_path, capsys):
    f = tmp_path / "q.csv"
    f.write_text("setting,seed,acc\n" + "a,0,0.5\n" + '"b,1,0.5\n' + "c,2,0.5\n" * 5000)
    rc, _, err = run_cli(capsys, "import", f, "--study", "t/q", "--store",
                         tmp_path / "r.sqlite")
    line = one_line(rc, err, r"q\.csv: line 3: a quoted field is never closed")
    assert len(line) < 200  # not the rest of the file
    assert not (tmp_path / "r.sqlite").exists()


def test_a_field_over_its_budget_is_one_line(tmp_path, capsys, monkeypatch):
    # csv's own limit (131,072 characters) was an internal error; a million rows under
    # an open quote reached it
    monkeypatch.setenv("JAXSTAB_MAX_FIELD", "100")
    f = write_csv(tmp_path / "long.csv", ["setting", "seed", "acc"],
                  [["x" * 101, 0, 0.5], ["y", 0, 0.5]])
    rc, _, err = run_cli(capsys, "import", f, "--study", "t/long", "--store",
                         tmp_path / "r.sqlite")
    one_line(rc, err, r"long\.csv: line 2: a field longer than 100 characters")
    f.write_text("setting,seed,acc\n" + '"a,0,0.5\n' + "b,0,0.5\n" * 100)
    rc, _, err = run_cli(capsys, "import", f, "--study", "t/long", "--store",
                         tmp_path / "r.sqlite")
    one_line(rc, err, r"a field longer than 100 characters")
    monkeypatch.setenv("JAXSTAB_MAX_FIELD", "1000")
    f = write_csv(tmp_path / "ok.csv", ["setting", "seed", "acc"],
                  [["x" * 1000, 0, 0.5], ["y", 0, 0.5]])
    rc, out, err = run_cli(capsys, "import", f, "--study", "t/long", "--store",
                           tmp_path / "r.sqlite")
    assert rc == 0, err
    assert {json.loads(r["setting"])["setting"]
            for r in exported(tmp_path, tmp_path / "r.sqlite")} == {"x" * 1000, "y"}
    monkeypatch.setenv("JAXSTAB_MAX_FIELD", "zero")
    rc, _, err = run_cli(capsys, "import", f, "--study", "t/long", "--store",
                         tmp_path / "r.sqlite")
    one_line(rc, err, r"JAXSTAB_MAX_FIELD: expected a positive integer")


def test_a_header_with_an_empty_column_is_refused(tmp_path, capsys):
    f = tmp_path / "h.csv"
    f.write_text("setting,seed,acc,\na,0,0.5,\nb,0,0.6,\n")
    rc, _, err = run_cli(capsys, "import", f, "--study", "t/h", "--store",
                         tmp_path / "r.sqlite")
    one_line(rc, err, r"h\.csv: column 4 of the header has no name")
    f.write_text("setting,seed,acc,acc\na,0,0.5,0.5\n")
    rc, _, err = run_cli(capsys, "import", f, "--study", "t/h", "--store",
                         tmp_path / "r.sqlite")
    one_line(rc, err, r"column `acc` appears twice")


def test_a_diverged_column_in_the_wide_form_is_honoured(tmp_path, capsys):
    rows = [["a", k, 0.5 + k / 10, int(k == 1)] for k in range(3)] + \
        [["b", k, 0.4, 0] for k in range(3)]
    f = write_csv(tmp_path / "d.csv", ["setting", "seed", "acc", "diverged"], rows)
    store = tmp_path / "r.sqlite"
    rc, out, err = run_cli(capsys, "import", f, "--study", "t/d", "--store", store)
    assert rc == 0, err
    got = {(r["setting"], r["seed"], r["metric"]): r for r in exported(tmp_path, store)}
    assert {m for _, _, m in got} == {"acc", "diverged"}  # not a metric named `diverged`
    assert got[('{"setting":"a"}', "1", "acc")]["diverged"] == "1"
    assert got[('{"setting":"a"}', "1", "acc")]["value"] == ""
    assert got[('{"setting":"a"}', "0", "acc")]["diverged"] == "0"
    f = write_csv(tmp_path / "e.csv", ["setting", "seed", "acc", "diverged"],
                  [["a", 0, 0.5, "maybe"]])
    rc, _, err = run_cli(capsys, "import", f, "--study", "t/e", "--store", store)
    one_line(rc, err, r"diverged: line 2: 'maybe' is not 0/1")


LABELS = ["two\nlines", "carriage\rreturn", "line\u2028separator", "tab\there",
          "\x1b[31mred\x1b[0m", "nul\x00byte"]


def test_labels_with_line_breaks_and_control_characters_are_kept_exactly(tmp_path,
                                                                         capsys):
    rows = [[label, k, 0.5 + 0.01 * k + 0.1 * i] for i, label in enumerate(LABELS)
            for k in range(3)]
    f = write_csv(tmp_path / "l.csv", ["setting", "seed", "acc"], rows,
                  quoting=csv.QUOTE_NONNUMERIC)  # (csv quotes a lone \r only so)
    store = tmp_path / "r.sqlite"
    rc, out, err = run_cli(capsys, "import", f, "--study", "t/labels", "--store", store)
    assert rc == 0 and f"({len(LABELS)} settings)" in out, err
    assert {json.loads(r["setting"])["setting"] for r in exported(tmp_path, store)} == \
        set(LABELS)
    # on the terminal, none of them drives it: control characters are escaped
    rc, out, err = run_cli(capsys, "compare", "t/labels", "--store", store)
    assert rc == 0, err
    assert "\x1b" not in out and "\x00" not in out and "\r" not in out
    assert "\u2028" not in out
    assert r"\x1b[31mred" in out


# ---------------------------------------------------- spreadsheets and the terminal


def test_a_formula_in_a_csv_cell_is_neutralized_and_imports_back(tmp_path, capsys):
    metric = '=HYPERLINK("http://x.invalid","click")'
    rows = [["a", k, metric, 0.5 - k] for k in range(3)] + \
        [["b", k, metric, 0.25] for k in range(3)]
    f = write_csv(tmp_path / "f.csv", ["setting", "seed", "metric", "value"], rows)
    store = tmp_path / "r.sqlite"
    rc, out, err = run_cli(capsys, "import", f, "--study", "@t/formula", "--store", store)
    assert rc == 0, err
    got = exported(tmp_path, store)
    assert {r["metric"] for r in got} == {"'" + metric, "diverged"}
    assert {r["study"] for r in got} == {"'@t/formula"}
    # numbers stay numbers (a negative value is not a formula)
    assert "-1.5" in {r["value"] for r in got}
    for r in got:
        for k in ("study", "setting", "metric"):
            assert not r[k].startswith(("=", "+", "-", "@")), r
    # an export imports back to the same names (one `'` taken off)
    again = tmp_path / "again.sqlite"
    rc, out, err = run_cli(capsys, "import", tmp_path / "export.csv", "--study",
                           "t/again", "--store", again)
    assert rc == 0, err
    assert {r["metric"] for r in exported(tmp_path, again)} == {"'" + metric, "diverged"}
    from jaxstab import results

    assert set(results(again, "t/again").settings[0].metrics) == {metric, "diverged"}
    # the report's per-seed CSV too
    from jaxstab.report._runs import runs_csv

    text = runs_csv(results(store, "@t/formula"))
    assert "'" + metric.replace('"', '""') in text and "\n=" not in text


def test_export_out_follows_the_umask(tmp_path, filled_store):
    old = os.umask(0o022)
    try:
        assert cli.main(["export", "--store", str(filled_store), "--out",
                         str(tmp_path / "a.csv")]) == 0
        os.umask(0o077)
        assert cli.main(["export", "--store", str(filled_store), "--out",
                         str(tmp_path / "b.csv")]) == 0
    finally:
        os.umask(old)
    assert (tmp_path / "a.csv").stat().st_mode & 0o777 == 0o644
    assert (tmp_path / "b.csv").stat().st_mode & 0o777 == 0o600


# ------------------------------------------------------------------ import: the disk


def test_a_full_disk_during_import_writes_nothing(tmp_path, capsys, monkeypatch):
    from jaxstab.store import _sqlite as _store

    real = _store.SQLiteStore.ensure_study

    def full(self, study):
        # SQLite's own "database or disk is full", a few pages past what is there now
        pages = self.db.execute("PRAGMA page_count").fetchone()[0]
        self.db.execute(f"PRAGMA max_page_count = {pages + 2}")
        return real(self, study)

    monkeypatch.setattr(_store.SQLiteStore, "ensure_study", full)
    rows = [[f"s{i}", k, 0.5] for i in range(300) for k in range(8)]
    f = write_csv(tmp_path / "big.csv", ["setting", "seed", "acc"], rows)
    store = tmp_path / "r.sqlite"
    rc, out, err = run_cli(capsys, "import", f, "--study", "t/full", "--store", store)
    one_line(rc, err, r"--store: cannot write .*full.*nothing was imported")
    assert out == ""
    assert not any(p.name.startswith("r.sqlite") for p in tmp_path.iterdir())
    # into a store that holds other studies: they stay, the new one is not there
    monkeypatch.setattr(_store.SQLiteStore, "ensure_study", real)
    small = write_csv(tmp_path / "small.csv", ["setting", "seed", "acc"],
                      [["a", 0, 0.5], ["b", 0, 0.5]])
    assert run_cli(capsys, "import", small, "--study", "t/small", "--store", store)[0] == 0
    monkeypatch.setattr(_store.SQLiteStore, "ensure_study", full)
    rc, _, err = run_cli(capsys, "import", f, "--study", "t/full", "--store", store)
    one_line(rc, err, r"nothing was imported")
    with closing(Store(store, create=False)) as s:
        assert [n for n, _, _ in s.studies()] == ["t/small"]


# ---------------------------------------------------------------------- the report


def test_a_look_without_its_schedule_skips_that_study_only(tmp_path, capsys):
    store = tmp_path / "v1.sqlite"
    shutil.copy(FIXTURES / "store_v1.sqlite", store)
    with closing(sqlite3.connect(store)) as db:
        (fp,) = db.execute("SELECT fingerprint FROM looks").fetchone()
        (name,) = db.execute("SELECT name FROM studies WHERE fingerprint=?",
                             (fp,)).fetchone()
        names = {n for (n,) in db.execute("SELECT name FROM studies")}
    assert len(names) > 1
    rc, out, err = run_cli(capsys, "report", "--store", store, "--out", tmp_path / "rep")
    assert rc == 0, err
    lines = err.splitlines()
    assert len(lines) == 1 and name in lines[0] and "left out" in lines[0], lines
    pages = {p.name for p in (tmp_path / "rep").glob("*.html")} - {"index.html"}
    assert len(pages) == len(names) - 1
    assert f"{name.replace('/', '-')}.html" not in pages
    rc, _, err = run_cli(capsys, "compare", name, "--store", store)
    one_line(rc, err, r"recorded looks have no look schedule")


def test_long_curves_are_drawn_from_a_bounded_number_of_points(tmp_path, capsys,
                                                               monkeypatch):
    n, runs = 20_000, 16
    study = study_from_dict({"name": "t/curves", "seeds": runs, "data": {"n_samples": 64},
                             "model": {"hidden": [8]},
                             "train": {"batch_size": 16, "epochs": 1}})
    rng = np.random.default_rng(0)
    store = tmp_path / "r.sqlite"
    with closing(Store(store)) as s:
        fp = s.ensure_study(study)
        (setting,) = study.settings()
        s.write_chunk(fp, [SimpleNamespace(
            setting=setting.key, seed=k, diverged=False, diverged_step=None,
            metrics={"train_accuracy": 0.5 + k / 100, "test_accuracy": 0.5, "diverged": 0.0},
            curves={"loss": np.exp(-np.arange(n) / 5000) + rng.normal(0, 0.01, n)})
            for k in range(runs)], 1.0, {"test": True})
    from jaxstab import results

    assert np.asarray(results(store, study).settings[0].curves["loss"]).shape == (runs, n)
    monkeypatch.setenv("JAXSTAB_MAX_CURVE_POINTS_DRAWN", "100")
    rc, _, err = run_cli(capsys, "report", "--store", store, "--out", tmp_path / "rep")
    assert rc == 0, err
    page = (tmp_path / "rep" / "t-curves.html").read_bytes()
    assert len(page) < 400_000, len(page)
    data = json.loads((tmp_path / "rep" / "t-curves.json").read_text())
    (curve,) = data["settings"][0]["curves"]
    assert len(curve["median"]) == 100 and curve["epochs"][0] == 1
    assert curve["epochs"][-1] == n  # the last epoch is drawn where it is
    assert "20000" in page.decode() or "20,000" in page.decode() or \
        re.search(r">1[5-9]\d{3}<", page.decode())  # the x axis spans every epoch


# ------------------------------------------------------- workers: plans and zombies


def test_workers_with_different_chunk_sizes_share_one_plan(tmp_path):
    from jaxstab import units

    study = study_from_dict({"name": "t/plan", "seeds": 30, "data": {"n_samples": 64},
                             "model": {"hidden": [8]},
                             "train": {"batch_size": 16, "epochs": 1},
                             "factors": {"learning_rate": [0.001, 0.1]}})
    said = []
    with closing(Store(tmp_path / "r.sqlite", on_wait=said.append)) as a, \
            closing(Store(tmp_path / "r.sqlite", on_wait=said.append)) as b:
        fp = a.ensure_study(study)
        ((group, settings),) = units.groups(study)
        assert units.chunk_size(a, fp, group, settings, 60, 8, 0) == 8
        assert said == []
        # the second worker asks for 16: it cuts the same units as the first
        assert units.chunk_size(b, fp, group, settings, 60, 16, 0) == 8
        assert len(said) == 1 and "--chunk-size 16" in said[0] and "chunks of 8" in said[0]
        assert units.chunk_size(b, fp, group, settings, 60, None, 0) == 8
        ids = [u.id for u in units.units(settings, 30, 8)]
        assert len(ids) == len(set(ids)) == 8


def test_a_zombie_owner_is_dead(tmp_path):
    from jaxstab.store._leases import gone

    host = __import__("socket").gethostname()
    p = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        assert not gone(f"{host}:{p.pid}:abcd")  # alive
        p.kill()
        deadline = time.monotonic() + 10
        # killed, not reaped (no wait()): a zombie that kill(pid, 0) still finds
        while time.monotonic() < deadline:
            stat = Path(f"/proc/{p.pid}/stat").read_text()
            if stat[stat.rfind(")") + 2] == "Z":
                break
            time.sleep(0.02)
        else:
            pytest.fail("the child did not become a zombie")
        os.kill(p.pid, 0)  # still "there"
        assert gone(f"{host}:{p.pid}:abcd")
    finally:
        p.kill()
        p.wait()
    assert gone(f"{host}:{p.pid}:abcd")
    assert not gone(f"elsewhere:{p.pid}:abcd")


# ------------------------------------------------------------------ signals, user tasks


LOOP_TASK = '''
import os

import jax

MARK = os.environ["JAXSTAB_TEST_MARK"]


def _mark():
    if not os.path.exists(MARK):
        open(MARK, "w").close()


def make_train(config):
    def train(keys, hparams):
        def body(c):
            jax.debug.callback(_mark)  # says the loop is running
            return c + 1.0
        # never ends: float32 stops growing at 2**24, which is still > -1
        return {"acc": jax.lax.while_loop(lambda c: c > -1.0, body, 0.0)}
    return train
'''


def _process(tmp_path: Path, *args, **env) -> subprocess.Popen:
    # (conftest makes sure SIGINT is not ignored here, so the process gets Ctrl-C)
    return subprocess.Popen(
        [sys.executable, "-m", "jaxstab.cli", *map(str, args)], cwd=tmp_path,
        env={**os.environ, "PYTHONUNBUFFERED": "1", **env}, stdout=subprocess.PIPE,
        stderr=subprocess.PIPE, text=True)


def test_a_second_ctrl_c_stops_a_run_stuck_in_compiled_code(tmp_path):
    import signal

    (tmp_path / "loop_task.py").write_text(LOOP_TASK)
    (tmp_path / "loop.toml").write_text('name = "t/loop"\ntask = "loop_task:make_train"\n'
                                        'seeds = 2\nmain_metric = "acc"\n')
    mark = tmp_path / "running"
    p = _process(tmp_path, "run", "loop.toml", "--store", "r.sqlite",
                 JAXSTAB_TEST_MARK=str(mark))
    try:
        deadline = time.monotonic() + 240
        while not mark.exists() and p.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert mark.exists(), p.communicate(timeout=5)
        p.send_signal(signal.SIGINT)
        time.sleep(1.0)
        assert p.poll() is None  # the first one waits for the chunk (which never ends)
        p.send_signal(signal.SIGINT)
        t0 = time.monotonic()
        out, err = p.communicate(timeout=30)
        assert time.monotonic() - t0 < 10
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    assert p.returncode == 130, err
    lines = err.strip().splitlines()
    assert "stopping after the chunk in progress is saved" in lines[-2]
    assert re.match(r"jaxstab: stopped at once; 0 finished runs of this session are saved "
                    r"in r.sqlite .*; resume with: jaxstab run loop.toml --store r.sqlite$",
                    lines[-1]), lines


SIZE_TASK = '''
import jax.numpy as jnp


def make_train(config):
    n = config["n"]

    def train(keys, hparams):
        return {"acc": jnp.float32(0.5), "loss": jnp.linspace(1.0, 0.0, n)}
    return train
'''


def _size_study(tmp_path: Path, n: int) -> Path:
    (tmp_path / "size_task.py").write_text(SIZE_TASK)
    path = tmp_path / "size.toml"
    path.write_text(f'name = "t/size"\ntask = "size_task:make_train"\nseeds = 8\n'
                    f'main_metric = "acc"\n[config]\nn = {n}\n')
    return path


def test_a_curve_over_its_budget_is_refused_before_training(tmp_path, capsys,
                                                            monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("JAXSTAB_MAX_CURVE", "1000")
    toml = _size_study(tmp_path, 1001)
    rc, out, err = run_cli(capsys, "run", toml, "--store", "r.sqlite")
    one_line(rc, err, r"task: train returned the curve `loss` of 1,001 points; allowed "
                      r"at most 1,000 per run")
    assert out == "" and not (tmp_path / "r.sqlite").exists()


def test_outputs_times_runs_are_held_to_the_memory_budget(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    toml = _size_study(tmp_path, 1000)  # 1,001 values a run: 24,024 bytes on their way
    monkeypatch.setenv("JAXSTAB_MAX_MEMORY", "20000")
    rc, out, err = run_cli(capsys, "run", toml, "--store", "r.sqlite")
    one_line(rc, err, r"task: one run's outputs need 0.0 MiB .* more than the 0.0 MiB")
    monkeypatch.setenv("JAXSTAB_MAX_MEMORY", "100000")  # four runs a call
    rc, out, err = run_cli(capsys, "run", toml, "--store", "r.sqlite", "--chunk-size", 8)
    one_line(rc, err, r"--chunk-size: 8 runs a call would not fit .* at most 4")
    assert not (tmp_path / "r.sqlite").exists()
    rc, out, err = run_cli(capsys, "run", toml, "--store", "r.sqlite")
    assert rc == 0, err
    with closing(sqlite3.connect(tmp_path / "r.sqlite")) as db:
        sizes = {json.loads(e)["chunk_size"] for (e,) in db.execute("SELECT env FROM chunks")}
        assert db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 8
    assert sizes == {4}


def test_long_curves_are_stored_in_blocks_sqlite_accepts(tmp_path, monkeypatch):
    """A block's curve is one SQLite value: a 130M-point curve (1 GB as float64) failed
    its commit with "string or blob too big". Blocks of long curves hold fewer runs."""
    from jaxstab.store import _blocks

    monkeypatch.setattr(_blocks, "BLOB_BYTES", 8 * 250)  # two runs of 100 points
    study = study_from_dict({"name": "t/blob", "seeds": 5, "data": {"n_samples": 64},
                             "model": {"hidden": [8]},
                             "train": {"batch_size": 16, "epochs": 1}})
    (setting,) = study.settings()
    curves = np.arange(500.0).reshape(5, 100)
    with closing(Store(tmp_path / "r.sqlite")) as s:
        fp = s.ensure_study(study)
        s.write_chunk(fp, [SimpleNamespace(
            setting=setting.key, seed=k, diverged=False, diverged_step=None,
            metrics={"test_accuracy": 0.5, "diverged": 0.0}, curves={"loss": curves[k]})
            for k in range(5)], 1.0, {})
        assert [n for (n,) in s.db.execute("SELECT n FROM blocks ORDER BY first")] == \
            [2, 2, 1]
        back = s.results(fp).settings[0]
    assert np.array_equal(back.curves["loss"], curves)


RAISE_TASK = '''
import jax
import jax.numpy as jnp
import numpy as np

CALLS = [0]


def _score(x):
    CALLS[0] += 1
    if CALLS[0] > 4:  # the third call of two runs (the check only traces)
        raise ValueError(f"bad batch at call {CALLS[0]}")
    return np.float32(x)


def make_train(config):
    def train(keys, hparams):
        x = jax.random.uniform(keys["init"])
        s = jax.pure_callback(_score, jax.ShapeDtypeStruct((), jnp.float32), x,
                              vmap_method="sequential")
        return {"acc": s}
    return train
'''


def test_a_task_raising_in_a_later_chunk_is_one_line_with_the_resume(tmp_path):
    (tmp_path / "raise_task.py").write_text(RAISE_TASK)
    (tmp_path / "raise.toml").write_text('name = "t/raise"\ntask = "raise_task:make_train"'
                                         '\nseeds = 8\nmain_metric = "acc"\n')
    p = _process(tmp_path, "run", "raise.toml", "--store", "r.sqlite", "--chunk-size", 2)
    out, err = p.communicate(timeout=300)
    assert p.returncode == 2, err
    *progress, line = err.strip().splitlines()
    # before it, only the progress lines of a run without a terminal (no traceback, no
    # logged callback failure)
    assert all(ln.startswith("t/raise: ") for ln in progress), progress
    assert re.fullmatch(r"jaxstab: error: task: raise_task:make_train failed while "
                        r"training: ValueError: bad batch at call 5; 4 finished runs of "
                        r"this session are saved in r.sqlite; resume with: jaxstab run "
                        r"raise.toml --store r.sqlite --chunk-size 2", line), line
    with closing(sqlite3.connect(tmp_path / "r.sqlite")) as db:
        assert db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 4


def test_sys_exit_in_make_train_is_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "exit_task.py").write_text("import sys\n\n\ndef make_train(config):\n"
                                           "    sys.exit(3)\n")
    (tmp_path / "exit.toml").write_text('name = "t/exit"\ntask = "exit_task:make_train"\n'
                                        'main_metric = "acc"\n')
    rc, out, err = run_cli(capsys, "run", "exit.toml", "--store", "r.sqlite")
    one_line(rc, err, r"task: make_train\(config\) called sys.exit\(3\)")
    assert not (tmp_path / "r.sqlite").exists()


def test_a_claim_edited_before_a_sequential_resume_is_refused(tmp_path, capsys,
                                                              monkeypatch):
    monkeypatch.chdir(tmp_path)
    shutil.copy(Path(__file__).parent / "seqtask.py", tmp_path / "seqtask.py")
    body = ('name = "seq/edit"\ntask = "seqtask:make_train"\nseeds = 8\nvary = ["init"]\n'
            'main_metric = "score"\n[factors]\nshift = [0.0, 0.3]\n[[claims]]\n'
            'text = "a shift raises the score"\nmetric = "score"\nkind = "mean"\n'
            'direction = "{}"\na = {{ shift = 0.3 }}\nb = {{ shift = 0.0 }}\n')
    (tmp_path / "seq.toml").write_text(body.format("greater"))
    rc, out, err = run_cli(capsys, "run", "seq.toml", "--store", "r.sqlite",
                           "--until-decided", "--max-seeds", 32)
    assert rc == 0, err
    before = (tmp_path / "r.sqlite").read_bytes()
    (tmp_path / "seq.toml").write_text(body.format("less"))  # the direction flipped
    rc, out, err = run_cli(capsys, "run", "seq.toml", "--store", "r.sqlite",
                           "--until-decided", "--max-seeds", 32)
    one_line(rc, err, r"claims: seq/edit was run sequentially in r.sqlite with other "
                      r"claims")
    assert (tmp_path / "r.sqlite").read_bytes() == before  # nothing written
    # the store still holds the claim its looks decided
    from jaxstab import results

    (claim,) = results(tmp_path / "r.sqlite", "seq/edit").study.claims
    assert claim.direction == "greater"
