"""Reading runs back: a study's arrays per setting, one metric of every run, the stored
seeds, and the export's rows (streamed block by block, so memory stays flat)."""

from __future__ import annotations

import functools
import json

import numpy as np

from jaxstab._check import trusted
from jaxstab.errors import UserError
from jaxstab.store import _blocks
from jaxstab.store._blocks import BE_F8, BE_I8
from jaxstab.store._results import SettingResults, StudyResults

_BLOCKS_OF_STUDY = ("FROM studies s JOIN settings st ON st.study = s.id JOIN blocks b ON "
                    "b.setting = st.id")


@functools.lru_cache(maxsize=256)
def stored_study(config: str):
    """The study a store holds (its JSON), built once per process: it was checked when
    it ran, and a frozen study is the same object for every later read."""
    from jaxstab.loader import study_from_dict

    with trusted():  # checked when it ran; its files and modules may be elsewhere now
        return study_from_dict(json.loads(config))


def results(db, fingerprint: str) -> StudyResults:
    row = db.execute("SELECT config FROM studies WHERE fingerprint=?",
                     (fingerprint,)).fetchone()
    if row is None:
        raise UserError(f"study: no study with fingerprint {fingerprint}")
    study = stored_study(row[0])
    blocks: dict[str, list] = {}
    key_of: dict[int, str] = {}
    for key, *rest in db.execute(f"SELECT st.key, b.id, b.n, b.seeds, b.diverged, b.steps "
                                 f"{_BLOCKS_OF_STUDY} WHERE s.fingerprint=? ORDER BY b.id",
                                 (fingerprint,)):
        blocks.setdefault(key, []).append(rest)
        key_of[rest[0]] = key
    metric_rows: dict[str, list] = {}
    for row in db.execute(f"SELECT m.block, m.metric, m.value {_BLOCKS_OF_STUDY} JOIN "
                          f"block_metrics m ON m.block = b.id WHERE s.fingerprint=?",
                          (fingerprint,)):
        metric_rows.setdefault(key_of[row[0]], []).append(row)
    curve_rows: dict[str, list] = {}
    for row in db.execute(f"SELECT c.block, c.curve, c.width, c.value {_BLOCKS_OF_STUDY} "
                          f"JOIN block_curves c ON c.block = b.id WHERE s.fingerprint=?",
                          (fingerprint,)):
        curve_rows.setdefault(key_of[row[0]], []).append(row)
    settings = []
    for setting in study.settings():
        key = setting.key
        cols = _blocks.decode(blocks.get(key, []), metric_rows.get(key, []),
                              curve_rows.get(key, []))
        settings.append(SettingResults(
            key=key, factors=dict(setting.factors), sources=setting.vary, seeds=cols.seeds,
            metrics=cols.metrics, diverged=cols.diverged, diverged_step=cols.steps,
            curves=cols.curves))
    chunks = [dict(finished=f, seconds=s, runs=n, env=json.loads(e)) for f, s, n, e in
              db.execute("SELECT finished, seconds, runs, env FROM chunks WHERE "
                         "fingerprint=? ORDER BY id", (fingerprint,))]
    return StudyResults(study, fingerprint, settings, chunks)


def seeds_by_setting(db, fingerprint: str) -> dict[str, np.ndarray]:
    """Setting key -> the seeds stored for it (sorted)."""
    parts: dict[str, list] = {}
    for key, seeds in db.execute(f"SELECT st.key, b.seeds {_BLOCKS_OF_STUDY} WHERE "
                                 f"s.fingerprint=?", (fingerprint,)):
        parts.setdefault(key, []).append(np.frombuffer(seeds, BE_I8))
    return {k: np.sort(np.concatenate(v)).astype(np.int64) for k, v in parts.items()}


def done(db, fingerprint: str) -> set[tuple[str, int]]:
    return {(k, s) for k, seeds in seeds_by_setting(db, fingerprint).items()
            for s in seeds.tolist()}


def values(db, fingerprint: str, metric: str) -> dict[tuple[str, int], float]:
    out: dict[tuple[str, int], float] = {}
    for key, n, seeds, value in db.execute(
            f"SELECT st.key, b.n, b.seeds, m.value {_BLOCKS_OF_STUDY} LEFT JOIN "
            f"block_metrics m ON m.block = b.id AND m.metric = ? WHERE s.fingerprint=?",
            (metric, fingerprint)):
        v = np.frombuffer(value, BE_F8).tolist() if value is not None else [np.nan] * n
        out.update(zip(((key, s) for s in np.frombuffer(seeds, BE_I8).tolist()), v))
    return out


def export_rows(db, curves: bool = False):
    """(study, fingerprint, setting, seed, metric, value, diverged, diverged_step) in
    the order of version 1's export (name, fingerprint, setting, seed, metric), one
    group of overlapping blocks in memory at a time. ``curves``: each row also has a
    ``step`` (None for a metric), and after a run's metrics come its curves, one row
    per (curve, step), the curve's name in ``metric``."""
    studies = db.execute("SELECT id, name, fingerprint FROM studies ORDER BY name, "
                         "fingerprint").fetchall()
    for study_id, name, fp in studies:
        settings = db.execute("SELECT id, key FROM settings WHERE study=? ORDER BY key",
                              (study_id,)).fetchall()
        for setting_id, key in settings:
            spans = db.execute("SELECT id, first, last FROM blocks WHERE setting=? ORDER BY "
                               "first, id", (setting_id,)).fetchall()
            for ids in _overlapping(spans):
                cols = _blocks.block_columns(db, ids, curves=curves)
                yield from (_curve_rows if curves else _rows)(name, fp, key, cols)


def _overlapping(spans):
    """Block ids in groups whose seed ranges overlap (usually one block a group)."""
    group, top = [], None
    for bid, first, last in spans:
        if group and first > top:
            yield group
            group, top = [], None
        group.append(bid)
        top = last if top is None else max(top, last)
    if group:
        yield group


def _rows(name, fp, key, cols):
    names = sorted(cols.metrics)
    values = {m: [None if v != v else v for v in cols.metrics[m].tolist()] for m in names}
    present = {m: cols.present[m] for m in names}
    whole = all(p.all() for p in present.values())
    divs = cols.diverged.astype(int).tolist()
    steps = [s if d else None for s, d in zip(cols.steps.tolist(), divs)]
    for i, seed in enumerate(cols.seeds.tolist()):
        d, st = divs[i], steps[i]
        for m in names:
            if whole or present[m][i]:
                yield (name, fp, key, seed, m, values[m][i], d, st)


def _curve_rows(name, fp, key, cols):
    """``_rows`` with a ``step`` (None), then each run's curves a row per step."""
    per_run: dict[int, list] = {}
    for row in _rows(name, fp, key, cols):
        per_run.setdefault(row[3], []).append(row)
    names = sorted(cols.curves)
    divs = cols.diverged.astype(int).tolist()
    for i, seed in enumerate(cols.seeds.tolist()):
        rows = per_run.get(seed, [])
        yield from (r + (None,) for r in rows)
        d, st = (rows[0][6], rows[0][7]) if rows else (divs[i], None)
        for c in names:
            for step, v in enumerate(cols.curves[c][i].tolist()):
                yield (name, fp, key, seed, c, None if v != v else v, d, st, step)
