"""The store's contract (jaxstab.store.BaseStore), checked on both backends: an SQLite
file and a real PostgreSQL server (``pg_server`` in conftest: pgserver, or the server
``JAXSTAB_TEST_PG_URL`` names). Then workers for real: three processes on one PostgreSQL
store, two of them killed and restarted, end with the export and the looks of one SQLite
process alone."""

from __future__ import annotations

import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import numpy as np
import pytest

from jaxstab.errors import UserError
from jaxstab.runs import Runs
from jaxstab.store import BaseStore, open_store
from jaxstab.loader import study_from_dict
from jaxstab.units import units

HERE = Path(__file__).parent


def _study(seeds: int = 6):
    return study_from_dict({"name": "backend/unit", "seeds": seeds,
                            "data": {"n_samples": 64}, "model": {"hidden": [8]},
                            "train": {"batch_size": 16, "epochs": 1},
                            "factors": {"learning_rate": [0.01, 0.1]}})


def _runs(keys, which, seeds, values, diverged=None, curve=None):
    n = len(seeds)
    div = np.zeros(n, bool) if diverged is None else np.asarray(diverged)
    curves = {} if curve is None else {"loss": np.asarray(curve, float)}
    return Runs.build(keys, np.asarray(which), np.asarray(seeds), div,
                      np.where(div, 3, 0), {"a": np.asarray(values, float)}, curves)


def test_open_store_picks_the_backend_by_url(tmp_path, store_url):
    with closing(open_store(store_url)) as s:
        assert isinstance(s, BaseStore)
        assert type(s).__name__ == ("SQLiteStore" if "://" not in store_url
                                    else "PostgresStore")
        assert "password" not in s.location
    with pytest.raises(UserError, match=r"^--store: unknown database mysqlx://; allowed"):
        open_store("mysqlx://u@h/db")


def test_chunks_round_trip_exactly_and_stored_runs_are_left_alone(store_url):
    study = _study()
    keys = [s.key for s in study.settings()]
    tiny = np.nextafter(0, 1)  # a subnormal: the views decode it too
    vals = [1.5, np.nan, -2.25, tiny, 3.0, -0.0]
    with closing(open_store(store_url)) as s:
        fp = s.ensure_study(study)
        runs = _runs(keys, [0, 1, 0, 1, 0, 1], [0, 0, 1, 1, 2, 2], vals,
                     [False, True, False, False, False, False],
                     np.arange(12).reshape(6, 2))
        assert s.write_chunk(fp, runs, 0.5, {"chunk_size": 4}) == 6
        assert s.write_chunk(fp, runs, 0.5, {}) == 0  # stored already: left alone
        assert s.chunk_size(fp) == 4
        r = s.results(fp)
        a, b = r.settings
        assert a.seeds.tolist() == [0, 1, 2] and b.seeds.tolist() == [0, 1, 2]
        assert a.metrics["a"].tobytes() == np.array([1.5, -2.25, 3.0]).tobytes()
        assert np.isnan(b.metrics["a"][0]) and b.metrics["a"][1] == tiny
        assert b.diverged.tolist() == [True, False, False]
        assert b.diverged_step.tolist() == [3, -1, -1]
        assert a.curves["loss"].tolist() == [[0, 1], [4, 5], [8, 9]]
        assert s.values(fp, "a")[(keys[0], 1)] == -2.25
        assert {k: v.tolist() for k, v in s.seeds_by_setting(fp).items()} == \
            {keys[0]: [0, 1, 2], keys[1]: [0, 1, 2]}
        rows = list(s.export_rows())
        # the plain-SQL view gives the export's rows, in SQL alone
        view = s.db.execute("SELECT study, fingerprint, setting, seed, metric, value, "
                            "diverged, diverged_step FROM run_metrics ORDER BY setting, "
                            "seed").fetchall()
        assert [tuple(v) for v in view] == rows
        assert [r[5] for r in rows] == [1.5, -2.25, 3.0, None, tiny, -0.0]
        per_run = s.db.execute("SELECT setting, seed, diverged, diverged_step FROM runs "
                               "ORDER BY setting, seed").fetchall()
        assert [tuple(x) for x in per_run][3] == (keys[1], 0, 1, 3)
        assert [n for n, _, _ in s.studies()] == ["backend/unit"]
        assert s.latest("backend/unit") == fp and s.versions("backend/unit") == [fp]


def test_a_reader_writes_nothing_and_a_newer_version_is_refused(store_url):
    if "://" in store_url:
        with pytest.raises(UserError, match=r"holds no results; run `jaxstab run` first"):
            open_store(store_url, create=False)
    with closing(open_store(store_url)) as s:
        s.ensure_study(_study())
        with s.transaction():
            s.db.execute("UPDATE meta SET value='3' WHERE key='schema'")
    with pytest.raises(UserError, match=r"has schema version '3', this jaxstab reads "
                                        r"version 2.*a newer jaxstab wrote it"):
        open_store(store_url, create=False)


def test_chunk_sizes_and_looks_are_decided_once(store_url):
    with closing(open_store(store_url)) as s, closing(open_store(store_url)) as t:
        fp = s.ensure_study(_study())
        assert s.group_chunk_size(fp, "g") == -1
        assert s.group_chunk_size(fp, "g", 7) == 7
        assert t.group_chunk_size(fp, "g", 9) == 7  # the first recorded wins
        assert t.group_chunk_size(fp, "h") is None
        first = {"look": 0, "claims": [{"claim": "c", "status": "undecided"}]}
        assert s.write_look(fp, 0, first) == first
        # a second worker finishing the same round reads the first one's decision
        assert t.write_look(fp, 0, {"look": 0, "claims": []}) == first
        assert t.looks(fp) == [first]
        s.write_search_picks(fp, [{"x": float("nan")}, {"x": 1.0}])
        assert t.search_picks(fp) == [{"x": None}, {"x": 1.0}]


def test_a_unit_is_leased_to_one_owner_until_released_or_expired(store_url):
    study = _study()
    settings = study.settings()
    us = [(u.id, u.ranges) for u in units(settings, 6, 4)]
    with closing(open_store(store_url)) as a, closing(open_store(store_url)) as b:
        fp = a.ensure_study(study)
        got = a.take_lease(fp, "A", us, timeout=60)
        assert got.index == 0 and got.wait is None
        got = b.take_lease(fp, "B", us, timeout=0.3)  # unit 0 is A's: B gets unit 1
        assert got.index == 1 and 59 < got.wait <= 60
        assert b.take_lease(fp, "C", us[:2], timeout=60).index is None
        time.sleep(0.5)  # B's lease expired (no heartbeat): C takes unit 1 over
        assert b.take_lease(fp, "C", us[:2], timeout=60).index == 1
        runs = _runs([settings[0].key], [0] * 4, np.arange(4), np.ones(4))
        a.write_chunk(fp, runs, 0.0, {}, release=(us[0][0], "A"))
        got = b.take_lease(fp, "D", us, timeout=60)  # 0: complete; 1: C's; so 2
        assert (got.index, got.finished) == (2, [0])
        beat = b.heartbeat("D", 0.4)
        try:
            time.sleep(1.2)  # three timeouts: renewed every 0.1 s
            assert a.take_lease(fp, "E", us[2:], timeout=60).index is None
        finally:
            beat.stop()


def _dead_pid() -> int:
    p = subprocess.Popen([sys.executable, "-c", "pass"])
    p.wait()
    return p.pid


@pytest.mark.parametrize("host", ["this", "another"])
def test_a_dead_owners_lease_is_freed_at_once_here_and_at_expiry_elsewhere(store_url,
                                                                          host):
    """A lease of a process of this machine that is gone is taken over at once; on
    another host a pid says nothing, so only the expiry frees it."""
    study = _study()
    us = [(u.id, u.ranges) for u in units(study.settings(), 6, 12)]
    name = socket.gethostname() if host == "this" else "node-elsewhere"
    dead = f"{name}:{_dead_pid()}:cafe"
    with closing(open_store(store_url)) as s:
        fp = s.ensure_study(study)
        assert s.take_lease(fp, dead, us, timeout=1.5).index == 0
        got = s.take_lease(fp, "B", us, timeout=60)
        if host == "this":
            assert got.index == 0
            return
        assert got.index is None and 0 < got.wait <= 1.5
        time.sleep(got.wait + 0.2)
        assert s.take_lease(fp, "B", us, timeout=60).index == 0


# ------------------------------------------------------------ workers, for real

SEQ = """name = "seq/workers"
task = "seqtask:make_train"
seeds = 8
vary = ["init"]
main_metric = "score"

[factors]
shift = [0.0, 0.15, 1.0]

[[claims]]
text = "a large shift raises the score"
metric = "score"
kind = "mean"
direction = "greater"
a = {shift = 1.0}
b = {shift = 0.0}

[[claims]]
text = "a small shift raises the score"
metric = "score"
kind = "mean"
direction = "greater"
a = {shift = 0.15}
b = {shift = 0.0}
"""
ARGS = ("--until-decided", "--max-seeds", "256", "--chunk-size", "8",
        "--lease-timeout", "3")


def _cmd(d: Path, store: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "jaxstab.cli", *args, "--store", store]


def _env(d: Path) -> dict:
    return dict(os.environ, JAX_COMPILATION_CACHE_DIR=str(d / "jax-cache"),
                JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0", PYTHONUNBUFFERED="1",
                JAX_PLATFORMS="cpu")


def _start(d: Path, store: str, tag: str) -> subprocess.Popen:
    out = open(d / f"{tag}.out", "w")  # noqa: SIM115 - the process writes it
    p = subprocess.Popen(_cmd(d, store, "run", str(d / "seq.toml"), *ARGS), cwd=d,
                         env=_env(d), stdout=out, stderr=subprocess.STDOUT)
    p.log = d / f"{tag}.out"
    return p


def _verdicts(text: str) -> list[str]:
    return [line for line in text.splitlines()
            if re.match(r"^\s+(holds|refuted|futile|not shown|undecided)\s", line)]


def _export(d: Path, store: str) -> str:
    p = subprocess.run(_cmd(d, store, "export", "--out", "-"), cwd=d, env=_env(d),
                       capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr
    return p.stdout


def test_three_workers_killed_and_restarted_end_as_one_process(tmp_path, pg_server):
    """Three `jaxstab run --until-decided` workers on one PostgreSQL store; two of them
    SIGKILLed at random moments and restarted, twice each: every run stored once, the
    export and the looks of one SQLite process alone, and every worker that finishes
    prints that process's verdicts."""
    d = tmp_path
    shutil.copy(HERE / "seqtask.py", d / "seqtask.py")
    (d / "seq.toml").write_text(SEQ)
    ref = _start(d, str(d / "ref.sqlite"), "ref")
    assert ref.wait(timeout=300) == 0, ref.log.read_text()
    want = _verdicts(ref.log.read_text())
    assert len(want) == 2, ref.log.read_text()
    url = pg_server("workers")
    rng = random.Random(0)
    workers = [_start(d, url, f"w{i}") for i in range(3)]
    for kill in range(4):
        time.sleep(rng.uniform(1.0, 6.0))
        i = 1 + kill % 2
        if workers[i].poll() is None:
            workers[i].send_signal(signal.SIGKILL)
            workers[i].wait(timeout=60)
        workers[i] = _start(d, url, f"w{i}-{kill}")
    for w in workers:
        assert w.wait(timeout=600) == 0, w.log.read_text()[-3000:]
        assert _verdicts(w.log.read_text()) == want, w.log.read_text()[-3000:]
    with closing(open_store(url, create=False)) as s:
        dup = s.db.execute("SELECT setting, seed FROM runs GROUP BY setting, seed "
                           "HAVING COUNT(*) > 1").fetchall()
        assert dup == []
        assert s.db.execute("SELECT COUNT(*) FROM leases").fetchone()[0] == 0
        fp = s.latest("seq/workers")
        looks = s.looks(fp)
    with closing(open_store(d / "ref.sqlite", create=False)) as r:
        assert looks == r.looks(fp)
    assert _export(d, url) == _export(d, str(d / "ref.sqlite"))
    compared = [subprocess.run(_cmd(d, store, "compare", "seq/workers"), cwd=d, env=_env(d),
                               capture_output=True, text=True, timeout=300)
                for store in (url, str(d / "ref.sqlite"))]
    assert [c.returncode for c in compared] == [0, 0], [c.stderr for c in compared]
    assert compared[0].stdout == compared[1].stdout


@pytest.mark.parametrize("command", [["export"], ["compare", "x/y"], ["report"],
                                     ["run", "article/example2", "--seeds", "2"]])
def test_an_unreachable_server_is_one_line_and_exit_2(tmp_path, capsys, command):
    from jaxstab import cli

    url = "postgresql://me:secret@127.0.0.1:9/nowhere?connect_timeout=2"
    rc = cli.main([*command, "--store", url])
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2 and len(err) == 1, err
    assert err[0].startswith("jaxstab: error: --store: cannot connect to "
                             "postgresql://me:***@127.0.0.1:9/nowhere"), err
    assert "secret" not in err[0]
