"""Processes on one store share the work through leases (jaxstab.units): each unit of a
study is trained by one process, a process that dies holding a lease has its unit taken
over once the lease expires, and the result is the one process's result."""

from __future__ import annotations

import os
import re
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest

from jaxstab.runs import Runs
from jaxstab.store import Store
from jaxstab.loader import study_from_dict
from jaxstab.units import count_left, unit_size, units

from conftest import count_runs

TINY = """
name = "lease/tiny"
seeds = {seeds}
vary = ["data", "init", "order"]
main_metric = "train_accuracy"
[data]
name = "article_uniform"
n_samples = 64
[model]
name = "mlp"
hidden = [8]
[train]
optimizer = "sgd"
epochs = {epochs}
batch_size = 16
[factors]
learning_rate = [0.01, 0.1]
"""


def _study(seeds: int = 6):
    return study_from_dict({"name": "lease/unit", "seeds": seeds,
                            "data": {"n_samples": 64}, "model": {"hidden": [8]},
                            "train": {"batch_size": 16, "epochs": 1},
                            "factors": {"learning_rate": [0.01, 0.1]}})


# ------------------------------------------------------------- the store's leases


def test_units_cut_the_full_plan_whatever_is_stored():
    settings = _study().settings()
    us = units(settings, 6, 4)  # 12 pairs: setting 0 seeds 0-5, then setting 1 seeds 0-5
    a, b = (s.key for s in settings)
    assert [u.ranges for u in us] == [((a, 0, 4),), ((a, 4, 6), (b, 0, 2)), ((b, 2, 6),)]
    assert len({u.id for u in us}) == 3 and us[0].id == units(settings, 6, 4)[0].id
    assert units(settings, 7, 4)[0].id != us[0].id  # another plan, other units
    done = {a: np.array([0, 1, 4]), b: np.array([5])}
    assert [count_left(u, done) for u in us] == [2, 3, 3]


def test_a_group_of_many_chunks_is_cut_in_units_of_whole_chunks():
    """One lease transaction per unit, not per chunk, once a group has 2 x MIN_UNITS
    chunks (issue 26: 293 lease transactions were 0.8 s of 2 x 150,000 trivial runs)."""
    assert unit_size(64 * 1024, 1024) == 1024  # 64 chunks: a unit each
    assert unit_size(127 * 1024, 1024) == 1024
    assert unit_size(300_000, 1024) == 4 * 1024  # 293 chunks: 74 units
    assert unit_size(5, 1024) == 1024


def test_units_of_several_chunks_give_the_runs_of_one_chunk_units(tmp_path, monkeypatch):
    """Units of 3 chunks (MIN_UNITS lowered): every run stored once, with the numbers
    of units of one chunk, also when a unit was partly stored before (a process that
    died between two of its chunks)."""
    import jaxstab
    from jaxstab import units as U

    # 2 settings x 6 seeds in chunks of 2: 6 chunks
    study = study_from_dict({"name": "lease/units", "seeds": 6, "main_metric": "train_accuracy",
                             "data": {"n_samples": 64}, "model": {"hidden": [8]},
                             "train": {"batch_size": 16, "epochs": 1},
                             "factors": {"learning_rate": [0.01, 0.1]}})
    jaxstab.run_study(study, store=tmp_path / "one.sqlite", chunk_size=2)
    monkeypatch.setattr(U, "MIN_UNITS", 2)
    assert unit_size(12, 2) == 6
    part = Store(tmp_path / "part.sqlite")
    fp = part.ensure_study(study)
    with closing(Store(tmp_path / "one.sqlite")) as one:
        want = one.results(fp)
        first = want.settings[0]
        keep = np.asarray(first.seeds) < 2  # the first chunk of the first unit only
        runs = Runs.build([first.key], np.zeros(2, int), np.asarray(first.seeds)[keep],
                          np.zeros(2, bool), np.full(2, -1),
                          {m: np.asarray(v)[keep] for m, v in first.metrics.items()}, {})
        part.group_chunk_size(fp, first.key, 2)
        part.write_chunk(fp, runs, 0.0, {"chunk_size": 2})
    part.close()
    got = jaxstab.run_study(study, store=tmp_path / "part.sqlite", chunk_size=2)
    assert got.runs == 10
    with closing(Store(tmp_path / "part.sqlite")) as s:
        res = s.results(fp)
    for a, b in zip(want.settings, res.settings, strict=True):
        assert list(a.seeds) == list(b.seeds) == list(range(6))
        for m in a.metrics:
            assert np.array_equal(np.asarray(a.metrics[m]), np.asarray(b.metrics[m]),
                                  equal_nan=True), m


def _write(store, fp, settings, seeds, release=None):
    keys = [s.key for s in settings]
    n = len(seeds)
    runs = Runs.build(keys, np.zeros(n, int), seeds, np.zeros(n, bool), np.zeros(n),
                      {"a": np.ones(n)}, {})
    return store.write_chunk(fp, runs, 0.0, {}, release=release)


def test_a_unit_is_leased_to_one_owner_until_released_or_expired(tmp_path):
    study = _study()
    settings = study.settings()
    us = [(u.id, u.ranges) for u in units(settings, 6, 4)]
    a, b = Store(tmp_path / "s.sqlite"), Store(tmp_path / "s.sqlite")
    try:
        fp = a.ensure_study(study)
        got = a.take_lease(fp, "A", us, timeout=60)
        assert got.index == 0 and got.wait is None
        assert all(len(v) == 0 for v in got.stored.values())
        got = b.take_lease(fp, "B", us, timeout=0.3)  # unit 0 is A's: B gets unit 1
        assert got.index == 1 and 59 < got.wait <= 60
        assert b.take_lease(fp, "B", us[:2], timeout=0.3).index == 1  # its own, again
        assert b.take_lease(fp, "C", us[:2], timeout=60).index is None
        time.sleep(0.4)  # B's lease expired (no heartbeat): C takes unit 1 over
        assert b.take_lease(fp, "C", us[:2], timeout=60).index == 1
        # A commits unit 0's runs, releasing its lease in the same transaction
        _write(a, fp, settings[:1], np.arange(4), release=(us[0][0], "A"))
        with closing(sqlite3.connect(tmp_path / "s.sqlite")) as db:
            assert db.execute("SELECT owner FROM leases").fetchall() == [("C",)]
        got = b.take_lease(fp, "D", us, timeout=60)  # 0: complete; 1: C's; so 2
        assert (got.index, got.finished) == (2, [0])
    finally:
        a.close()
        b.close()


def test_a_heartbeat_keeps_a_long_lease_alive(tmp_path):
    study = _study()
    us = [(u.id, u.ranges) for u in units(study.settings(), 6, 12)]
    with closing(Store(tmp_path / "s.sqlite")) as s:
        fp = s.ensure_study(study)
        assert s.take_lease(fp, "A", us, timeout=0.4).index == 0
        beat = s.heartbeat("A", 0.4)
        try:
            time.sleep(1.2)  # three timeouts: renewed every 0.1 s
            assert s.take_lease(fp, "B", us, timeout=60).index is None
        finally:
            beat.stop()
        time.sleep(0.5)
        assert s.take_lease(fp, "B", us, timeout=60).index == 0


@pytest.mark.parametrize("value, message", [
    ("0", r"--lease-timeout: 0 is out of range, allowed more than 0 and at most 86400"),
    ("nan", r"--lease-timeout: nan is out of range"),
    ("soon", r"--lease-timeout: expected a number of seconds, got 'soon'"),
])
def test_a_bad_lease_timeout_is_one_line_and_writes_nothing(tmp_path, capsys, value,
                                                           message):
    from jaxstab import cli

    rc = cli.main(["run", str(_toml(tmp_path, seeds=2)), "--store",
                   str(tmp_path / "s.sqlite"), "--lease-timeout", value])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1 and re.search(message, err[0]), err
    assert not (tmp_path / "s.sqlite").exists()


def test_run_study_checks_its_lease_timeout(tmp_path):
    import jaxstab
    from jaxstab.errors import UserError

    with pytest.raises(UserError, match=r"^lease_timeout: -1 is out of range"):
        jaxstab.run_study(_study(), store=tmp_path / "s.sqlite", lease_timeout=-1)
    assert not (tmp_path / "s.sqlite").exists()


# ------------------------------------------------------------ processes, for real


def _toml(tmp_path: Path, seeds: int, epochs: int = 2) -> Path:
    p = tmp_path / "tiny.toml"
    p.write_text(TINY.format(seeds=seeds, epochs=epochs))
    return p


def _start(tmp_path, study, store, *extra):
    """`jaxstab run` in the background, its output to files (``p.out``, ``p.err``)."""
    env = dict(os.environ, JAX_COMPILATION_CACHE_DIR=str(tmp_path / "jax-cache"),
               JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0", PYTHONUNBUFFERED="1")
    tag = f"p{time.monotonic_ns()}"
    out, err = tmp_path / f"{tag}.out", tmp_path / f"{tag}.err"
    with open(out, "w") as o, open(err, "w") as e:
        p = subprocess.Popen([sys.executable, "-m", "jaxstab.cli", "run", str(study),
                              "--store", str(store), *map(str, extra)], cwd=tmp_path,
                             env=env, stdout=o, stderr=e)
    p.out, p.err = out, err
    return p


def _finish(p, timeout=300) -> tuple[int, int]:
    """(runs it trained, of them stored first by another process)."""
    p.wait(timeout=timeout)
    out, err = p.out.read_text(), p.err.read_text()
    assert p.returncode == 0, err
    m = re.search(r"lease/tiny: (\d+) runs trained(?:, (\d+) of them stored first by "
                  r"another process)?, (\d+) already in the store", out)
    assert m, out
    return int(m.group(1)), int(m.group(2) or 0)


def _export(tmp_path, store) -> str:
    p = subprocess.run([sys.executable, "-m", "jaxstab.cli", "export", "--store",
                        str(store)], cwd=tmp_path, capture_output=True, text=True,
                       timeout=300)
    assert p.returncode == 0, p.stderr
    return p.stdout


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """One process alone: the export every way of sharing must give."""
    d = tmp_path_factory.mktemp("leases")
    study = _toml(d, seeds=40)
    assert _finish(_start(d, study, d / "ref.sqlite", "--chunk-size", 4)) == (80, 0)
    return d, study, _export(d, d / "ref.sqlite")


def test_two_processes_train_disjoint_runs_that_make_the_whole_study(reference):
    """Process A is frozen (SIGSTOP) holding its first unit; B trains every other unit,
    then waits for A's, which A trains once it is let go: disjoint runs (4 + 76), the
    whole study, the text of one process alone."""
    d, study, want = reference
    store = d / "two.sqlite"
    a = _start(d, study, store, "--chunk-size", 4)
    try:
        _freeze_holding_a_lease(a, store)
        b = _start(d, study, store, "--chunk-size", 4)
        deadline = time.time() + 240
        while count_runs(store) < 76 and time.time() < deadline and b.poll() is None:
            time.sleep(0.1)
        assert b.poll() is None, "B ended without A's unit"  # it waits for A's unit
        assert count_runs(store) == 76
    finally:
        os.kill(a.pid, signal.SIGCONT)
    done = [_finish(p) for p in (a, b)]
    logs = [p.err.read_text()[-3000:] for p in (a, b)]
    assert done == [(4, 0), (76, 0)], (done, logs)  # nothing trained twice
    got = _export(d, store)
    assert got == want, _first_difference(got, want)  # the text of one process alone


def _freeze_holding_a_lease(p, store: Path) -> None:
    """SIGSTOP ``p`` at a moment it holds a lease and not the store's write lock."""
    deadline = time.time() + 180
    while time.time() < deadline and p.poll() is None:
        if _lease_of(store, p.pid) is None:
            time.sleep(0.01)
            continue
        os.kill(p.pid, signal.SIGSTOP)
        if _lease_of(store, p.pid) is not None and _write_lock_free(store):
            return
        os.kill(p.pid, signal.SIGCONT)
        time.sleep(0.01)
    raise AssertionError("the process was never caught holding a lease")


def _write_lock_free(store: Path) -> bool:
    with closing(sqlite3.connect(store, timeout=0.2, isolation_level=None)) as db:
        try:
            db.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError:
            return False
        db.execute("ROLLBACK")
        return True


def _first_difference(a: str, b: str) -> str:
    for x, y in zip(a.splitlines(), b.splitlines()):
        if x != y:
            return f"{x!r} != {y!r}"
    return f"{len(a.splitlines())} lines != {len(b.splitlines())} lines"


@pytest.mark.parametrize("where", ["this machine", "another machine"])
def test_a_killed_process_leaves_its_unit_to_the_other(reference, where):
    """Killed holding a lease: a process of this machine that is gone is seen to be gone,
    and its unit taken over at once; one of another machine (the lease's owner renamed
    to say so) holds its lease until it expires, 2 s after its last heartbeat."""
    d, study, want = reference
    store = d / f"killed-{where.split()[0]}.sqlite"
    owner = _start(d, study, store, "--chunk-size", 4, "--lease-timeout", 2)
    # Frozen holding a lease (its first, while it compiles, or a later one): waiting for
    # stored runs first could let a fast machine finish the study before the freeze.
    _freeze_holding_a_lease(owner, store)  # frozen: its lease cannot change now
    held = _lease_of(store, owner.pid, strict=True)
    owner.kill()  # dies holding the lease (SIGKILL: no cleanup)
    owner.wait(timeout=60)
    with closing(sqlite3.connect(store, timeout=10)) as db:
        stored = db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    assert stored < 80 and _lease_of(store, owner.pid, strict=True) == held
    if where == "another machine":
        with closing(sqlite3.connect(store)) as db:
            db.execute("UPDATE leases SET owner = 'elsewhere:1:x' WHERE owner = ?",
                       (held[1],))
            db.commit()
    other = _start(d, study, store, "--chunk-size", 4)
    trained, late = _finish(other)
    assert (trained, late) == (80 - stored, 0)  # the dead process's unit included
    assert _export(d, store) == want
    with closing(sqlite3.connect(store)) as db:
        assert db.execute("SELECT COUNT(*) FROM leases").fetchone()[0] == 0


def _lease_of(store: Path, pid: int, strict: bool = False):
    """The (unit, owner) leased by process ``pid``, or None; ``strict``: an unreadable
    store is an error, not None (after a kill, SQLite may be busy recovering)."""
    try:
        with closing(sqlite3.connect(store, timeout=10 if strict else 1)) as db:
            rows = db.execute("SELECT unit, owner FROM leases").fetchall()
    except sqlite3.Error:
        if strict:
            raise
        return None
    mine = [r for r in rows if r[1].split(":")[1] == str(pid)]
    return mine[0] if mine else None
