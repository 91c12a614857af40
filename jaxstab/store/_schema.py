"""The store's tables (schema version 2) and its SQL views.

Runs are kept as blocks: one row per (chunk, setting) piece of at most ``BLOCK_RUNS``
runs, holding their seeds, divergence flags and steps as arrays, and one row per metric
(and per curve) of the block holding its values as an array. A chunk of 100k runs is a
few hundred rows, not the 18 rows per run of version 1 (one run, 15 metrics, 2 curves:
about 10k runs/s was all SQLite could insert on a 2-core machine). Arrays are BLOBs of
big-endian int64 / float64 (so that ``hex()`` reads a value most significant byte first,
which is what the views decode), curves of shape (runs, width) row by row. A block
without a diverged run (the usual case) keeps empty flag and step arrays.

The views ``runs`` (one row per run) and ``run_metrics`` (one row per run and metric,
the export's columns) decode the blocks in plain SQL (``hex``, ``substr``, ``instr``,
``pow``, a recursive CTE over run positions), so ``sqlite3 results.sqlite`` keeps working
without jaxstab. A value that is NaN (a diverged run) or infinite reads as NULL. Blocks
are kept small because SQLite copies a whole BLOB for every ``substr`` of it: a view row
costs a few kB of copying, whatever the store's size.
"""

from dataclasses import dataclass

SCHEMA_VERSION = 2
BLOCK_RUNS = 1024  # most runs in one block row
BLOB_BYTES = 1 << 28  # most bytes of one curve's values in a block (SQLite allows 1e9)

# The tables a usable store of this version has (the views and the lease and chunk-size
# tables are made on demand).
TABLES = ("meta", "studies", "settings", "chunks", "blocks", "block_metrics", "block_curves")
V1_TABLES = ("meta", "studies", "chunks", "runs", "metrics", "curves")

_HEX = "'0123456789ABCDEF'"


def _int(h: str, first: int, digits: int) -> str:
    """SQL for the integer of ``digits`` hex digits of ``h`` from position ``first``."""
    return "(" + " + ".join(
        f"((instr({_HEX}, substr({h}, {first + k}, 1)) - 1) << {4 * (digits - 1 - k)})"
        for k in range(digits)) + ")"


# An IEEE double from its 16 hex digits: 12 bits of sign and exponent, 52 of mantissa.
# Every step is exact (an integer below 2**53 times a power of two).
_SIGN_EXP = _int("vh", 1, 3)
_MANTISSA = _int("vh", 4, 13)
_VALUE = ("CASE WHEN (se & 2047) = 2047 THEN NULL "
          "WHEN (se & 2047) = 0 THEN mant * pow(2, -1074) "
          "ELSE (mant + 4503599627370496) * pow(2, (se & 2047) - 1075) END "
          "* (1 - 2 * (se >> 11))")
_POSITIONS = ("WITH RECURSIVE ix(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM ix "
              "WHERE i + 1 < (SELECT MAX(n) FROM blocks))")
_PER_RUN = ("hex(substr(b.seeds, 8 * ix.i + 1, 8)) AS sh, "
            "(length(b.diverged) > 0 AND substr(b.diverged, ix.i + 1, 1) = x'01') "
            "AS diverged, "
            "hex(substr(b.steps, 8 * ix.i + 1, 8)) AS th")
_JOIN = ("FROM blocks b JOIN ix ON ix.i < b.n JOIN settings st ON st.id = b.setting "
         "JOIN studies s ON s.id = st.study")

RUNS_VIEW = f"""
CREATE VIEW IF NOT EXISTS runs AS {_POSITIONS}
SELECT fingerprint, setting, {_int("sh", 1, 16)} AS seed, chunk, diverged,
       CASE WHEN diverged THEN {_int("th", 1, 16)} END AS diverged_step
FROM (SELECT s.fingerprint, st.key AS setting, b.chunk, {_PER_RUN} {_JOIN})"""

RUN_METRICS_VIEW = f"""
CREATE VIEW IF NOT EXISTS run_metrics AS {_POSITIONS}
SELECT study, fingerprint, setting, seed, metric, {_VALUE} AS value, diverged,
       CASE WHEN diverged THEN {_int("th", 1, 16)} END AS diverged_step
FROM (SELECT study, fingerprint, setting, {_int("sh", 1, 16)} AS seed, metric,
             {_SIGN_EXP} AS se, {_MANTISSA} AS mant, diverged, th
      FROM (SELECT s.name AS study, s.fingerprint, st.key AS setting, m.metric,
                   hex(substr(m.value, 8 * ix.i + 1, 8)) AS vh, {_PER_RUN}
            {_JOIN} JOIN block_metrics m ON m.block = b.id))"""

# The tables, in the SQL every backend shares; the types and the views are the
# dialect's (``Dialect``). ``{ID}``: an integer key given by jaxstab; ``{SERIAL}``: one
# the database numbers; ``{TEXT}``: text compared and ordered byte by byte (the export's
# order must not depend on a server's locale).
TABLES_SQL = """
CREATE TABLE IF NOT EXISTS meta (key {TEXT} PRIMARY KEY, value {TEXT} NOT NULL);
CREATE TABLE IF NOT EXISTS studies (
    id {SERIAL}, fingerprint {TEXT} NOT NULL UNIQUE, name {TEXT} NOT NULL,
    config {TEXT} NOT NULL, created {FLOAT} NOT NULL);
CREATE TABLE IF NOT EXISTS settings (
    id {SERIAL}, study {INT} NOT NULL, key {TEXT} NOT NULL,
    UNIQUE (study, key));
CREATE TABLE IF NOT EXISTS chunks (
    id {SERIAL_SEQ}, fingerprint {TEXT} NOT NULL, finished {FLOAT} NOT NULL,
    seconds {FLOAT} NOT NULL, runs {INT} NOT NULL, env {TEXT} NOT NULL);
CREATE TABLE IF NOT EXISTS blocks (
    id {ID}, setting {INT} NOT NULL, chunk {INT} NOT NULL,
    n {INT} NOT NULL, first {INT} NOT NULL, last {INT} NOT NULL,
    seeds {BLOB} NOT NULL, diverged {BLOB} NOT NULL, steps {BLOB} NOT NULL);
CREATE INDEX IF NOT EXISTS blocks_by_setting ON blocks (setting, last);
CREATE TABLE IF NOT EXISTS block_metrics (
    block {INT} NOT NULL, metric {TEXT} NOT NULL, value {BLOB} NOT NULL,
    PRIMARY KEY (block, metric));
CREATE TABLE IF NOT EXISTS block_curves (
    block {INT} NOT NULL, curve {TEXT} NOT NULL, width {INT} NOT NULL,
    value {BLOB} NOT NULL, PRIMARY KEY (block, curve));
CREATE TABLE IF NOT EXISTS chunk_sizes (
    fingerprint {TEXT} NOT NULL, grp {TEXT} NOT NULL, size {INT} NOT NULL,
    PRIMARY KEY (fingerprint, grp));
CREATE TABLE IF NOT EXISTS leases (
    fingerprint {TEXT} NOT NULL, unit {TEXT} NOT NULL, owner {TEXT} NOT NULL,
    expires {FLOAT} NOT NULL, PRIMARY KEY (fingerprint, unit));
CREATE TABLE IF NOT EXISTS search_picks (
    fingerprint {TEXT} NOT NULL, pick {INT} NOT NULL, value {TEXT} NOT NULL,
    PRIMARY KEY (fingerprint, pick));
CREATE TABLE IF NOT EXISTS looks (
    fingerprint {TEXT} NOT NULL, look {INT} NOT NULL, value {TEXT} NOT NULL,
    PRIMARY KEY (fingerprint, look))
"""


@dataclass(frozen=True)
class Dialect:
    """What one SQL backend spells its own way; everything else is shared SQL with
    ``?`` parameters. A list parameter is a JSON array: ``each`` is the FROM item that
    turns it into rows (``{a}``: its alias), ``text`` / ``int`` a row's value, ``item``
    element ``{i}`` of a row that is itself an array; ``now`` the database's clock in
    seconds since 1970 (leases expire by one clock, whichever host writes them)."""

    name: str
    types: dict
    views: tuple
    each: str
    text: str
    int: str
    item: str
    now: str
    # a join that keeps the list parameter as the outer loop: SQLite's planner has no
    # statistics for json_each and scanned it once per setting (20,000 imported labels
    # took minutes), so it is told with CROSS JOIN; PostgreSQL plans it well
    join: str = "JOIN"

    def statements(self) -> list[str]:
        """The schema, one statement at a time (executescript() would commit
        mid-transaction)."""
        tables = TABLES_SQL.format(**self.types)
        return [s for s in tables.split(";") if s.strip()] + list(self.views)


SQLITE = Dialect(
    name="sqlite",
    types=dict(ID="INTEGER PRIMARY KEY", SERIAL="INTEGER PRIMARY KEY",
               SERIAL_SEQ="INTEGER PRIMARY KEY AUTOINCREMENT", INT="INTEGER",
               FLOAT="REAL", TEXT="TEXT", BLOB="BLOB"),
    views=(RUNS_VIEW, RUN_METRICS_VIEW),
    each="json_each(?) {a}", text="{a}.value", int="{a}.value",
    item="json_extract({a}.value, '$[{i}]')",
    now="((julianday('now') - 2440587.5) * 86400.0)", join="CROSS JOIN")


def dialect(db) -> Dialect:
    """The dialect of a connection: a backend's connection says its own; SQLite's
    (``sqlite3.Connection``, whose attributes cannot be set) is the default."""
    return getattr(db, "dialect", SQLITE)
