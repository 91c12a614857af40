"""The results store: one SQLite file. Each finished chunk is committed in one
transaction; runs are keyed by (study fingerprint, setting, seed), so re-running resumes
and a changed study gets a new fingerprint instead of mixing with old results."""

from __future__ import annotations

import json
import os
import sqlite3
import time
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from jaxstab.errors import UserError
from jaxstab.runs import Runs, from_records
from jaxstab.store import _blocks, _leases, _read
from jaxstab.store._migrate import migrate
from jaxstab.store._results import StudyResults
from jaxstab.store._schema import SCHEMA, SCHEMA_VERSION, TABLES, V1_TABLES, statements

if TYPE_CHECKING:  # (the study layer imports JAX; exporting a store needs none of it)
    from jaxstab.study import Study


class Store:
    """``on_wait(message)`` is called once if a write has to wait for another process
    holding the store's write lock (the CLI prints it), before waiting for as long as it
    takes."""

    def __init__(self, path: str | os.PathLike, *, create: bool = True,
                 on_wait: Callable[[str], None] | None = None):
        self.path = Path(path)
        self._on_wait, self._waited = on_wait, False
        self._nested = None  # depth inside this store's own open transaction
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
        self._uri = None
        try:
            if existed and not create and not (
                    os.access(self.path, os.W_OK) and os.access(self.path.parent, os.W_OK)):
                # A store we cannot write to (a read-only folder or file) is still
                # readable: SQLite's WAL mode would need to create its -shm file, which
                # an immutable read-only open does not.
                self._uri = f"file:{quote(str(self.path.resolve()))}?mode=ro&immutable=1"
                self.db = sqlite3.connect(self._uri, uri=True, isolation_level=None)
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
                # (the schema's own pages can be the damaged ones: it spans several)
                what = f"damaged: {e}" if "malformed database schema" in str(e) else e
                raise UserError(f"--store: {self.path} is not a usable results store "
                                f"({what})") from None
            raise

    def _open(self, existed: bool, create: bool) -> None:
        # Everything is checked read-only first, so a store this jaxstab cannot use (a
        # damaged file, another program's database, another schema version) is left
        # byte for byte as it was; switching to WAL would already rewrite its header.
        version = self._check() if existed else None
        if not create:
            if version is None:
                raise UserError(f"--store: {self.path} holds no results; run `jaxstab run` "
                                f"first")
            if version == 1:
                self._upgrade_copy()
            return
        if version is not None:
            # A damaged page is only found by reading it; find it before appending.
            bad = self.db.execute("PRAGMA quick_check").fetchone()[0]
            if bad != "ok":
                raise UserError(f"--store: {self.path} is not a usable results store "
                                f"(damaged: {bad.splitlines()[-1]})")
        self.db.execute("PRAGMA journal_mode=WAL")
        with self._tx():
            # Re-read under the write lock: another process may have created or upgraded
            # it meanwhile.
            has_meta = self.db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND "
                                       "name='meta'").fetchone()
            row = self.db.execute("SELECT value FROM meta WHERE key='schema'").fetchone() \
                if has_meta else None
            if row is not None and row[0] == "1":
                migrate(self.db)  # in this transaction: all or nothing
            elif row is not None and row[0] != str(SCHEMA_VERSION):
                raise self._version_error(row[0])
            for stmt in statements(SCHEMA):
                self.db.execute(stmt)
            if row is None:
                self.db.execute("INSERT INTO meta VALUES ('schema', ?)",
                                (str(SCHEMA_VERSION),))

    def _check(self) -> int | None:
        """The schema version of the existing file (None: an empty database, e.g. one
        whose creation was interrupted); raise if it is unusable."""
        tables = {r[0] for r in self.db.execute(
            "SELECT name FROM sqlite_master WHERE type='table'")}
        if not tables:
            return None
        row = self.db.execute("SELECT value FROM meta WHERE key='schema'").fetchone() \
            if "meta" in tables else None
        if row is None:
            raise UserError(f"--store: {self.path} is an SQLite database but not a jaxstab "
                            f"results store (it has tables {', '.join(sorted(tables))})")
        version = {"1": 1, str(SCHEMA_VERSION): SCHEMA_VERSION}.get(str(row[0]))
        if version is None:
            raise self._version_error(row[0])
        missing = sorted(set(V1_TABLES if version == 1 else TABLES) - tables)
        if missing:
            raise UserError(f"--store: {self.path} is not a usable results store (damaged: "
                            f"table {missing[0]} is missing)")
        return version

    def _version_error(self, found) -> UserError:
        newer = str(found).isdigit() and int(found) > SCHEMA_VERSION
        what = ("a newer jaxstab wrote it: upgrade jaxstab, or use another --store" if newer
                else "use another --store")
        return UserError(f"--store: {self.path} has schema version {found!r}, this jaxstab "
                         f"reads version {SCHEMA_VERSION} (and upgrades version 1); {what}")

    def _upgrade_copy(self) -> None:
        """A reader of a version-1 store: upgrade a copy in memory, write nothing."""
        mem = sqlite3.connect("file::memory:", uri=True, isolation_level=None)
        where = self._uri or f"file:{quote(str(self.path.resolve()))}?mode=ro"
        mem.execute("ATTACH DATABASE ? AS v1", (where,))
        with _transaction(mem):
            migrate(mem, "v1")
        mem.execute("DETACH DATABASE v1")
        self.db.close()
        self.db = mem

    @contextmanager
    def _tx(self):
        # BEGIN IMMEDIATE takes the write lock up front, so two processes writing the same
        # store serialize instead of failing halfway through a chunk. Inside another
        # transaction of this store's, a part of it (all of it commits, or none).
        if self.db.in_transaction and self._nested is not None:
            self._nested += 1
            try:
                yield
            finally:
                self._nested -= 1
            return
        self._begin()
        self._nested = 0
        try:
            yield
        except BaseException:
            self._nested = None
            if self.db.in_transaction:  # SQLite may have rolled back already (disk full)
                self.db.execute("ROLLBACK")
            raise
        self._nested = None
        try:
            self.db.execute("COMMIT")
        except BaseException:
            if self.db.in_transaction:
                self.db.execute("ROLLBACK")
            raise

    transaction = _tx

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

    def notify(self, message: str) -> None:
        """A line for the user (``on_wait`` prints it, in the CLI)."""
        if self._on_wait is not None:
            self._on_wait(message)

    def close(self) -> None:
        self.db.close()

    def __del__(self):
        # A connection is freed by the cycle collector only (its statement cache refers
        # back to it), so a Store dropped unclosed would keep the file open and, in WAL
        # mode, leave the last checkpoint to whenever that runs.
        db = getattr(self, "db", None)
        if db is not None:
            db.close()

    def ensure_study(self, study: Study) -> str:
        fp = study.fingerprint
        with self._tx():
            self.db.execute(
                "INSERT INTO studies (fingerprint, name, config, created) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(fingerprint) DO UPDATE SET config=excluded.config, "
                "name=excluded.name", (fp, study.name, json.dumps(study.to_dict()),
                                       time.time()))
        return fp

    def _study_id(self, fingerprint: str) -> int:
        row = self.db.execute("SELECT id FROM studies WHERE fingerprint=?",
                              (fingerprint,)).fetchone()
        if row is None:
            raise UserError(f"study: no study with fingerprint {fingerprint}")
        return row[0]

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

    def group_chunk_size(self, fingerprint: str, group: str, size: int | None = None
                         ) -> int | None:
        """The chunk size agreed for one compiled group of a study: the first process to
        give one (``size``) records it, every later one gets the recorded size. None:
        nothing recorded for this group (nor given); ``-1``: nor for any group of the
        study (its runs, if any, came from before sizes were recorded per group)."""
        if size is not None:
            with self._tx():
                self.db.execute("INSERT OR IGNORE INTO chunk_sizes VALUES (?, ?, ?)",
                                (fingerprint, group, int(size)))
        row = self.db.execute("SELECT size FROM chunk_sizes WHERE fingerprint=? AND grp=?",
                              (fingerprint, group)).fetchone()
        if row is not None:
            return int(row[0])
        known = self.db.execute("SELECT 1 FROM chunk_sizes WHERE fingerprint=? LIMIT 1",
                                (fingerprint,)).fetchone()
        return None if known else -1

    def done(self, fingerprint: str) -> set[tuple[str, int]]:
        return _read.done(self.db, fingerprint)

    def seeds_by_setting(self, fingerprint: str) -> dict:
        """Setting key -> the sorted seeds stored for it (NumPy arrays)."""
        return _read.seeds_by_setting(self.db, fingerprint)

    def values(self, fingerprint: str, metric: str) -> dict[tuple[str, int], float]:
        """(setting, seed) -> ``metric`` of every stored run (NaN where it diverged)."""
        return _read.values(self.db, fingerprint, metric)

    def write_chunk(self, fingerprint: str, records, seconds: float, env: dict, *,
                    release: tuple[str, str] | None = None) -> int:
        """Commit one chunk's runs (a ``jaxstab.runs.Runs``, or per-run records)
        atomically; runs already present are left alone. ``release``: (unit, owner) of a
        lease given back in the same transaction. Returns the runs added."""
        parts = [records] if isinstance(records, Runs) else from_records(records)
        with self._tx():
            study = self._study_id(fingerprint)
            cur = self.db.execute(
                "INSERT INTO chunks (fingerprint, finished, seconds, runs, env) "
                "VALUES (?, ?, ?, ?, ?)",
                (fingerprint, time.time(), seconds, sum(map(len, parts)), json.dumps(env)))
            added = 0
            for runs in parts:
                ids = _blocks.setting_ids(self.db, study, runs.keys)
                added += _blocks.insert(self.db, runs, ids, cur.lastrowid)
            if release is not None:
                self.db.execute("DELETE FROM leases WHERE fingerprint=? AND unit=? AND "
                                "owner=?", (fingerprint, *release))
        return added

    def take_lease(self, fingerprint: str, owner: str, units: list, timeout: float):
        """Lease the first free unit with runs left to store (``_leases.take``)."""
        with self._tx():
            return _leases.take(self.db, self._study_id(fingerprint), fingerprint, owner,
                                units, timeout)

    def release_leases(self, owner: str) -> None:
        with self._tx():
            self.db.execute("DELETE FROM leases WHERE owner=?", (owner,))

    def heartbeat(self, owner: str, timeout: float) -> _leases.Heartbeat:
        return _leases.Heartbeat(self.path, owner, timeout)

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
        return _read.results(self.db, fingerprint)

    def write_search_picks(self, fingerprint: str, rows: list[dict]) -> None:
        """A finished search's picks (replacing any earlier copy), in one transaction."""
        with self._tx():
            self.db.execute("DELETE FROM search_picks WHERE fingerprint=?", (fingerprint,))
            self.db.executemany(
                "INSERT INTO search_picks VALUES (?, ?, ?)",
                [(fingerprint, i, json.dumps(r, allow_nan=False, default=_none))
                 for i, r in enumerate(_nan_to_none(rows))])

    def search_picks(self, fingerprint: str) -> list[dict]:
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
        return [json.loads(v) for (v,) in self.db.execute(
            "SELECT value FROM looks WHERE fingerprint=? ORDER BY look", (fingerprint,))]

    def export_rows(self, curves: bool = False):
        """(study, fingerprint, setting, seed, metric, value, diverged, diverged_step),
        ordered by study name, fingerprint, setting, seed and metric; a generator that
        holds one block of runs at a time. ``curves``: a ``step`` ends each row, and the
        curves follow each run's metrics, a row per (curve, step)."""
        return _read.export_rows(self.db, curves)


@contextmanager
def _transaction(db):
    db.execute("BEGIN")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


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
