"""Runs as block rows and back, with NumPy: no Python work per run.

A block row holds up to ``BLOCK_RUNS`` runs of one setting from one chunk (the layout is
in ``_schema``). Writing, a chunk's ``Runs`` are grouped by setting with one stable sort
and cut into blocks; reading, a setting's blocks are concatenated and put in seed order.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

import numpy as np

from jaxstab.store._schema import BLOB_BYTES, BLOCK_RUNS, dialect

BE_F8, BE_I8 = np.dtype(">f8"), np.dtype(">i8")


def setting_ids(db, study_id: int, keys) -> dict[str, int]:
    """The ids of settings ``keys`` of a study, created where new (in the caller's
    transaction)."""
    d = dialect(db)
    keys = json.dumps(list(keys))
    # (WHERE true: SQLite would read the ON of the upsert as a join's)
    db.execute(f"INSERT INTO settings (study, key) SELECT ?, {d.text.format(a='q')} FROM "
               f"{d.each.format(a='q')} WHERE true ON CONFLICT DO NOTHING",
               (study_id, keys))
    return dict(db.execute(f"SELECT st.key, st.id FROM {d.each.format(a='q')} {d.join} "
                           f"settings st ON st.study = ? AND st.key = "
                           f"{d.text.format(a='q')}", (keys, study_id)).fetchall())


def stored_seeds(db, ranges: list[tuple[int, int, int]]) -> dict[int, np.ndarray]:
    """Setting id -> seeds stored within ``[lo, hi]`` for each ``(setting id, lo, hi)``
    (one query; the index on (setting, last) finds the few blocks that can overlap)."""
    out: dict[int, list] = {}
    d = dialect(db)
    sid, lo, hi = (d.item.format(a="q", i=i) for i in range(3))
    rows = db.execute(
        f"SELECT b.setting, b.seeds, {lo}, {hi} FROM {d.each.format(a='q')} {d.join} "
        f"blocks b ON b.setting = {sid} AND b.last >= {lo} AND b.first <= {hi}",
        (json.dumps([[int(s), int(lo), int(hi)] for s, lo, hi in ranges]),)).fetchall()
    for sid, blob, lo, hi in rows:
        seeds = np.frombuffer(blob, BE_I8)
        out.setdefault(sid, []).append(seeds[(seeds >= lo) & (seeds <= hi)])
    return {k: np.concatenate(v).astype(np.int64) for k, v in out.items()}


def insert(db, runs, ids: dict[str, int], chunk: int) -> int:
    """Write ``runs`` as block rows of chunk ``chunk``, leaving out the runs whose
    (setting, seed) is stored already (another process may have stored them first) and
    repeats within ``runs``; returns how many were written."""
    if not len(runs):
        return 0
    sid = np.array([ids[k] for k in runs.keys], np.int64)[runs.setting]
    order = np.lexsort((runs.seeds, sid))
    sid, seeds = sid[order], runs.seeds[order]
    keep = np.ones(len(order), bool)
    keep[1:] = (sid[1:] != sid[:-1]) | (seeds[1:] != seeds[:-1])
    starts = np.flatnonzero(np.r_[True, sid[1:] != sid[:-1]])
    ends = np.r_[starts[1:], len(sid)]
    have = stored_seeds(db, [(sid[a], seeds[a], seeds[b - 1]) for a, b in zip(starts, ends)])
    for s, stored in have.items():
        rows = np.flatnonzero(sid == s)
        keep[rows[np.isin(seeds[rows], stored)]] = False
    order, sid, seeds = order[keep], sid[keep], seeds[keep]
    if not len(order):
        return 0
    div = runs.diverged[order]
    steps = runs.steps[order].astype(BE_I8)
    seeds_be = seeds.astype(BE_I8)
    metrics = {k: runs.metrics[k][order].astype(BE_F8) for k in sorted(runs.metrics)}
    curves = {k: np.ascontiguousarray(v[order], BE_F8) for k, v in runs.curves.items()}
    (first_id,) = db.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM blocks").fetchone()
    blocks, values, curve_rows = [], [], []
    cuts = np.flatnonzero(np.r_[True, sid[1:] != sid[:-1]])
    # A block's curve is one value of at most BLOB_BYTES: long curves make blocks of
    # fewer runs (SQLite refuses a value over its limit: "string or blob too big").
    width = max((v.shape[1] for v in curves.values()), default=0)
    step = max(1, min(BLOCK_RUNS, BLOB_BYTES // max(8 * width, 1)))
    for a, end in zip(cuts, np.r_[cuts[1:], len(sid)]):
        for lo in range(int(a), int(end), step):
            hi = min(lo + step, int(end))
            bid = first_id + len(blocks)
            d = div[lo:hi]
            # No divergence (the usual case): empty flag and step arrays.
            anyd = bool(d.any())
            blocks.append((bid, int(sid[lo]), chunk, hi - lo, int(seeds[lo]),
                           int(seeds[hi - 1]), seeds_be[lo:hi].tobytes(),
                           d.astype(np.uint8).tobytes() if anyd else b"",
                           steps[lo:hi].tobytes() if anyd else b""))
            values += [(bid, k, v[lo:hi].tobytes()) for k, v in metrics.items()]
            curve_rows += [(bid, k, v.shape[1], v[lo:hi].tobytes())
                           for k, v in curves.items()]
    db.executemany("INSERT INTO blocks VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", blocks)
    db.executemany("INSERT INTO block_metrics VALUES (?, ?, ?)", values)
    db.executemany("INSERT INTO block_curves VALUES (?, ?, ?, ?)", curve_rows)
    return len(order)


@dataclass
class Columns:
    """One setting's runs read back (or a group of its blocks), in seed order."""

    seeds: np.ndarray
    diverged: np.ndarray
    steps: np.ndarray
    metrics: dict  # name -> (n,) float64, NaN where the run has no such value
    present: dict  # name -> (n,) bool: the run's block recorded the metric
    curves: dict  # name -> (n, width) float64


def decode(rows, metric_rows, curve_rows=()) -> Columns:
    """``rows``: (block id, n, seeds, diverged, steps) of some blocks of one setting;
    ``metric_rows``: (block id, metric, value); ``curve_rows``: (block id, curve, width,
    value)."""
    rows = list(rows)
    pos, off = {}, 0
    for bid, n, *_ in rows:
        pos[bid] = (off, n)
        off += n
    seeds = np.empty(off, np.int64)
    div = np.zeros(off, bool)
    steps = np.full(off, -1, np.int64)
    for bid, n, s, d, st in rows:
        a = pos[bid][0]
        seeds[a:a + n] = np.frombuffer(s, BE_I8)
        if d:
            div[a:a + n] = np.frombuffer(d, np.uint8).astype(bool)
            steps[a:a + n] = np.frombuffer(st, BE_I8)
    metrics: dict[str, np.ndarray] = {}
    present: dict[str, np.ndarray] = {}
    for bid, name, value in metric_rows:
        if name not in metrics:
            metrics[name], present[name] = np.full(off, np.nan), np.zeros(off, bool)
        a, n = pos[bid]
        metrics[name][a:a + n] = np.frombuffer(value, BE_F8)
        present[name][a:a + n] = True
    curves: dict[str, np.ndarray] = {}
    for bid, name, width, value in curve_rows:
        c = curves.get(name)
        if c is None or c.shape[1] < width:  # another width in an earlier block: pad
            wider = np.full((off, width), np.nan)
            if c is not None:
                wider[:, :c.shape[1]] = c
            c = curves[name] = wider
        a, n = pos[bid]
        c[a:a + n, :width] = np.frombuffer(value, BE_F8).reshape(n, width)
    order = np.argsort(seeds, kind="stable")
    if np.any(order[1:] < order[:-1]):
        return Columns(seeds[order], div[order], steps[order],
                       {k: v[order] for k, v in metrics.items()},
                       {k: v[order] for k, v in present.items()},
                       {k: v[order] for k, v in curves.items()})
    return Columns(seeds, div, steps, metrics, present, curves)


def block_columns(db, block_ids: list[int], curves: bool = True) -> Columns:
    """The runs of these blocks (all of one setting), in seed order."""
    ids = json.dumps(block_ids)
    d = dialect(db)
    each, bid = d.each.format(a="q"), d.int.format(a="q")
    rows = db.execute(f"SELECT b.id, b.n, b.seeds, b.diverged, b.steps FROM {each} "
                      f"JOIN blocks b ON b.id = {bid}", (ids,)).fetchall()
    mrows = db.execute(f"SELECT m.block, m.metric, m.value FROM {each} JOIN "
                       f"block_metrics m ON m.block = {bid}", (ids,)).fetchall()
    crows = db.execute(f"SELECT c.block, c.curve, c.width, c.value FROM {each} JOIN "
                       f"block_curves c ON c.block = {bid}", (ids,)).fetchall() \
        if curves else []
    return decode(rows, mrows, crows)
