"""Schema version 1 (a row per run, per metric and per curve) to version 2 (blocks).

``jaxstab run`` and ``import`` upgrade a version-1 store in place, in one transaction:
an interrupted upgrade rolls back and leaves version 1 as it was. The readers
(``export``, ``compare``, ``report``, ``jaxstab.results``) never write: they upgrade a
copy in memory and read that, so a read-only version-1 store reads too.
"""

from __future__ import annotations

import itertools
import json
from types import SimpleNamespace

from jaxstab.runs import from_records
from jaxstab.store import _blocks
from jaxstab.store._schema import SCHEMA_VERSION, SQLITE

BATCH = 8192  # runs converted at a time: memory stays bounded whatever the store's size
_V1_DATA = ("studies", "runs", "metrics", "curves")


def migrate(db, src: str = "main") -> None:
    """Rewrite the version-1 tables of schema ``src`` as version 2 into ``main``, in the
    caller's transaction (``src`` "main": in place; another name: an attached file)."""
    tables = {r[0] for r in db.execute(f"SELECT name FROM {src}.sqlite_master WHERE "
                                       f"type='table'")}
    if src == "main":
        for t in _V1_DATA:
            db.execute(f"ALTER TABLE {t} RENAME TO v1_{t}")
        old = {t: f"v1_{t}" for t in _V1_DATA}
    else:
        old = {t: f"{src}.{t}" for t in _V1_DATA}
    for stmt in SQLITE.statements():
        db.execute(stmt)
    if src != "main":
        for t in ("meta", "chunks", "search_picks", "looks"):
            if t in tables:
                db.execute(f"INSERT INTO main.{t} SELECT * FROM {src}.{t}")
    db.execute(f"INSERT INTO studies (fingerprint, name, config, created) SELECT "
               f"fingerprint, name, config, created FROM {old['studies']} ORDER BY rowid")
    study_ids = dict(db.execute("SELECT fingerprint, id FROM studies"))
    batch: list = []
    for rec in _v1_runs(db, old):
        if batch and (len(batch) >= BATCH or rec.fp != batch[-1].fp):
            _write(db, batch, study_ids)
            batch = []
        batch.append(rec)
    if batch:
        _write(db, batch, study_ids)
    if src == "main":
        for t in _V1_DATA:
            db.execute(f"DROP TABLE v1_{t}")
    db.execute("UPDATE meta SET value=? WHERE key='schema'", (str(SCHEMA_VERSION),))


def _v1_runs(db, old: dict):
    """Every version-1 run with its metrics and curves, read in primary-key order from
    three cursors in step (no table is loaded whole)."""
    runs = db.execute(f"SELECT fingerprint, setting, seed, chunk, diverged, diverged_step "
                      f"FROM {old['runs']} ORDER BY fingerprint, setting, seed")
    metrics = _groups(db.execute(f"SELECT fingerprint, setting, seed, metric, value FROM "
                                 f"{old['metrics']} ORDER BY fingerprint, setting, seed, "
                                 f"metric"))
    curves = _groups(db.execute(f"SELECT fingerprint, setting, seed, name, value FROM "
                                f"{old['curves']} ORDER BY fingerprint, setting, seed, "
                                f"name"))
    m_next, c_next = next(metrics, None), next(curves, None)
    for fp, setting, seed, chunk, div, step in runs:
        key = (fp, setting, seed)
        got_m, got_c = [], []
        while m_next is not None and m_next[0] <= key:
            if m_next[0] == key:
                got_m = m_next[1]
            m_next = next(metrics, None)
        while c_next is not None and c_next[0] <= key:
            if c_next[0] == key:
                got_c = c_next[1]
            c_next = next(curves, None)
        yield SimpleNamespace(
            fp=fp, setting=setting, seed=seed, chunk=chunk, diverged=bool(div),
            diverged_step=step, metrics={m: v for *_, m, v in got_m},
            curves={n: json.loads(v) for *_, n, v in got_c})


def _groups(cursor):
    for key, rows in itertools.groupby(cursor, key=lambda r: (r[0], r[1], r[2])):
        yield key, list(rows)


def _write(db, batch: list, study_ids: dict) -> None:
    study = study_ids[batch[0].fp]
    by_chunk: dict[int, list] = {}
    for r in batch:
        by_chunk.setdefault(r.chunk, []).append(r)
    for chunk, recs in by_chunk.items():
        for runs in from_records(recs):
            ids = _blocks.setting_ids(db, study, runs.keys)
            _blocks.insert(db, runs, ids, chunk)
