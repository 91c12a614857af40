"""SQLite results store. Each finished chunk is committed in one transaction; runs are
keyed by (study fingerprint, setting, seed), so re-running resumes and a changed study
gets a new fingerprint instead of mixing with old results."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import quote

import numpy as np

from jaxstab._check import trusted
from jaxstab.errors import UserError
from jaxstab.study import Study, study_from_dict

SCHEMA_VERSION = 1
_TABLES = ("meta", "studies", "chunks", "runs", "metrics", "curves")
_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS studies (
    fingerprint TEXT PRIMARY KEY, name TEXT NOT NULL, config TEXT NOT NULL,
    created REAL NOT NULL);
CREATE TABLE IF NOT EXISTS chunks (
    id INTEGER PRIMARY KEY AUTOINCREMENT, fingerprint TEXT NOT NULL, finished REAL NOT NULL,
    seconds REAL NOT NULL, runs INTEGER NOT NULL, env TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS runs (
    fingerprint TEXT NOT NULL, setting TEXT NOT NULL, seed INTEGER NOT NULL,
    chunk INTEGER NOT NULL, diverged INTEGER NOT NULL, diverged_step INTEGER,
    PRIMARY KEY (fingerprint, setting, seed));
CREATE TABLE IF NOT EXISTS metrics (
    fingerprint TEXT NOT NULL, setting TEXT NOT NULL, seed INTEGER NOT NULL,
    metric TEXT NOT NULL, value REAL,
    PRIMARY KEY (fingerprint, setting, seed, metric));
CREATE TABLE IF NOT EXISTS curves (
    fingerprint TEXT NOT NULL, setting TEXT NOT NULL, seed INTEGER NOT NULL,
    name TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (fingerprint, setting, seed, name));
CREATE TABLE IF NOT EXISTS search_picks (
    fingerprint TEXT NOT NULL, pick INTEGER NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (fingerprint, pick));
CREATE TABLE IF NOT EXISTS looks (
    fingerprint TEXT NOT NULL, look INTEGER NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (fingerprint, look));
"""


@dataclass(frozen=True)
class SettingResults:
    key: str
    factors: dict
    sources: tuple
    seeds: np.ndarray
    metrics: dict  # name -> (n,) float array, NaN where missing (a diverged run)
    diverged: np.ndarray
    diverged_step: np.ndarray  # -1 where the run did not diverge
    curves: dict  # name -> (n, epochs) float array


@dataclass(frozen=True)
class StudyResults:
    """A study's runs read back: ``settings`` in grid order, each with its factor values
    as a dict and its metrics as NumPy arrays over seeds."""

    study: Study
    fingerprint: str
    settings: list
    chunks: list  # dicts: finished, seconds, runs, env

    def values(self, metric: str) -> list[tuple[dict, np.ndarray]]:
        """``[(factors, values over seeds)]``, NaN where a run diverged."""
        out = []
        for s in self.settings:
            if metric not in s.metrics and len(s.seeds):
                known = sorted({m for x in self.settings for m in x.metrics})
                raise UserError(f"metric: `{metric}` is not recorded for {self.study.name}; "
                                f"it has: {', '.join(known)}")
            out.append((dict(s.factors), s.metrics.get(metric, np.full(len(s.seeds),
                                                                         np.nan))))
        return out

    def setting(self, **factors) -> "SettingResults":
        """The one setting with these factor values."""
        found = [s for s in self.settings
                 if all(k in s.factors and s.factors[k] == v for k, v in factors.items())]
        if len(found) != 1:
            raise UserError(f"setting: {factors} matches {len(found)} settings of "
                            f"{self.study.name}; it must match exactly one")
        return found[0]


class Store:
    """``on_wait(message)`` is called once if a write has to wait for another process
    holding the store's write lock (the CLI prints it), before waiting for as long as it
    takes."""

    def __init__(self, path: str | os.PathLike, *, create: bool = True,
                 on_wait: Callable[[str], None] | None = None):
        self.path = Path(path)
        self._on_wait, self._waited = on_wait, False
        existed = self.path.exists()
        if existed and self.path.is_dir():
            raise UserError(f"--store: {self.path} is a folder, expected a file")
        if not existed and not create:
            raise UserError(f"--store: no results store at {self.path}; run `jaxstab run` "
                            f"first")
        if not existed and not self.path.parent.is_dir():
            why = (f"{self.path.parent} is not a folder" if self.path.parent.exists()
                   else f"folder {self.path.parent} does not exist")
            raise UserError(f"--store: cannot create {self.path}: {why}")
        if existed and create and not os.access(self.path, os.R_OK | os.W_OK):
            raise UserError(f"--store: {self.path} is not writable")
        try:
            if existed and not create and not (
                    os.access(self.path, os.W_OK) and os.access(self.path.parent, os.W_OK)):
                # A store we cannot write to (a read-only folder or file) is still
                # readable: SQLite's WAL mode would need to create its -shm file, which
                # an immutable read-only open does not.
                uri = f"file:{quote(str(self.path.resolve()))}?mode=ro&immutable=1"
                self.db = sqlite3.connect(uri, uri=True, isolation_level=None)
            else:
                self.db = sqlite3.connect(self.path, timeout=60, isolation_level=None)
        except sqlite3.Error as e:
            raise UserError(f"--store: cannot open {self.path} ({e})") from None
        try:
            self._open(existed, create)
        except BaseException as e:
            self.db.close()
            if isinstance(e, sqlite3.OperationalError):
                verb = "use" if existed else "create"
                raise UserError(f"--store: cannot {verb} {self.path} ({e})") from None
            if isinstance(e, sqlite3.DatabaseError):
                raise UserError(f"--store: {self.path} is not a usable results store "
                                f"({e})") from None
            raise

    def _open(self, existed: bool, create: bool) -> None:
        # Everything is checked read-only first, so a store this jaxstab cannot use (a
        # damaged file, another program's database, another schema version) is left
        # byte for byte as it was; switching to WAL would already rewrite its header.
        fresh = not self._check() if existed else True
        if not create:
            if fresh:
                raise UserError(f"--store: {self.path} holds no results; run `jaxstab run` "
                                f"first")
            return
        if not fresh:
            # A damaged page is only found by reading it; find it before appending.
            bad = self.db.execute("PRAGMA quick_check").fetchone()[0]
            if bad != "ok":
                raise UserError(f"--store: {self.path} is not a usable results store "
                                f"(damaged: {bad.splitlines()[-1]})")
        self.db.execute("PRAGMA journal_mode=WAL")
        with self._tx():
            # One statement at a time: executescript() would commit mid-transaction.
            for stmt in _SCHEMA.split(";"):
                if stmt.strip():
                    self.db.execute(stmt)
            # Re-read under the write lock: another process may have created it meanwhile.
            row = self.db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
            if row is None:
                self.db.execute("INSERT INTO meta VALUES ('schema', ?)",
                                (str(SCHEMA_VERSION),))
            elif row[0] != str(SCHEMA_VERSION):
                raise self._version_error(row[0])

    def _check(self) -> bool:
        """Whether the existing file holds a store of this schema (False: an empty
        database, e.g. one whose creation was interrupted); raise if it is unusable."""
        tables = {r[0] for r in self.db.execute(
            "SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables:
            return False
        row = self.db.execute("SELECT value FROM meta WHERE key='schema'").fetchone() \
            if "meta" in tables else None
        if row is None:
            raise UserError(f"--store: {self.path} is an SQLite database but not a jaxstab "
                            f"results store (it has tables {', '.join(sorted(tables))})")
        if str(row[0]) != str(SCHEMA_VERSION):
            raise self._version_error(row[0])
        missing = sorted(set(_TABLES) - tables)
        if missing:
            raise UserError(f"--store: {self.path} is not a usable results store (damaged: "
                            f"table {missing[0]} is missing)")
        return True

    def _version_error(self, found) -> UserError:
        return UserError(f"--store: {self.path} has schema version {found!r}, this jaxstab "
                         f"reads version {SCHEMA_VERSION}; use another --store")

    @contextmanager
    def _tx(self):
        # BEGIN IMMEDIATE takes the write lock up front, so two processes writing the same
        # store serialize instead of failing halfway through a chunk.
        self._begin()
        try:
            yield
        except BaseException:
            if self.db.in_transaction:  # SQLite may have rolled back already (disk full)
                self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    def _begin(self) -> None:
        # Short tries, so that Ctrl-C is seen between them while another process writes.
        self.db.execute("PRAGMA busy_timeout=2000")
        while True:
            try:
                self.db.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as e:
                if "locked" not in str(e) and "busy" not in str(e):
                    raise
            if not self._waited and self._on_wait is not None:
                self._on_wait(f"{self.path} is being written by another process; waiting "
                              f"for its lock")
            self._waited = True

    def close(self) -> None:
        self.db.close()

    def ensure_study(self, study: Study) -> str:
        fp = study.fingerprint
        with self._tx():
            self.db.execute(
                "INSERT INTO studies VALUES (?, ?, ?, ?) ON CONFLICT(fingerprint) DO UPDATE "
                "SET config=excluded.config, name=excluded.name",
                (fp, study.name, json.dumps(study.to_dict()), time.time()))
        return fp

    def chunk_size(self, fingerprint: str) -> int | None:
        """The chunk size the study's runs were trained with (the last one recorded):
        a resume pads to it, so that resumed runs are bit-identical to uninterrupted
        ones (a batched program's rounding can depend on its batch size)."""
        for (env,) in self.db.execute("SELECT env FROM chunks WHERE fingerprint=? ORDER BY "
                                      "id DESC", (fingerprint,)):
            size = json.loads(env).get("chunk_size")
            if size:
                return int(size)
        return None

    def done(self, fingerprint: str) -> set[tuple[str, int]]:
        rows = self.db.execute("SELECT setting, seed FROM runs WHERE fingerprint=?",
                               (fingerprint,))
        return {(s, int(k)) for s, k in rows}

    def values(self, fingerprint: str, metric: str) -> dict[tuple[str, int], float]:
        """(setting, seed) -> ``metric`` of every stored run (NaN where it diverged)."""
        rows = self.db.execute(
            "SELECT r.setting, r.seed, m.value FROM runs r LEFT JOIN metrics m ON "
            "m.fingerprint=r.fingerprint AND m.setting=r.setting AND m.seed=r.seed AND "
            "m.metric=? WHERE r.fingerprint=?", (metric, fingerprint))
        return {(s, int(k)): np.nan if v is None else float(v) for s, k, v in rows}

    def write_chunk(self, fingerprint: str, records, seconds: float, env: dict) -> int:
        """Commit one chunk's runs atomically; runs already present are left alone."""
        with self._tx():
            cur = self.db.execute(
                "INSERT INTO chunks (fingerprint, finished, seconds, runs, env) "
                "VALUES (?, ?, ?, ?, ?)",
                (fingerprint, time.time(), seconds, len(records), json.dumps(env)))
            chunk = cur.lastrowid
            added = 0
            for r in records:
                cur = self.db.execute(
                    "INSERT OR IGNORE INTO runs VALUES (?, ?, ?, ?, ?, ?)",
                    (fingerprint, r.setting, r.seed, chunk, int(r.diverged), r.diverged_step))
                if cur.rowcount == 0:
                    continue  # another process finished this run first
                added += 1
                self.db.executemany(
                    "INSERT INTO metrics VALUES (?, ?, ?, ?, ?)",
                    [(fingerprint, r.setting, r.seed, k, v) for k, v in r.metrics.items()])
                self.db.executemany(
                    "INSERT INTO curves VALUES (?, ?, ?, ?, ?)",
                    [(fingerprint, r.setting, r.seed, k, json.dumps(v))
                     for k, v in r.curves.items()])
        return added

    def studies(self) -> list[tuple[str, str, float]]:
        """(name, fingerprint, last run) of every study, the most recently run version
        of a name last (a version's last run: its newest chunk, else its creation)."""
        return list(self.db.execute(
            "SELECT s.name, s.fingerprint, COALESCE(MAX(c.finished), s.created) AS last "
            "FROM studies s LEFT JOIN chunks c USING (fingerprint) GROUP BY s.fingerprint "
            "ORDER BY s.name, last, s.fingerprint"))

    def latest(self, name: str) -> str:
        """The fingerprint of the most recently run version of ``name``."""
        rows = [fp for n, fp, _ in self.studies() if n == name]
        if not rows:
            known = sorted({n for n, _, _ in self.studies()})
            raise UserError(f"study: no results for `{name}` in {self.path}; it holds: "
                            f"{', '.join(known) or 'nothing'}")
        return rows[-1]

    def versions(self, name: str) -> list[str]:
        """Every stored version (fingerprint) of ``name``, the most recently run last."""
        return [fp for n, fp, _ in self.studies() if n == name]

    def results(self, fingerprint: str) -> StudyResults:
        row = self.db.execute("SELECT config FROM studies WHERE fingerprint=?",
                              (fingerprint,)).fetchone()
        if row is None:
            raise UserError(f"study: no study with fingerprint {fingerprint}")
        with trusted():  # checked when it ran; its files and modules may be elsewhere now
            study = study_from_dict(json.loads(row[0]))
        settings = []
        for setting in study.settings():
            key = setting.key
            runs = self.db.execute(
                "SELECT seed, diverged, diverged_step FROM runs WHERE fingerprint=? AND "
                "setting=? ORDER BY seed", (fingerprint, key)).fetchall()
            seeds = np.array([r[0] for r in runs], np.int64)
            pos = {int(k): i for i, k in enumerate(seeds)}
            metrics: dict[str, np.ndarray] = {}
            for seed, metric, value in self.db.execute(
                    "SELECT seed, metric, value FROM metrics WHERE fingerprint=? AND "
                    "setting=?", (fingerprint, key)):
                arr = metrics.setdefault(metric, np.full(len(seeds), np.nan))
                arr[pos[seed]] = np.nan if value is None else value
            curves: dict[str, list] = {}
            for seed, name, value in self.db.execute(
                    "SELECT seed, name, value FROM curves WHERE fingerprint=? AND setting=?",
                    (fingerprint, key)):
                curves.setdefault(name, [None] * len(seeds))[pos[seed]] = json.loads(value)
            settings.append(SettingResults(
                key=key, factors=dict(setting.factors), sources=setting.vary, seeds=seeds,
                metrics=metrics,
                diverged=np.array([bool(r[1]) for r in runs], bool),
                diverged_step=np.array([-1 if r[2] is None else r[2] for r in runs], np.int64),
                curves={k: np.array(v, float) for k, v in curves.items()}))
        chunks = [dict(finished=f, seconds=s, runs=n, env=json.loads(e)) for f, s, n, e in
                  self.db.execute("SELECT finished, seconds, runs, env FROM chunks WHERE "
                                  "fingerprint=? ORDER BY id", (fingerprint,))]
        return StudyResults(study, fingerprint, settings, chunks)

    def write_search_picks(self, fingerprint: str, rows: list[dict]) -> None:
        """A finished search's picks (replacing any earlier copy), in one transaction."""
        with self._tx():
            self.db.execute("DELETE FROM search_picks WHERE fingerprint=?", (fingerprint,))
            self.db.executemany(
                "INSERT INTO search_picks VALUES (?, ?, ?)",
                [(fingerprint, i, json.dumps(r, allow_nan=False, default=_none))
                 for i, r in enumerate(_nan_to_none(rows))])

    def search_picks(self, fingerprint: str) -> list[dict]:
        tables = {r[0] for r in self.db.execute(
            "SELECT name FROM sqlite_master WHERE type='table'")}
        if "search_picks" not in tables:  # a store written before picks were stored
            return []
        return [json.loads(v) for (v,) in self.db.execute(
            "SELECT value FROM search_picks WHERE fingerprint=? ORDER BY pick",
            (fingerprint,))]

    def write_look(self, fingerprint: str, look: int, value: dict) -> None:
        """One look of a sequential run (``--until-decided``): its seeds and, per claim,
        the statistic, boundaries and decision; written once per look."""
        with self._tx():
            self.db.execute("INSERT OR REPLACE INTO looks VALUES (?, ?, ?)",
                            (fingerprint, look, json.dumps(_nan_to_none(value),
                                                           allow_nan=False, default=_none)))

    def looks(self, fingerprint: str) -> list[dict]:
        """The recorded looks of a sequential run, in order ([] for a fixed design)."""
        tables = {r[0] for r in self.db.execute(
            "SELECT name FROM sqlite_master WHERE type='table'")}
        if "looks" not in tables:  # a store written before sequential runs existed
            return []
        return [json.loads(v) for (v,) in self.db.execute(
            "SELECT value FROM looks WHERE fingerprint=? ORDER BY look", (fingerprint,))]

    def export_rows(self):
        """(study, fingerprint, setting, seed, metric, value, diverged, diverged_step)."""
        return self.db.execute(
            "SELECT s.name, m.fingerprint, m.setting, m.seed, m.metric, m.value, r.diverged, "
            "r.diverged_step FROM metrics m JOIN studies s USING (fingerprint) "
            "JOIN runs r USING (fingerprint, setting, seed) "
            "ORDER BY s.name, m.fingerprint, m.setting, m.seed, m.metric")


def _none(value):
    raise TypeError(f"not JSON: {value!r}")


def _nan_to_none(value):
    if isinstance(value, float) and value != value:
        return None
    if isinstance(value, dict):
        return {k: _nan_to_none(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_nan_to_none(v) for v in value]
    return value
