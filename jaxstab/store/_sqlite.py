"""The SQLite backend: one file. Each finished chunk is committed in one transaction;
runs are keyed by (study fingerprint, setting, seed), so re-running resumes and a changed
study gets a new fingerprint instead of mixing with old results. WAL mode needs memory
shared between the processes, so a file serves the processes of one machine (on NFS it
corrupts): workers on many hosts use a database server (``_postgresql``)."""

from __future__ import annotations

import os
import sqlite3
from collections.abc import Callable
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

from jaxstab.errors import UserError
from jaxstab.store._migrate import migrate
from jaxstab.store._schema import SCHEMA_VERSION, SQLITE, TABLES, V1_TABLES
from jaxstab.store._sql import SQLStore


class SQLiteStore(SQLStore):
    """One SQLite file (WAL mode), shared by the processes of one machine.
    ``on_wait(message)`` is called once if a write has to wait for another process
    holding the store's write lock (the CLI prints it), before waiting for as long as it
    takes."""

    def __init__(self, path: str | os.PathLike, *, create: bool = True,
                 on_wait: Callable[[str], None] | None = None):
        self.path = Path(path)
        self.location = self.where = str(path)
        self.name = self.path.name
        self._on_wait, self._waited = on_wait, False
        self._nested = None  # depth inside this store's own open transaction
        existed = self.path.exists()
        self._created = not existed  # (an import that fails removes the file it made)
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
            for stmt in SQLITE.statements():
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

    def __del__(self):
        # A connection is freed by the cycle collector only (its statement cache refers
        # back to it), so a Store dropped unclosed would keep the file open and, in WAL
        # mode, leave the last checkpoint to whenever that runs.
        db = getattr(self, "db", None)
        if db is not None:
            db.close()

    def _connect(self, timeout: float = 60):
        return sqlite3.connect(self.path, timeout=max(timeout, 0.1), isolation_level=None)


@contextmanager
def _transaction(db):
    db.execute("BEGIN")
    try:
        yield
    except BaseException:
        db.execute("ROLLBACK")
        raise
    db.execute("COMMIT")


Store = SQLiteStore  # the name it had when it was the only backend
BACKEND = SQLiteStore
