"""The PostgreSQL backend (psycopg 3): ``--store postgresql://user@host:port/db``, for
workers on many hosts (a cluster's job array), where an SQLite file cannot be shared.

The tables, the block encoding and every query are the SQL backends' shared ones
(``_sql``, ``_schema``); this module has the dialect (types, JSON list parameters, the
clock, the views decoding blocks in PostgreSQL's own functions) and how to connect. A
write transaction first takes one transaction-level advisory lock, so writers serialize
as SQLite's ``BEGIN IMMEDIATE`` makes them (a chunk's dedup, the next block id and a
lease are decided under it); readers never wait (MVCC). The schema version rules are
SQLite's: a store of a newer version is refused, nothing is written by a reader.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from contextlib import contextmanager
from functools import lru_cache

import psycopg

from jaxstab.errors import UserError
from jaxstab.store._schema import SCHEMA_VERSION, TABLES, Dialect
from jaxstab.store._sql import SQLStore

LOCK = 0x6A61787374616221  # the store's write lock (pg_advisory_xact_lock's key)
_ARRAYS = (("blocks", "seeds"), ("block_metrics", "value"), ("block_curves", "value"))


def _i64(blob: str) -> str:
    """SQL for the big-endian int64 at run position ``ix.i`` of a BLOB column."""
    return f"('x' || encode(substring({blob} FROM 8 * ix.i + 1 FOR 8), 'hex'))::bit(64)::bigint"


_EXP, _MANT = "((v >> 52) & 2047)", "(v & 4503599627370495)"
# An IEEE double from its 64 bits, as the SQLite views decode it; NULL for NaN and inf.
_VALUE = (f"CASE WHEN {_EXP} = 2047 THEN NULL "
          f"WHEN {_EXP} = 0 THEN {_MANT}::float8 * power(2::float8, -1074) "
          f"ELSE ({_MANT} + 4503599627370496)::float8 * power(2::float8, {_EXP} - 1075) END"
          f" * (CASE WHEN v < 0 THEN -1 ELSE 1 END)")
_PER_RUN = (f"CASE WHEN length(b.diverged) > 0 THEN get_byte(b.diverged, ix.i) ELSE 0 END "
            f"AS diverged, CASE WHEN length(b.diverged) = 0 THEN NULL "
            f"WHEN get_byte(b.diverged, ix.i) = 1 THEN {_i64('b.steps')} END "
            f"AS diverged_step")
_FROM = ("FROM blocks b CROSS JOIN LATERAL generate_series(0, b.n::int - 1) AS ix(i) "
         "JOIN settings st ON st.id = b.setting JOIN studies s ON s.id = st.study")
RUNS_VIEW = (f"CREATE VIEW runs AS SELECT s.fingerprint, st.key AS setting, "
             f"{_i64('b.seeds')} AS seed, b.chunk, {_PER_RUN} {_FROM}")
RUN_METRICS_VIEW = (
    f"CREATE VIEW run_metrics AS SELECT study, fingerprint, setting, seed, metric, "
    f"{_VALUE} AS value, diverged, diverged_step FROM (SELECT s.name AS study, "
    f"s.fingerprint, st.key AS setting, {_i64('b.seeds')} AS seed, m.metric, "
    f"{_i64('m.value')} AS v, {_PER_RUN} {_FROM} JOIN block_metrics m ON m.block = b.id) x")

POSTGRES = Dialect(
    name="postgresql",
    types=dict(ID="BIGINT PRIMARY KEY", SERIAL="BIGSERIAL PRIMARY KEY",
               SERIAL_SEQ="BIGSERIAL PRIMARY KEY", INT="BIGINT", FLOAT="DOUBLE PRECISION",
               # byte order, as SQLite compares: the export's order is the same
               TEXT='TEXT COLLATE "C"', BLOB="BYTEA"),
    views=(RUNS_VIEW, RUN_METRICS_VIEW),
    each="json_array_elements(?::json) AS {a}(value)", text="({a}.value #>> '{{}}')",
    int="({a}.value #>> '{{}}')::bigint", item="({a}.value ->> {i})::bigint",
    now="EXTRACT(EPOCH FROM clock_timestamp())::float8")


@lru_cache(maxsize=256)
def _pg(sql: str) -> str:
    # The shared SQL's ``?`` parameters in psycopg's style.
    return sql.replace("%", "%%").replace("?", "%s")


class _Conn:
    """A psycopg connection in autocommit taking the shared SQL (``?`` parameters)."""

    dialect = POSTGRES

    def __init__(self, conn: psycopg.Connection):
        self.conn = conn

    def execute(self, sql: str, params=None):
        return self.conn.execute(_pg(sql) if params else sql, params or None)

    def executemany(self, sql: str, rows) -> None:
        rows = list(rows)
        if rows:
            with self.conn.cursor() as cur:
                cur.executemany(_pg(sql), rows)

    def close(self) -> None:
        self.conn.close()


def hide_password(url: str) -> str:
    return re.sub(r"^([^:]+://[^:/@]*):[^@/]*@", r"\1:***@", url)


class PostgresStore(SQLStore):
    """A PostgreSQL database (the tables in its current schema, usually ``public``)."""

    def __init__(self, url: str, *, create: bool = True,
                 on_wait: Callable[[str], None] | None = None):
        self.url = self.where = url
        self.location = self.name = hide_password(url)
        self._on_wait, self._waited = on_wait, False
        self.db = self._connect(10)
        try:
            self._open(create)
        except BaseException:
            self.db.close()
            raise

    def _connect(self, timeout: float = 10) -> _Conn:
        try:
            return _Conn(psycopg.connect(self.url, autocommit=True,
                                         connect_timeout=max(int(timeout), 2)))
        except psycopg.Error as e:
            why = str(e).strip().splitlines()[-1] if str(e).strip() else type(e).__name__
            raise UserError(f"--store: cannot connect to {self.location} ({why})") from None

    def _version(self) -> tuple[int | str | None, set]:
        tables = {r[0] for r in self.db.execute(
            "SELECT table_name FROM information_schema.tables WHERE "
            "table_schema = current_schema()").fetchall()}
        if "meta" not in tables:
            if tables & set(TABLES):
                raise UserError(f"--store: {self.location} holds tables of another program "
                                f"({', '.join(sorted(tables & set(TABLES)))}), not a jaxstab "
                                f"results store")
            return None, tables
        row = self.db.execute("SELECT value FROM meta WHERE key='schema'").fetchone()
        return (None if row is None else row[0]), tables

    def _open(self, create: bool) -> None:
        version, tables = self._version()
        if not create:
            if version is None:
                raise UserError(f"--store: {self.location} holds no results; run `jaxstab "
                                f"run` first")
            self._check(version, tables)
            return
        if version is not None:
            self._check(version, tables)
        with self._tx():  # two workers starting at once: one creates, one reads
            version, tables = self._version()
            if version is not None:
                self._check(version, tables)
            for stmt in POSTGRES.statements():
                view = re.match(r"CREATE VIEW (\w+)", stmt)
                if view is None:
                    self.db.execute(stmt)
                elif not self.db.execute("SELECT 1 FROM information_schema.views WHERE "
                                         "table_schema = current_schema() AND "
                                         "table_name = ?", (view.group(1),)).fetchone():
                    self.db.execute(stmt)
            if version is None:
                # Blocks' arrays are float bits that do not compress: stored out of line
                # uncompressed, a commit is about 10x faster than with pglz trying.
                for table, column in _ARRAYS:
                    self.db.execute(f"ALTER TABLE {table} ALTER COLUMN {column} SET "
                                    f"STORAGE EXTERNAL")
                self.db.execute("INSERT INTO meta VALUES ('schema', ?)",
                                (str(SCHEMA_VERSION),))

    def _check(self, version, tables: set) -> None:
        if str(version) != str(SCHEMA_VERSION):
            newer = str(version).isdigit() and int(version) > SCHEMA_VERSION
            what = ("a newer jaxstab wrote it: upgrade jaxstab, or use another --store"
                    if newer else "use another --store")
            raise UserError(f"--store: {self.location} has schema version {version!r}, "
                            f"this jaxstab reads version {SCHEMA_VERSION}; {what}")
        missing = sorted(set(TABLES) - tables)
        if missing:
            raise UserError(f"--store: {self.location} is not a usable results store "
                            f"(damaged: table {missing[0]} is missing)")

    @contextmanager
    def _tx(self):
        with self.db.conn.transaction():
            # Tried for up to 2 s (commits take milliseconds), as SQLite's busy timeout
            # does, before saying that another process holds the lock and waiting.
            end = time.monotonic() + 2
            while not self.db.execute("SELECT pg_try_advisory_xact_lock(?)",
                                      (LOCK,)).fetchone()[0]:
                if time.monotonic() < end:
                    time.sleep(0.01)
                    continue
                if not self._waited and self._on_wait is not None:
                    self._on_wait(f"{self.location} is being written by another process; "
                                  f"waiting for its lock")
                self._waited = True
                self.db.execute("SELECT pg_advisory_xact_lock(?)", (LOCK,))
                break
            yield

    def close(self) -> None:
        self.db.close()


BACKEND = PostgresStore
