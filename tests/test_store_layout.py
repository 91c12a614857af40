"""The store's layout (schema version 2): blocks written from a chunk's arrays, the
upgrade of a version-1 store (a store made by that version is kept in tests/fixtures/
with its export), the SQL views, and what the write path leaves alone."""

from __future__ import annotations

import csv
import io
import math
import os
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pytest

from jaxstab import cli
from jaxstab.errors import UserError
from jaxstab.runs import Runs
from jaxstab.store import SCHEMA_VERSION, Store
from jaxstab.store import _migrate
from jaxstab.loader import study_from_dict

FIXTURES = Path(__file__).parent / "fixtures"
V1, V1_CSV = FIXTURES / "store_v1.sqlite", FIXTURES / "store_v1.csv"


def _export(store: Path, tmp_path: Path) -> str:
    out = tmp_path / "export.csv"
    assert cli.main(["export", "--store", str(store), "--out", str(out)]) == 0
    return out.read_text()


def _schema(path: Path) -> str:
    with closing(sqlite3.connect(path)) as db:
        return db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()[0]


@pytest.fixture
def v1(tmp_path) -> Path:
    path = tmp_path / "v1.sqlite"
    shutil.copy(V1, path)
    return path


def test_the_fixture_is_a_version_1_store():
    assert _schema(V1) == "1" and SCHEMA_VERSION == 2
    assert V1.stat().st_size < 300_000


def test_a_reader_upgrades_a_copy_in_memory_and_writes_nothing(v1, tmp_path):
    before = v1.read_bytes()
    assert _export(v1, tmp_path) == V1_CSV.read_text()
    assert v1.read_bytes() == before and _schema(v1) == "1"
    assert sorted(os.listdir(tmp_path)) == ["export.csv", "v1.sqlite"]  # no -wal, no -shm


def test_a_read_only_version_1_store_is_read(v1, tmp_path, monkeypatch):
    before = v1.read_bytes()
    real = os.access  # as in a read-only folder (a chmod does not stop root)
    monkeypatch.setattr("os.access", lambda path, mode: False if mode & os.W_OK
                        else real(path, mode))
    with closing(Store(v1, create=False)) as s:
        rows = list(s.export_rows())
        assert s.looks(s.latest("fixture/sgd"))
    assert len(rows) == len(V1_CSV.read_text().splitlines()) - 1
    assert v1.read_bytes() == before and sorted(os.listdir(tmp_path)) == ["v1.sqlite"]


def test_a_writer_upgrades_in_place_and_every_row_reads_the_same(v1, tmp_path):
    with closing(Store(v1)) as s:  # what `jaxstab run` and `import` open
        fp = s.latest("fixture/sgd")
        assert s.looks(fp) == [{"seeds": 3, "claims": [{"statistic": 1.5,
                                                          "decision": None}]}]
        assert [p["score"] for p in s.search_picks(fp)] == [0.75, None]
        res = s.results(fp)
        high = res.setting(learning_rate=1000.0)
        assert high.diverged.tolist() == [True, False, True]
        assert high.diverged_step.tolist() == [3, -1, 3]
        assert math.isnan(high.metrics["train_accuracy"][0])
        assert high.curves["loss"].shape == (3, 2)
        assert sum(c["runs"] for c in res.chunks) == 9 and len(res.chunks) == 5
        ex1 = s.results(s.latest("article/example1"))
        assert {k: v.shape for k, v in ex1.settings[0].curves.items()} == {
            "loss": (3, 30), "test_correct": (3, 20)}
    assert _schema(v1) == "2"
    assert _export(v1, tmp_path) == V1_CSV.read_text()
    with closing(sqlite3.connect(v1)) as db:
        tables = {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
        assert not tables & {"metrics", "curves", "v1_runs", "v1_metrics", "v1_studies"}
        assert db.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    # and it keeps working as a version-2 store: a resume appends to it
    with closing(Store(v1)) as s:
        fp = s.latest("fixture/imported")
        rec = SimpleNamespace(setting='{"setting":"low"}', seed=2, diverged=False,
                              diverged_step=None, metrics={"acc": 0.25, "loss": 0.5,
                                                           "diverged": 0.0}, curves={})
        assert s.write_chunk(fp, [rec], 0.0, {}) == 1
        assert s.results(fp).setting(setting="low").seeds.tolist() == [0, 1, 2]


def test_an_interrupted_upgrade_leaves_version_1_as_it_was(v1, tmp_path, monkeypatch):
    calls = []

    def fail_midway(*args):
        calls.append(1)
        if len(calls) == 2:  # some blocks are written by then
            raise KeyboardInterrupt
        return real(*args)

    real = _migrate._write
    monkeypatch.setattr(_migrate, "_write", fail_midway)
    with pytest.raises(KeyboardInterrupt):
        Store(v1)
    monkeypatch.undo()
    assert _schema(v1) == "1"
    with closing(sqlite3.connect(v1)) as db:
        assert db.execute("SELECT COUNT(*) FROM runs").fetchone()[0] == 19
        assert "blocks" not in {r[0] for r in db.execute("SELECT name FROM sqlite_master")}
    assert _export(v1, tmp_path) == V1_CSV.read_text()


@pytest.mark.parametrize("version, hint", [("3", "a newer jaxstab wrote it: upgrade "
                                                   "jaxstab, or use another --store"),
                                           ("0", "use another --store")])
def test_another_schema_version_is_refused_in_one_line(v1, version, hint):
    with closing(sqlite3.connect(v1)) as db:
        db.execute("UPDATE meta SET value=? WHERE key='schema'", (version,))
        db.commit()
    before = v1.read_bytes()
    for create in (True, False):
        with pytest.raises(UserError, match=rf"has schema version '{version}', this jaxstab "
                                            rf"reads version 2 \(and upgrades version 1\); "
                                            rf"{hint}$"):
            Store(v1, create=create)
    assert v1.read_bytes() == before


def test_the_sql_views_decode_the_blocks_in_plain_sqlite(v1):
    with closing(Store(v1)) as s:
        want = list(s.export_rows())
    with closing(sqlite3.connect(v1)) as db:  # no function registered: plain SQL
        got = db.execute("SELECT study, fingerprint, setting, seed, metric, value, "
                         "diverged, diverged_step FROM run_metrics ORDER BY study, "
                         "fingerprint, setting, seed, metric").fetchall()
        runs = db.execute("SELECT fingerprint, setting, seed, diverged, diverged_step "
                          "FROM runs ORDER BY fingerprint, setting, seed").fetchall()
    assert got == want and any(r[5] is None for r in got) and any(r[6] for r in got)
    assert runs == sorted({(r[1], r[2], r[3], r[6], r[7]) for r in want})


def _study(settings: int = 2):
    return study_from_dict({"name": "t/layout", "seeds": 4, "data": {"n_samples": 64},
                            "model": {"hidden": [8]},
                            "train": {"batch_size": 16, "epochs": 1},
                            "factors": {"learning_rate": [0.001, 0.01, 0.1][:settings]}})


def _runs(keys, seeds, rng, *, diverged=()):
    n = len(seeds)
    which = np.arange(n) % len(keys)
    div = np.isin(np.arange(n), list(diverged))
    vals = {m: np.where(div, np.nan, rng.standard_normal(n)) for m in ("b", "a", "c")}
    vals["diverged"] = div.astype(float)
    return Runs.build(keys, which, seeds, div, np.where(div, 7, 0), vals,
                      {"loss": rng.standard_normal((n, 3))})


def test_values_round_trip_exactly_and_stored_runs_are_left_alone(tmp_path):
    rng = np.random.default_rng(1)
    study = _study()
    keys = [s.key for s in study.settings()]
    with closing(Store(tmp_path / "s.sqlite")) as s:
        fp = s.ensure_study(study)
        # 2 * 1500 runs: blocks of at most 1024 runs; two runs diverged
        first = _runs(keys, np.repeat(np.arange(1500), 2), rng, diverged=(3, 2000))
        assert s.write_chunk(fp, first, 1.0, {}) == 3000
        # half of these are stored already, and one run comes twice in the chunk
        seeds = np.r_[np.repeat(np.arange(1400, 1600), 2), 1599, 1599]
        again = _runs(keys, seeds, rng)
        assert s.write_chunk(fp, again, 1.0, {}) == 200
        res = s.results(fp)
        with closing(sqlite3.connect(tmp_path / "s.sqlite")) as db:
            assert db.execute("SELECT MAX(n) FROM blocks").fetchone()[0] == 1024
    for j, setting in enumerate(res.settings):
        assert setting.seeds.tolist() == list(range(1600))
        mine = first.setting == j
        np.testing.assert_array_equal(setting.metrics["a"][:1500], first.metrics["a"][mine])
        np.testing.assert_array_equal(setting.curves["loss"][:1500], first.curves["loss"][mine])
        # the later chunk's own values for its new runs, its first copy of a repeat
        new = (again.setting == j) & (again.seeds >= 1500)
        firsts = np.unique(again.seeds[new], return_index=True)[1]
        np.testing.assert_array_equal(setting.metrics["c"][1500:],
                                      again.metrics["c"][new][firsts])
    low = res.settings[0]
    assert low.diverged.sum() == 1 and low.diverged_step[low.diverged].tolist() == [7]
    assert np.isnan(low.metrics["a"][low.diverged]).all()


def test_per_run_records_keep_their_own_metrics(tmp_path):
    """Records whose metric sets differ (an imported file with a gap) export the metrics
    each run has, no more, as version 1 did."""
    study = _study()
    a, b = (s.key for s in study.settings())
    recs = [SimpleNamespace(setting=a, seed=0, diverged=False, diverged_step=None,
                            metrics={"x": 1.0, "y": 2.0}, curves={}),
            SimpleNamespace(setting=a, seed=1, diverged=False, diverged_step=None,
                            metrics={"x": 3.0}, curves={}),
            SimpleNamespace(setting=b, seed=0, diverged=True, diverged_step=0,
                            metrics={"x": None, "y": None}, curves={})]
    with closing(Store(tmp_path / "s.sqlite")) as s:
        fp = s.ensure_study(study)
        assert s.write_chunk(fp, recs, 0.0, {}) == 3
        rows = [r[2:] for r in s.export_rows()]
        y = s.values(fp, "y")
        assert s.done(fp) == y.keys() == {(a, 0), (a, 1), (b, 0)} and y[(a, 0)] == 2.0
        assert math.isnan(y[(a, 1)]) and math.isnan(y[(b, 0)])
    assert rows == [(a, 0, "x", 1.0, 0, None), (a, 0, "y", 2.0, 0, None),
                    (a, 1, "x", 3.0, 0, None), (b, 0, "x", None, 1, 0),
                    (b, 0, "y", None, 1, 0)]


def test_export_streams_rows_in_the_order_of_version_1(tmp_path):
    rng = np.random.default_rng(2)
    study = _study(3)
    keys = [s.key for s in study.settings()]
    path = tmp_path / "s.sqlite"
    with closing(Store(path)) as s:
        fp = s.ensure_study(study)
        # seeds written out of order, in two chunks whose seed ranges overlap
        for part in (np.r_[10:20, 0:5], np.r_[5:10, 20:22]):
            s.write_chunk(fp, _runs(keys, np.repeat(part, 3), rng), 1.0, {})
        rows = s.export_rows()
        assert iter(rows) is rows  # a generator: nothing is read before it is asked for
        rows = list(rows)
    assert [r[2:5] for r in rows] == [(k, seed, m) for k in sorted(keys)
                                      for seed in range(22)
                                      for m in ("a", "b", "c", "diverged")]
    text = _export(path, tmp_path)
    parsed = list(csv.reader(io.StringIO(text)))
    assert parsed[0] == ["study", "fingerprint", "setting", "seed", "metric", "value",
                         "diverged", "diverged_step"]
    assert [float(r[5]) for r in parsed[1:]] == [r[5] for r in rows]  # repr round-trips
