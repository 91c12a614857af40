"""Reliability (issue 8): faults, bad input and concurrent use lose nothing.

Every training run here is one small study, `STUDY`, always with ``--chunk-size 1``: one
compiled program serves every process (through a JAX compilation cache shared by the
subprocesses), each run is committed on its own (many commits to kill into), and a run
computes bit for bit the same thing whatever else was in the store, so exports can be
compared exactly. Its three learning rates give stable runs (0.01), a few diverged ones
(10) and only diverged ones (1000): plain SGD on a three-layer ReLU net blows up.
"""

from __future__ import annotations

import atexit
import csv
import dataclasses
import hashlib
import io
import json
import math
import os
import random
import re
import shlex
import shutil
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from contextlib import closing
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jaxstab import cli
from jaxstab import study as study_mod
from jaxstab.builtin import config as builtin_config
from jaxstab.builtin import data as builtin_data
from jaxstab.builtin import model_config, optim
from jaxstab.errors import UserError
from jaxstab.store import SCHEMA_VERSION, Store
from jaxstab.loader import builtin_names, load_study, study_from_dict

CORPUS = Path(__file__).parent / "corpus"
# Enough runs that the sweep after compiling lasts a few seconds even on a fast machine
# (a run is about 10 ms): the kills below must land mid-sweep.
SEEDS = 60
RATES = (0.01, 10.0, 1000.0)
STUDY = f"""
name = "rel/sgd"
description = "plain SGD: stable, sometimes and always diverging learning rates"
seeds = {SEEDS}
vary = ["data", "init", "order"]
main_metric = "train_accuracy"
[data]
name = "article_uniform"
n_samples = 64
[model]
name = "mlp"
hidden = [32, 32, 32]
[train]
optimizer = "sgd"
epochs = 2
batch_size = 16
[factors]
learning_rate = [{", ".join(map(str, RATES))}]
"""
STEPS = 2 * 64 // 16
RUNS = SEEDS * len(RATES)
LIMIT = 240  # seconds any one CLI process may take on a loaded 2-core machine


# ------------------------------------------------------------------------- helpers


def run_cli(capsys, *args):
    """The CLI in this process (fast: no interpreter start): (rc, stdout, stderr)."""
    capsys.readouterr()
    rc = cli.main([str(a) for a in args])
    out, err = capsys.readouterr()
    return rc, out, err


def digest(path: Path) -> tuple:
    """Hash of a store and of its write-ahead log, to show that a failed command left it
    alone (the -shm file is SQLite's shared-memory index, not data)."""
    wal = path.with_name(path.name + "-wal")
    return (hashlib.sha256(path.read_bytes()).hexdigest(),
            hashlib.sha256(wal.read_bytes()).hexdigest() if wal.exists() and
            wal.stat().st_size else None)


def files(folder: Path) -> list[str]:
    """What a command left in a folder; SQLite's side files of a store it read are not
    written data (``digest`` covers the log's content)."""
    return sorted(n for n in os.listdir(folder) if not n.endswith(("-shm", "-wal")))


def export_rows(store: Path) -> dict:
    """(study, fingerprint, setting, seed, metric) -> (value, diverged, diverged_step),
    asserting on the way that no run/metric appears twice."""
    with closing(Store(store, create=False)) as s:
        rows = list(s.export_rows())
    out = {}
    for name, fp, setting, seed, metric, value, div, step in rows:
        key = (name, fp, setting, int(seed), metric)
        assert key not in out, f"{key} exported twice"
        out[key] = (value, int(div), step)
    return out


def cli_export(tmp_path: Path, store: Path) -> list[dict]:
    """`jaxstab export` itself (the contract), parsed."""
    out = tmp_path / f"{store.name}.csv"
    assert cli.main(["export", "--store", str(store), "--out", str(out)]) == 0
    return list(csv.DictReader(io.StringIO(out.read_text())))


def assert_same_results(got: dict, want: dict, tol: float = 0.0) -> None:
    assert got.keys() == want.keys()
    for key, (value, div, step) in want.items():
        g = got[key]
        assert (g[1], g[2]) == (div, step), key
        if value is None or tol == 0.0:
            assert g[0] == value, (key, g[0], value)
        else:
            assert g[0] is not None and math.isclose(g[0], value, rel_tol=tol, abs_tol=tol), \
                (key, g[0], value)


def store_health(store: Path, n_metrics: int) -> int:
    """The store's invariants; returns the number of runs. No partial run, no orphan."""
    with closing(sqlite3.connect(store, timeout=30)) as db:
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        runs = db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
        distinct = db.execute("SELECT COUNT(*) FROM (SELECT DISTINCT fingerprint, setting, "
                              "seed FROM runs)").fetchone()[0]
        assert runs == distinct
        # (SQL views over the blocks of schema version 2: one row per run, and per run
        # and metric)
        per_run = db.execute(
            "SELECT COUNT(*), SUM(k != ?) FROM (SELECT COUNT(*) AS k FROM run_metrics "
            "GROUP BY fingerprint, setting, seed)", (n_metrics,)).fetchone()
        assert per_run[1] in (0, None), "a run is stored without all of its metrics"
        assert per_run[0] == runs, "metrics of a run that is not stored"
        lost = db.execute("SELECT COUNT(*) FROM runs WHERE chunk NOT IN "
                          "(SELECT id FROM chunks)").fetchone()[0]
        assert lost == 0, "a run whose chunk (and environment record) is missing"
        return runs


def count_runs(store: Path) -> int:
    if not store.exists():
        return -1
    try:
        with closing(sqlite3.connect(store, timeout=1)) as db:
            return db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    except sqlite3.Error:  # not created yet
        return -1


def has_study(store: Path) -> bool:
    try:
        with closing(sqlite3.connect(store, timeout=1)) as db:
            return db.execute("SELECT COUNT(*) FROM studies").fetchone()[0] > 0
    except sqlite3.Error:
        return False


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    """A folder with the study file and a JAX compilation cache for the subprocesses."""
    root = tmp_path_factory.mktemp("reliability")
    (root / "study.toml").write_text(STUDY)
    return root


class Proc:
    """`python -m jaxstab.cli ARGS` in the background, output to files."""

    def __init__(self, work: Path, *args, cwd: Path, cache: bool = True):
        env = dict(os.environ, PYTHONUNBUFFERED="1")
        if cache:
            env.update(JAX_COMPILATION_CACHE_DIR=str(work / "jax-cache"),
                       JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0",
                       JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES="0")
        else:
            env.pop("JAX_COMPILATION_CACHE_DIR", None)
        tag = f"p{time.monotonic_ns()}"
        self.out, self.err = cwd / f"{tag}.out", cwd / f"{tag}.err"
        self.args = [str(a) for a in args]
        with open(self.out, "w") as o, open(self.err, "w") as e:
            self.p = subprocess.Popen([sys.executable, "-m", "jaxstab.cli", *self.args],
                                      cwd=cwd, env=env, stdout=o, stderr=e)
        self.t0 = time.monotonic()

    def wait(self, timeout: float = LIMIT) -> tuple[int, str, str]:
        try:
            rc = self.p.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            raise
        return rc, self.out.read_text(), self.err.read_text()

    def running(self) -> bool:
        return self.p.poll() is None

    def stderr(self) -> str:
        return self.err.read_text()

    def signal(self, sig) -> None:
        self.p.send_signal(sig)


def wait_for(cond, proc: Proc, timeout: float = LIMIT, poll: float = 0.02) -> bool:
    """Poll ``cond()`` until true; False if the process ended first."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():
            return True
        if not proc.running():
            return bool(cond())
        time.sleep(poll)
    raise AssertionError("timed out waiting")


def run_args(store: Path, *extra):
    return ["run", "study.toml", "--store", store, "--chunk-size", "1", *extra]


@pytest.fixture(scope="module")
def reference(work):
    """An uninterrupted run in a fresh process: the results every other store must equal.
    It also fills the compilation cache the later processes load from. Beside it (two
    compiles at once: the time of one on two cores), `mixed`: every run in one vmapped
    chunk, diverging lanes beside stable ones, for the divergence test."""
    store, mixed = work / "reference.sqlite", work / "mixed.sqlite"
    procs = [Proc(work, *run_args(store), cwd=work),
             Proc(work, "run", "study.toml", "--store", mixed, "--chunk-size", RUNS,
                  cwd=work, cache=False)]
    (rc, out, err), (rc_mixed, out_mixed, err_mixed) = (p.wait() for p in procs)
    assert rc == 0, err
    assert f"rel/sgd: {RUNS} runs trained, 0 already in the store" in out
    rows = export_rows(store)
    n_metrics = len({k[4] for k in rows})
    assert len(rows) == RUNS * n_metrics
    return SimpleNamespace(store=store, rows=rows, n_metrics=n_metrics,
                           mixed=(mixed, rc_mixed, out_mixed, err_mixed))


# ------------------------------------------------------------- fault injection


def test_killed_and_interrupted_runs_resume_to_an_uninterrupted_run(work, reference):
    """SIGKILL during compilation, SIGKILL at a random point of the sweep (every run is one
    commit, a few tenths of a second apart, so it lands mid-chunk or mid-commit), then
    Ctrl-C at another; the store stays whole after each, and running the command the
    Ctrl-C message gives completes it to exactly the uninterrupted run's export."""
    rng = random.Random(8)
    store = work / "killed.sqlite"
    # 1. during compilation: without the cache compiling takes seconds, and the store
    #    (and the study's row) exist before it starts
    p = Proc(work, *run_args(store), cwd=work, cache=False)
    assert wait_for(lambda: has_study(store), p)
    time.sleep(rng.uniform(0.0, 1.0))
    assert p.running()
    p.signal(signal.SIGKILL)
    p.wait()
    assert store_health(store, reference.n_metrics) == 0, "killed before the first commit"
    # 2. mid-sweep, after a random number of commits plus a random delay
    p = Proc(work, *run_args(store), cwd=work)
    target = rng.randint(1, RUNS // 4)
    wait_for(lambda: count_runs(store) >= target, p)
    time.sleep(rng.uniform(0.0, 0.2))
    assert p.running()
    p.signal(signal.SIGKILL)
    p.wait()
    killed = store_health(store, reference.n_metrics)
    assert target <= killed < RUNS
    # 3. Ctrl-C, again after a random number of further commits
    p = Proc(work, *run_args(store), cwd=work)
    target = killed + rng.randint(1, RUNS // 4)
    assert wait_for(lambda: count_runs(store) >= target, p)
    # Frozen at once, so that the Ctrl-C lands mid-sweep however fast the runs commit;
    # it is delivered when the process continues.
    p.signal(signal.SIGSTOP)
    p.signal(signal.SIGINT)
    p.signal(signal.SIGCONT)
    rc, out, err = p.wait(60)
    assert rc == 130, err
    last = err.strip().splitlines()[-1]
    m = re.fullmatch(r"jaxstab: interrupted; (\d+) finished runs of this session are saved "
                     r"in (.+); resume with: (jaxstab run .+)", last)
    assert m, last
    saved = int(m.group(1))
    assert m.group(2) == str(store)
    assert store_health(store, reference.n_metrics) == killed + saved >= target
    partial = export_rows(store)  # what is saved is final
    assert_same_results(partial, {k: reference.rows[k] for k in partial})
    # 4. the command the message gives
    resume = shlex.split(m.group(3))
    assert resume[1:] == [str(a) for a in run_args(store)]
    rc, out, err = Proc(work, *resume[1:], cwd=work).wait()
    assert rc == 0, err
    done = killed + saved
    assert f"rel/sgd: {RUNS - done} runs trained, {done} already in the store" in out
    assert store_health(store, reference.n_metrics) == RUNS
    assert_same_results(export_rows(store), reference.rows, tol=1e-6)
    assert len(cli_export(work, store)) == len(reference.rows)  # every run once


_COMMIT = """
import sys, tomllib
from types import SimpleNamespace
from jaxstab.store import Store
from jaxstab.loader import study_from_dict
study = study_from_dict(tomllib.loads(open("study.toml").read()))
store = Store(sys.argv[1])
fp = store.ensure_study(study)
recs = [SimpleNamespace(setting=f"setting {k % 7}", seed=k, diverged=False, diverged_step=None,
                        metrics={m: k / 7 for m in "abcdef"}, curves={"loss": [0.5] * 40})
        for k in range(int(sys.argv[2]))]
print("committing", flush=True)
store.write_chunk(fp, recs, 1.0, {"test": True})
print("committed", flush=True)
"""


def test_sigkill_during_a_commit_leaves_all_or_nothing(work):
    """A chunk big enough that its commit takes a while, killed while committing: the
    store holds the whole chunk or none of it, and stays usable."""
    rng = random.Random(80)
    n = 10_000

    def start(store):
        p = subprocess.Popen([sys.executable, "-c", _COMMIT, str(store), str(n)], cwd=work,
                             stdout=subprocess.PIPE, text=True)
        assert p.stdout.readline().strip() == "committing"
        return p, time.monotonic()

    p, t0 = start(work / "commit-ref.sqlite")
    assert p.stdout.readline().strip() == "committed"
    took = time.monotonic() - t0
    p.wait()
    mid = 0
    for i in range(3):
        store = work / f"commit-{i}.sqlite"
        p, t0 = start(store)
        time.sleep(rng.uniform(0.05, 0.8) * took)
        p.kill()
        rest = p.stdout.read()
        p.wait()
        mid += "committed" not in rest
        with closing(sqlite3.connect(store)) as db:
            assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            runs, metrics, curves, chunks = (
                db.execute(f"SELECT COUNT(*) FROM {t}").fetchone()[0]
                for t in ("runs", "run_metrics", "block_curves", "chunks"))
        # one curve row per block: at most 1024 runs of one of the 7 settings
        blocks = sum(-(-len(range(i, n, 7)) // 1024) for i in range(7))
        assert (runs, metrics, curves, chunks) in {(0, 0, 0, 0), (n, 6 * n, blocks, 1)}
        with closing(Store(store)) as s:  # usable again: the chunk commits in full
            fp = s.studies()[0][1]
            rec = SimpleNamespace(setting="setting 0", seed=0, diverged=False,
                                  diverged_step=None, metrics={"a": 0.0}, curves={})
            s.write_chunk(fp, [rec], 1.0, {})
    assert mid >= 1, "no kill landed inside a commit"


# -------------------------------------------------------------------- concurrency


@pytest.fixture(scope="module")
def shared(work, reference):
    """Two `jaxstab run` of one study on one fresh store at once. A third connection holds
    the write lock at first, so both must wait, and say so; then they race through the
    same runs."""
    store = work / "shared.sqlite"
    holder = sqlite3.connect(store, isolation_level=None)
    holder.execute("PRAGMA journal_mode=WAL")
    holder.execute("BEGIN IMMEDIATE")
    procs = [Proc(work, *run_args(store), cwd=work) for _ in range(2)]
    try:
        for p in procs:
            assert wait_for(lambda p=p: "waiting for its lock" in p.stderr(), p), p.stderr()
    finally:
        holder.execute("COMMIT")
        holder.close()
    return SimpleNamespace(store=store, results=[p.wait() for p in procs])


def test_two_processes_on_one_store_both_finish_without_duplicates(shared, reference):
    added = 0
    for rc, out, err in shared.results:
        assert rc == 0, err
        # the progress lines aside (stderr is not a terminal here), one wait message
        lines = [ln for ln in err.strip().splitlines() if ln.startswith("jaxstab:")]
        assert lines == [(f"jaxstab: {shared.store} is being written by another process; "
                         f"waiting for its lock")], lines
        m = re.search(r"rel/sgd: (\d+) runs trained(?:, (\d+) of them stored first by "
                      r"another process)?, (\d+) already in the store", out)
        assert m, out
        added += int(m.group(1)) - int(m.group(2) or 0)
    assert added == RUNS, "each run is stored by exactly one of the two processes"
    assert store_health(shared.store, reference.n_metrics) == RUNS
    assert_same_results(export_rows(shared.store), reference.rows, tol=1e-6)


# ---------------------------------------------------------------------- determinism


def test_same_study_and_seed_give_identical_numbers_across_processes(work, shared,
                                                                     reference):
    """Every run of `shared` was trained by one of two other processes than `reference`'s:
    the exported CSVs are the same text. And the platform record travels with every
    result."""
    a, b = cli_export(work, reference.store), cli_export(work, shared.store)
    assert a == b and len(a) == len(reference.rows)
    for path in (reference.store, shared.store):
        with closing(sqlite3.connect(path)) as db:
            envs = db.execute("SELECT c.env FROM runs r JOIN chunks c ON r.chunk = c.id"
                              ).fetchall()
        assert len(envs) == RUNS
        for (env,) in envs:
            env = json.loads(env)
            for key in ("jax", "jaxlib", "python", "platform", "backend", "device",
                        "matmul_precision", "enable_x64", "xla_flags"):
                assert key in env, key
    with closing(Store(reference.store, create=False)) as s:
        res = s.results(s.latest("rel/sgd"))
    assert sum(c["runs"] for c in res.chunks) == RUNS and all(c["env"] for c in res.chunks)


# ----------------------------------------------------------------------- divergence


def test_divergence_is_data_and_poisons_nothing(work, reference, capsys):
    """All runs in one vmapped chunk (diverging lanes beside stable ones): diverged runs
    are stored with their step, counted, never stop the sweep, and the stable setting's
    runs equal the same runs trained alone (`reference`, one run per chunk), so its
    statistics are those it would have without the diverging settings."""
    from jaxstab.report import build_study
    from jaxstab.stats import summarize

    store, rc, out, err = reference.mixed
    assert rc == 0, err
    assert f"{RUNS} runs trained" in out
    rows = export_rows(store)
    assert rows.keys() == reference.rows.keys()
    stable = '{"learning_rate":0.01}'
    # float tolerance: a vmapped run may round differently from the run alone (and the
    # near-chaotic runs at lr 10 may then drift apart, so only lr 0.01 is compared)
    assert_same_results({k: v for k, v in rows.items() if k[2] == stable},
                        {k: v for k, v in reference.rows.items() if k[2] == stable},
                        tol=1e-5)
    with closing(Store(store, create=False)) as s:
        res = s.results(s.latest("rel/sgd"))
    rate = {}
    for st_ in res.settings:
        lr = st_.factors["learning_rate"]
        assert len(st_.seeds) == SEEDS  # the sweep went on past every divergence
        div = st_.diverged
        assert np.all((st_.diverged_step >= 0) == div)
        assert np.all(st_.diverged_step[div] < STEPS)
        x = st_.metrics["train_accuracy"]
        assert np.all(np.isnan(x[div])) and np.all(np.isfinite(x[~div]))
        summary = summarize(x, diverged=div)
        rate[lr] = summary.divergence_rate
        assert summary.n_diverged == div.sum() and summary.n == (~div).sum()
        if summary.n >= 2:
            assert summary.mean == pytest.approx(np.mean(x[~div]), abs=1e-12)
    assert rate[0.01] == 0.0 and rate[1000.0] >= 0.5
    # lr 10 diverges in some seeds or none, depending on the engine's details
    assert 0.0 <= rate[10.0] < 1.0
    # `compare` and the report go through with diverged runs in the store
    rc, out, err = run_cli(capsys, "compare", "rel/sgd", "--store", store, "--json")
    assert rc == 0, err
    n_div = {s.key: int(s.diverged.sum()) for s in res.settings}
    for pair in json.loads(out)["pairwise"]["pairs"]:
        assert (pair["n_diverged_a"], pair["n_diverged_b"]) == (n_div[pair["a_key"]],
                                                                n_div[pair["b_key"]])
    report = build_study(res, "rel-sgd", "2026-01-01 00:00")
    assert {s.key: s.n_diverged for s in report.settings} == n_div


# --------------------------------------------------------------- invalid input corpus

CORPUS_FILES = sorted(CORPUS.glob("*.toml"))


def _expectation(path: Path) -> str:
    first = path.read_bytes().split(b"\n", 1)[0].decode()
    assert first.startswith("# expect: "), path
    return first[len("# expect: "):]


def assert_one_line_error(rc, err, pattern):
    assert rc == 2, err
    lines = err.splitlines()
    assert len(lines) == 1, lines
    assert lines[0].startswith("jaxstab: error: ")
    assert re.search(pattern, lines[0][len("jaxstab: error: "):]), lines[0]


def test_corpus_is_large_enough():
    assert len(CORPUS_FILES) >= 45


@pytest.mark.parametrize("path", CORPUS_FILES, ids=[p.stem for p in CORPUS_FILES])
def test_invalid_study_files(path, filled_store, capsys, monkeypatch):
    monkeypatch.chdir(filled_store.parent)
    with pytest.raises(UserError):  # guard: never start training on a corpus entry
        load_study(str(path)).check()  # (a user task's outputs are checked traced)
    before = digest(filled_store)
    rc, out, err = run_cli(capsys, "run", path, "--store", filled_store)
    assert_one_line_error(rc, err, _expectation(path))
    assert out == "" and digest(filled_store) == before


def _schema(version):
    def make(path: Path, filled: Path) -> None:
        path.write_bytes(filled.read_bytes())
        with closing(sqlite3.connect(path, isolation_level=None)) as db:
            db.execute("PRAGMA journal_mode=DELETE")  # a header WAL would have to rewrite
            db.execute("UPDATE meta SET value=? WHERE key='schema'", (version,))
    return make


def _damaged_page(path: Path, filled: Path) -> None:
    data = bytearray(filled.read_bytes())
    page = 4096
    assert len(data) >= 8 * page
    # the middle of a b-tree page: the header stays valid, the cells do not
    for p in range(3, len(data) // page):
        data[p * page + 8: p * page + 1200] = bytes(range(256)) * 4 + bytes(168)
    path.write_bytes(bytes(data))


def _other_database(path: Path, filled: Path) -> None:
    with closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE users (name TEXT)")
        db.execute("INSERT INTO users VALUES ('ada')")
        db.commit()


def _meta_without_schema(path: Path, filled: Path) -> None:
    with closing(sqlite3.connect(path)) as db:
        db.execute("CREATE TABLE meta (key TEXT, value TEXT)")
        db.execute("INSERT INTO meta VALUES ('owner', 'someone else')")
        db.commit()


def _missing_table(path: Path, filled: Path) -> None:
    path.write_bytes(filled.read_bytes())
    with closing(sqlite3.connect(path)) as db:
        db.execute("DROP TABLE block_curves")
        db.commit()


STORE_CASES = {
    # name: (make the store file, commands, expected message)
    "zeros": (lambda p, f: p.write_bytes(bytes(8192)), ("run", "export"),
              r"--store: .* is not a usable results store \(file is not a database\)"),
    "truncated": (lambda p, f: p.write_bytes(f.read_bytes()[:len(f.read_bytes()) // 2]),
                  ("run", "export"), (r"is not a usable results store \(database disk image "
                                     r"is malformed\)")),
    "damaged_page": (_damaged_page, ("run",),
                     r"is not a usable results store \(damaged: .*\)"),
    "other_database": (_other_database, ("run", "export"),
                       (r"is an SQLite database but not a jaxstab results store \(it has "
                       r"tables users\)")),
    "meta_without_schema": (_meta_without_schema, ("run", "export"),
                            r"not a jaxstab results store"),
    "schema_version_2": (_schema(str(SCHEMA_VERSION + 1)), ("run", "export"),
                         (rf"has schema version '{SCHEMA_VERSION + 1}', this jaxstab reads "
                         rf"version {SCHEMA_VERSION}")),
    "schema_version_text": (_schema("one"), ("run", "export"),
                            r"has schema version 'one'"),
    "missing_table": (_missing_table, ("run", "export"),
                      (r"not a usable results store \(damaged: table block_curves is "
                       r"missing\)")),
    "empty_file": (lambda p, f: p.write_bytes(b""), ("export",),
                   r"holds no results; run `jaxstab run` first"),
}


@pytest.mark.parametrize("case", STORE_CASES)
def test_unusable_stores_are_left_alone(case, filled_store, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ok.toml").write_text(STUDY)
    make, commands, pattern = STORE_CASES[case]
    bad = tmp_path / "bad.sqlite"
    make(bad, filled_store)
    before = digest(bad)
    for command in commands:
        args = ["run", "ok.toml"] if command == "run" else ["export"]
        rc, _out, err = run_cli(capsys, *args, "--store", bad)
        assert_one_line_error(rc, err, pattern)
        assert digest(bad) == before, f"`{command}` changed the store"


def test_unwritable_store_paths(filled_store, tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ok.toml").write_text(STUDY)
    (tmp_path / "a-file").write_text("x")
    cases = [
        ("a-file/r.sqlite", (r"--store: cannot create a-file/r.sqlite: a-file is not a "
                            r"folder")),
        (str(tmp_path), r"--store: .* is a folder, expected a file"),
    ]
    if Path("/proc/self").is_dir():  # a place no one, root included, can create a file
        cases.append(("/proc/jaxstab-results.sqlite",
                      (r"--store: cannot (open|create) /proc/jaxstab-results.sqlite "
                      r"\(unable to open database file\)")))
    for store, pattern in cases:
        listing = files(tmp_path)
        rc, out, err = run_cli(capsys, "run", "ok.toml", "--store", store)
        assert_one_line_error(rc, err, pattern)
        assert files(tmp_path) == listing
    # a store file that cannot be written: read-only (or, for root, immutable)
    before = digest(filled_store)
    if os.geteuid() != 0:
        filled_store.chmod(0o444)
    elif subprocess.run(["chattr", "+i", str(filled_store)], capture_output=True,
                        check=False).returncode != 0:
        pytest.skip("cannot make a file unwritable for root here (no chattr)")
    try:
        rc, out, err = run_cli(capsys, "run", "ok.toml", "--store", filled_store)
        assert_one_line_error(rc, err, r"--store: .*results.sqlite is not writable")
        # reading it still works
        rc, out, err = run_cli(capsys, "export", "--store", filled_store)
        assert rc == 0 and len(out.splitlines()) == 1 + 16, err
    finally:
        if os.geteuid() == 0:
            subprocess.run(["chattr", "-i", str(filled_store)], check=True)
        filled_store.chmod(0o644)
    assert digest(filled_store) == before


@pytest.mark.parametrize("args, pattern", [
    (["run", "ok.toml", "--seeds", "100000000"],
     r"--seeds: 100000000 is out of range, allowed 1..10000000"),
    (["export", "--out", "."], r"--out: \. is a folder, expected a file"),
    (["export", "--out", "no/such/folder/x.csv"], r"--out: folder no/such/folder does not"),
    (["compare", "no/such-study"], r"unknown study `no/such-study`"),
])
def test_more_usage_errors_leave_the_store_alone(args, pattern, filled_store, tmp_path,
                                                 capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "ok.toml").write_text(STUDY)
    before, listing = digest(filled_store), files(tmp_path)
    rc, _out, err = run_cli(capsys, *args, "--store", filled_store)
    assert_one_line_error(rc, err, pattern)
    assert digest(filled_store) == before and files(tmp_path) == listing


# ------------------------------------------------ property-based: the TOML loader

_NAMES = sorted({*study_mod.SOURCES, *builtin_config.METRICS, *builtin_data.DATASETS,
                 *builtin_data.RESAMPLERS, *model_config.MODELS, "relu", "tanh",
                 "sigmoid", "linear", *model_config.HEADS, *optim.OPTIMIZERS,
                 *optim.SOLVERS, *optim.LOSSES, "all", "mean",
                 "spread", "greater", "less", "t/x", ""})
_SECTIONS = {"data": builtin_data.DataConfig, "model": model_config.ModelConfig,
             "train": optim.TrainConfig}
_FIELDS = {n: [f.name for f in dataclasses.fields(c)] for n, c in _SECTIONS.items()}
_TOP = [f.name for f in dataclasses.fields(study_mod.Study)]

scalars = st.one_of(
    st.sampled_from([0, 1, 2, 3, 4, 8, 16, 32, 64, 100, 1000, -1, 2**31, 2**63 - 1]),
    st.integers(min_value=-2**63, max_value=2**63 - 1),
    st.sampled_from([0.0, 1e-3, 0.1, 0.5, 0.9, 1.0, 1.5, 10.0, -0.5, 1e300]),
    st.floats(allow_nan=True, allow_infinity=True),
    st.booleans(),
    st.sampled_from(_NAMES),
    st.text(max_size=8),
    st.dates(), st.times(), st.datetimes(),
)
values = st.recursive(
    scalars, lambda inner: st.lists(inner, max_size=4)
    | st.dictionaries(st.sampled_from(_NAMES + _TOP) | st.text(max_size=5), inner,
                      max_size=3), max_leaves=8)
# Mostly names and values that could be right, so that many drawn studies get past the
# first checks; now and then anything at all.
plausible = st.one_of(st.integers(-2, 70), st.floats(-0.5, 2.0), st.sampled_from(_NAMES),
                      st.lists(st.integers(1, 16), max_size=3))


def usually(good, other):
    """``good`` three times in four, else ``other`` (``one_of`` weighs every leaf alike)."""
    return st.integers(0, 3).flatmap(lambda i: good if i else other)


anything = usually(plausible, values)


def keys_of(names):
    return usually(st.sampled_from(names), st.text(min_size=1, max_size=6))


section = {n: st.dictionaries(keys_of(f), anything, max_size=5) for n, f in _FIELDS.items()}
factor_names = sorted(builtin_config.FACTOR_FIELDS) + ["vary", "name", "nope"]
factors = st.dictionaries(keys_of(factor_names),
                          st.lists(anything, min_size=1, max_size=3) | values, max_size=3)
claim = st.dictionaries(keys_of(["text", "metric", "kind", "direction", "a", "b"]),
                        anything | st.dictionaries(keys_of(factor_names), anything,
                                                   max_size=2), max_size=7)
text = usually(st.text(max_size=10), anything)
studies = st.fixed_dictionaries({"name": usually(st.just("t/x"), text)}, optional={
    "description": text, "question": text,
    "seeds": usually(st.integers(1, 9), anything), "seed": usually(st.integers(0, 9), anything),
    "vary": usually(st.lists(st.sampled_from(study_mod.SOURCES)), anything),
    "main_metric": usually(st.sampled_from(builtin_config.METRICS), anything),
    "data": usually(section["data"], values), "model": usually(section["model"], values),
    "train": usually(section["train"], values),
    "factors": usually(factors, values),
    "claims": usually(st.lists(claim, max_size=2), values),
})


def _valid_base() -> list[dict]:
    return [load_study(n).to_dict() for n in builtin_names()[:6]]


@st.composite
def edited_studies(draw):
    """A valid study with a few random edits: reaches the checks after the type checks."""
    d = json.loads(json.dumps(draw(st.sampled_from(_BASES))))
    for _ in range(draw(st.integers(1, 3))):
        where = draw(st.sampled_from(["top", "data", "model", "train", "factors", "del"]))
        if where == "top":
            d[draw(keys_of(_TOP))] = draw(values)
        elif where == "del":
            if d:
                d.pop(draw(st.sampled_from(sorted(d))))
        elif where == "factors":
            f = d.setdefault("factors", {})
            if isinstance(f, dict):
                f[draw(keys_of(factor_names))] = draw(st.lists(values, min_size=1,
                                                               max_size=3))
        else:
            sec = d.setdefault(where, {})
            if isinstance(sec, dict):
                sec[draw(keys_of(_FIELDS[where]))] = draw(values)
    return d


_BASES = _valid_base()


def _loads_or_user_error(load) -> None:
    try:
        s = load()
    except UserError as e:
        assert str(e).strip()
        return
    # a study that loads is usable all the way: grid, fingerprint, compile keys, store
    keys = [x.key for x in s.settings()]
    assert len(set(keys)) == len(keys)
    assert len(s.fingerprint) == 16
    for x in s.settings():
        hash(x.static)
        assert set(x.hparams) == set(builtin_config.CONTINUOUS)
    assert study_from_dict(json.loads(json.dumps(s.to_dict()))) == s


FUZZ = settings(max_examples=100, deadline=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


@FUZZ
@given(studies)
def test_fuzz_dicts_load_or_raise_user_error(d):
    _loads_or_user_error(lambda: study_from_dict(d))


@FUZZ
@given(edited_studies())
def test_fuzz_edited_valid_studies_load_or_raise_user_error(d):
    _loads_or_user_error(lambda: study_from_dict(d))


def _toml_value(v) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) \
            else repr(v)
    if isinstance(v, (int,)):
        return str(v)
    if isinstance(v, str):
        return json.dumps(v)
    if isinstance(v, list):
        return "[" + ", ".join(_toml_value(x) for x in v) + "]"
    if isinstance(v, dict):
        return "{" + ", ".join(f"{json.dumps(k)} = {_toml_value(x)}"
                               for k, x in v.items()) + "}"
    return v.isoformat()


_SAMPLE = (CORPUS.parent.parent / "jaxstab" / "studies" / "article" / "example2.toml"
           ).read_text()
_TMP = Path(tempfile.mkdtemp(prefix="jaxstab-fuzz-"))
atexit.register(shutil.rmtree, _TMP, True)


@st.composite
def toml_texts(draw):
    kind = draw(st.sampled_from(["random", "emitted", "mutated", "bytes"]))
    if kind == "random":
        return draw(st.text(alphabet=st.sampled_from(list('[]{}="\'.,#\n\\ -_0123456789aenfrst'
                                                           'uil')), max_size=80)).encode()
    if kind == "bytes":
        return draw(st.binary(max_size=60))
    if kind == "emitted":
        d = draw(studies | edited_studies())
        lines = [f"{json.dumps(k)} = {_toml_value(v)}" for k, v in d.items()]
        return "\n".join(lines).encode()
    text = _SAMPLE
    for _ in range(draw(st.integers(1, 4))):
        i = draw(st.integers(0, len(text)))
        j = min(len(text), i + draw(st.integers(0, 12)))
        text = text[:i] + draw(st.text(alphabet=st.sampled_from(list('[]{}="., \n#01ae-')),
                                       max_size=4)) + text[j:]
    return text.encode()


@FUZZ
@given(toml_texts())
def test_fuzz_toml_text_loads_or_raises_user_error(data):
    path = _TMP / "fuzz.toml"
    path.write_bytes(data)
    _loads_or_user_error(lambda: load_study(str(path)))


def test_error_messages_are_one_line_whatever_the_input(capsys, tmp_path, monkeypatch):
    """A key or value with a newline or other control characters is escaped in the
    message, which stays one line."""
    monkeypatch.chdir(tmp_path)
    for key in ['"a\\nb"', '"a\\rb"', '"a\\u2028b"', '"\\u0085"', '"x\\u0000"']:
        Path("k.toml").write_text(f'name = "t/x"\n{key} = 1\n')
        rc, _, err = run_cli(capsys, "run", "k.toml")
        assert_one_line_error(rc, err, r"unknown key")
        assert len(err.rstrip("\n").splitlines()) == 1 and "\r" not in err.rstrip("\n")
    assert not Path("results.sqlite").exists()
