"""``BaseStore`` in SQL, shared by the SQL backends (SQLite, PostgreSQL): the schema
text and the block encoding are one copy; a backend says how it connects, how a write
transaction takes the store's write lock, and its ``Dialect`` (``_schema``).

A backend's ``db`` runs ``execute(sql, params)`` / ``executemany`` with ``?``
parameters and returns rows as tuples, BLOBs as bytes; its ``_tx()`` is a write
transaction that serializes with every other writer of the store (a chunk's dedup, the
next block id and a lease are decided under it).
"""

from __future__ import annotations

import json
import time
from typing import TYPE_CHECKING

from jaxstab.errors import UserError
from jaxstab.runs import Runs, from_records
from jaxstab.store import _blocks, _leases, _read
from jaxstab.store._base import BaseStore
from jaxstab.store._results import StudyResults

if TYPE_CHECKING:  # (the study layer imports JAX; exporting a store needs none of it)
    from jaxstab.study import Study


class SQLStore(BaseStore):
    db = None

    def _tx(self):
        raise NotImplementedError

    def _connect(self):
        """A new connection of this store, in autocommit (a heartbeat thread's)."""
        raise NotImplementedError

    def transaction(self):
        """The study and its runs in one transaction (``jaxstab import``): nested write
        transactions of this store join it."""
        return self._tx()

    def notify(self, message: str) -> None:
        """A line for the user (``on_wait`` prints it, in the CLI)."""
        if self._on_wait is not None:
            self._on_wait(message)

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
        for (env,) in self.db.execute("SELECT env FROM chunks WHERE fingerprint=? ORDER BY "
                                      "id DESC", (fingerprint,)).fetchall():
            size = json.loads(env).get("chunk_size")
            if size:
                return int(size)
        return None

    def group_chunk_size(self, fingerprint: str, group: str, size: int | None = None
                         ) -> int | None:
        if size is not None:
            with self._tx():
                self.db.execute("INSERT INTO chunk_sizes VALUES (?, ?, ?) ON CONFLICT DO "
                                "NOTHING", (fingerprint, group, int(size)))
        row = self.db.execute("SELECT size FROM chunk_sizes WHERE fingerprint=? AND grp=?",
                              (fingerprint, group)).fetchone()
        if row is not None:
            return int(row[0])
        known = self.db.execute("SELECT 1 FROM chunk_sizes WHERE fingerprint=? LIMIT 1",
                                (fingerprint,)).fetchone()
        return None if known else -1

    def seeds_by_setting(self, fingerprint: str) -> dict:
        return _read.seeds_by_setting(self.db, fingerprint)

    def values(self, fingerprint: str, metric: str) -> dict[tuple[str, int], float]:
        return _read.values(self.db, fingerprint, metric)

    def write_chunk(self, fingerprint: str, records, seconds: float, env: dict, *,
                    release: tuple[str, str] | None = None) -> int:
        parts = [records] if isinstance(records, Runs) else from_records(records)
        with self._tx():
            study = self._study_id(fingerprint)
            (chunk,) = self.db.execute(
                "INSERT INTO chunks (fingerprint, finished, seconds, runs, env) "
                "VALUES (?, ?, ?, ?, ?) RETURNING id",
                (fingerprint, time.time(), seconds, sum(map(len, parts)),
                 json.dumps(env))).fetchone()
            added = 0
            for runs in parts:
                ids = _blocks.setting_ids(self.db, study, runs.keys)
                added += _blocks.insert(self.db, runs, ids, chunk)
            if release is not None:
                self.db.execute("DELETE FROM leases WHERE fingerprint=? AND unit=? AND "
                                "owner=?", (fingerprint, *release))
        return added

    def take_lease(self, fingerprint: str, owner: str, units: list, timeout: float):
        with self._tx():
            return _leases.take(self.db, self._study_id(fingerprint), fingerprint, owner,
                                units, timeout)

    def release_leases(self, owner: str) -> None:
        with self._tx():
            self.db.execute("DELETE FROM leases WHERE owner=?", (owner,))

    def heartbeat(self, owner: str, timeout: float) -> _leases.Heartbeat:
        return _leases.Heartbeat(lambda: self._connect(timeout / 4), owner, timeout)

    def studies(self) -> list[tuple[str, str, float]]:
        return [tuple(r) for r in self.db.execute(
            "SELECT s.name, s.fingerprint, COALESCE(MAX(c.finished), s.created) AS last "
            "FROM studies s LEFT JOIN chunks c ON c.fingerprint = s.fingerprint "
            "GROUP BY s.id, s.name, s.fingerprint, s.created "
            "ORDER BY s.name, last, s.fingerprint").fetchall()]

    def results(self, fingerprint: str) -> StudyResults:
        return _read.results(self.db, fingerprint)

    def write_search_picks(self, fingerprint: str, rows: list[dict]) -> None:
        with self._tx():
            self.db.execute("DELETE FROM search_picks WHERE fingerprint=?", (fingerprint,))
            self.db.executemany(
                "INSERT INTO search_picks VALUES (?, ?, ?)",
                [(fingerprint, i, json.dumps(r, allow_nan=False, default=_none))
                 for i, r in enumerate(_nan_to_none(rows))])

    def search_picks(self, fingerprint: str) -> list[dict]:
        return [json.loads(v) for (v,) in self.db.execute(
            "SELECT value FROM search_picks WHERE fingerprint=? ORDER BY pick",
            (fingerprint,)).fetchall()]

    def write_look(self, fingerprint: str, look: int, value: dict) -> dict:
        """One look of a sequential run (``--until-decided``): its seeds and, per claim,
        the statistic, boundaries and decision. Several workers finish a round; the
        first to commit its look decides it, the others get that record back."""
        text = json.dumps(_nan_to_none(value), allow_nan=False, default=_none)
        with self._tx():
            self.db.execute("INSERT INTO looks VALUES (?, ?, ?) ON CONFLICT DO NOTHING",
                            (fingerprint, look, text))
            (stored,) = self.db.execute("SELECT value FROM looks WHERE fingerprint=? AND "
                                        "look=?", (fingerprint, look)).fetchone()
        return json.loads(stored)

    def looks(self, fingerprint: str) -> list[dict]:
        return [json.loads(v) for (v,) in self.db.execute(
            "SELECT value FROM looks WHERE fingerprint=? ORDER BY look",
            (fingerprint,)).fetchall()]

    def export_rows(self, curves: bool = False):
        return _read.export_rows(self.db, curves)


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
