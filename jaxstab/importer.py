"""Scores made elsewhere (PyTorch, any tracker) into the store, so they get the same
statistics, verdicts and report: ``jaxstab import FILE.csv --study NAME``.

The file has the export's columns: ``setting, seed, metric, value`` (long: one row per
run and metric; ``study``, ``fingerprint``, ``diverged`` and ``diverged_step`` are
optional) or ``setting, seed`` and one column per metric (wide). ``setting`` is a JSON
object of factor values (what ``jaxstab export`` writes) or a plain label (the factor is
then called ``setting``). Runs with the same seed index are taken as paired across
settings, as jaxstab's own are. An empty value is a diverged run.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import math
import sqlite3
from array import array
from pathlib import Path

import numpy as np

from jaxstab._check import csv_text_back, hashable
from jaxstab.env import budget
from jaxstab.errors import UserError
from jaxstab.runs import Runs
from jaxstab.study import Study, setting_key
from jaxstab.task import IMPORTED


def _rows(path: str):
    """(line, fields) of each non-empty record; the header first. Read as one stream
    with ``newline=""``, so that a quoted newline, carriage return or U+2028 in a label
    is kept exactly (``str.splitlines`` split labels at those)."""
    most = budget("FIELD")
    old = csv.field_size_limit(most)
    try:
        with open(path, encoding="utf-8-sig", newline="") as f:
            reader = csv.reader(f, strict=True)
            line = 1
            while True:
                try:
                    row = next(reader)
                except StopIteration:
                    return
                except csv.Error as e:
                    raise UserError(_csv_error(path, str(e), line, most)) from None
                if row:
                    yield line, row
                line = reader.line_num + 1
    except OSError as e:
        raise UserError(f"{path}: cannot read it ({e.strerror or e})") from None
    except UnicodeDecodeError:
        raise UserError(f"{path}: not UTF-8 text") from None
    finally:
        csv.field_size_limit(old)


def _csv_error(path: str, msg: str, line: int, most: int) -> str:
    # csv's own message can carry the rest of the file; say what happened in one line.
    if "field larger than field limit" in msg:
        return (f"{path}: line {line}: a field longer than {most:,} characters (a label or "
                f"a value; set JAXSTAB_MAX_FIELD to allow longer)")
    if "unexpected end of data" in msg:
        return f"{path}: line {line}: a quoted field is never closed (a `\"` without its pair)"
    return f"{path}: line {line}: not valid CSV ({_short(msg)})"


def _short(text: str, most: int = 60) -> str:
    return text if len(text) <= most else text[:most] + f"... ({len(text):,} characters)"


def _header(path: str, header: list[str]) -> list[str]:
    for i, h in enumerate(header):
        if not h.strip():
            raise UserError(f"{path}: column {i + 1} of the header has no name (a `,` too "
                            f"many at the end of the header?)")
    header = [csv_text_back(h) for h in header]
    twice = [h for i, h in enumerate(header) if h in header[:i]]
    if twice:
        raise UserError(f"{path}: column `{_short(twice[0])}` appears twice in the header")
    return header


def _setting(text: str, line: int) -> dict:
    if text.lstrip().startswith("{"):
        try:
            d = json.loads(text)
        except json.JSONDecodeError as e:
            raise UserError(f"setting: line {line}: not a JSON object ({e.msg})") from None
        if not isinstance(d, dict) or not d:
            raise UserError(f"setting: line {line}: expected a JSON object of factor values")
        return d
    if not text.strip():
        raise UserError(f"setting: line {line}: empty")
    return {"setting": text}


def _number(text: str, what: str, line: int) -> float:
    if text.strip() == "":
        return math.nan
    try:
        return float(text)
    except ValueError:
        raise UserError(f"{what}: line {line}: {_short(text)!r} is not a number") from None


def _flag(text: str, line: int) -> bool:
    t = text.strip()
    if t in ("", "0", "0.0", "False", "false"):
        return False
    if t in ("1", "1.0", "True", "true"):
        return True
    raise UserError(f"diverged: line {line}: {_short(t)!r} is not 0/1 (or false/true)")


def _long_rows(path, header, rows, study_name):
    col = {h: i for i, h in enumerate(header)}
    div = col.get("diverged")
    n_fields = len(header)
    if "study" in col:
        # An export of several studies: take the one named; of one study: take it,
        # whatever name it is stored under now. (Decided from the rows, so they are
        # read twice, not kept: first the study names only.)
        names = sorted({r[col["study"]] for _, r in rows if len(r) == n_fields})
        rows = _body(path, itertools.islice(_rows(path), 1, None))
        if len(names) > 1:
            if study_name not in names:
                raise UserError(f"--study: the file holds several studies and none is "
                                f"`{study_name}`; it holds: {', '.join(names)}")
            rows = ((n, r) for n, r in rows
                    if len(r) != n_fields or r[col["study"]] == study_name)
    for n, r in rows:
        if len(r) != n_fields:
            raise UserError(f"{path}: line {n} has {len(r)} fields, the header {n_fields}")
        if "step" in col and r[col["step"]].strip():
            continue  # a curve's point (`export --curves`): scores are the metrics
        metric = csv_text_back(r[col["metric"]])
        if not metric.strip():
            raise UserError(f"metric: line {n}: empty")
        yield (n, r[col["setting"]], r[col["seed"]], metric, r[col["value"]],
               _flag(r[div], n) if div is not None else False)


def _wide_rows(path, header, rows):
    # A `diverged` (and `diverged_step`) column says which runs diverged, as in the long
    # form; it is not a metric.
    metrics = [h for h in header if h not in ("setting", "seed", "diverged",
                                              "diverged_step")]
    if not metrics:
        raise UserError(f"{path}: no metric columns besides `setting` and `seed`")
    col = {h: i for i, h in enumerate(header)}
    div = col.get("diverged")
    for n, r in rows:
        if len(r) != len(header):
            raise UserError(f"{path}: line {n} has {len(r)} fields, the header {len(header)}")
        flag = _flag(r[div], n) if div is not None else False
        for m in metrics:
            yield n, r[col["setting"]], r[col["seed"]], m, r[col[m]], flag


def _body(path, rows):
    most = budget("ROWS")
    for i, row in enumerate(rows):
        if i >= most:
            raise UserError(f"{path}: more than {most:,} rows (set JAXSTAB_MAX_ROWS to "
                            f"allow more)")
        yield row


def read_scores(path: str, study_name: str) -> tuple[list[dict], list[Runs], list[str], str]:
    """(settings in grid order, the runs as columns (one ``Runs`` per set of metrics a
    run has), the metrics in first-seen order, a digest of the scores)."""
    rows = _rows(path)
    first = next(rows, None)
    if first is None:
        raise UserError(f"{path}: empty")
    header = _header(path, first[1])
    for need in ("setting", "seed"):
        if need not in header:
            raise UserError(f"{path}: no `{need}` column; columns: "
                            f"{_short(', '.join(header))}")
    long = "metric" in header and "value" in header
    body = _body(path, rows)
    it = (_long_rows(path, header, body, study_name) if long
          else _wide_rows(path, header, body))
    # Each score goes into typed columns (33 bytes), not a dict per run and a record per
    # run: a 1M-row file imports in tens of MB (docs/performance.md).
    cols = {k: array(t) for k, t in (("sid", "i"), ("seed", "q"), ("metric", "i"),
                                     ("value", "d"), ("div", "b"), ("line", "q"))}
    settings: dict[str, dict] = {}
    sid_of: dict[str, int] = {}
    metric_id: dict[str, int] = {}
    most = budget("SETTINGS")
    for line, setting, seed_text, metric, value, div in it:
        sid = sid_of.get(setting)
        if sid is None:
            if len(settings) >= most:
                raise UserError(f"setting: more than {most:,} settings in the file, "
                                f"allowed at most {most:,}")
            settings[setting] = _setting(setting, line)
            sid = sid_of[setting] = len(sid_of)
        seed = _number(seed_text, "seed", line)
        if not (math.isfinite(seed) and seed == int(seed) and 0 <= seed < 10_000_000):
            raise UserError(f"seed: line {line}: {_short(seed_text)!r} is not a seed index "
                            f"(an integer from 0 to 9,999,999)")
        if metric == "diverged":  # recomputed from the values and the `diverged` column
            mid, v, div = -1, math.nan, False
        else:
            mid = metric_id.setdefault(metric, len(metric_id))
            v = _number(value, "value", line)
        for k, x in zip(cols.values(), (sid, int(seed), mid, v, div, line)):
            k.append(x)
    if not cols["line"]:
        raise UserError(f"{path}: no rows under its header")
    points, key_of = _canonical(settings)
    c = {k: np.frombuffer(v, dtype=v.typecode) for k, v in cols.items()}
    runs, digest = _columns(path, c, list(settings), key_of, list(metric_id))
    return points, runs, list(metric_id), digest


def _twice(group, c) -> int | None:
    """The row (the first in the file) that gives a metric of a run a second time;
    ``group``: the run's setting of each row."""
    got = np.flatnonzero(c["metric"] >= 0)
    order = got[np.lexsort((c["line"][got], c["metric"][got], c["seed"][got],
                            group[got]))]
    same = ((group[order[1:]] == group[order[:-1]])
            & (c["seed"][order[1:]] == c["seed"][order[:-1]])
            & (c["metric"][order[1:]] == c["metric"][order[:-1]]))
    if not same.any():
        return None
    dup = order[1:][same]
    return int(dup[np.argmin(c["line"][dup])])


def _columns(path, c, raw, key_of, metrics) -> tuple[list[Runs], str]:
    """The runs of the rows ``c`` (columns), checked, and the digest of their scores."""
    i = _twice(c["sid"], c)
    if i is not None:
        raise UserError(f"{path}: line {int(c['line'][i])}: "
                        f"{_short(metrics[c['metric'][i]])} of setting "
                        f"{_short(raw[c['sid'][i]])} seed {int(c['seed'][i])} is given twice")
    keys = sorted(set(key_of))
    rank = {k: j for j, k in enumerate(keys)}
    cid = np.array([rank[k] for k in key_of], np.int64)[c["sid"]]
    i = _twice(cid, c)
    if i is not None:
        raise UserError(f"{path}: {_short(metrics[c['metric'][i]])} of setting "
                        f"{key_of[c['sid'][i]]} seed {int(c['seed'][i])} is given twice "
                        f"(as {_short(raw[c['sid'][i]])} and another spelling)")
    # Runs in (setting key, seed) order: the seed index is below 10^7.
    run_ids, inv = np.unique(cid * 10_000_000 + c["seed"], return_inverse=True)
    setting, seeds = run_ids // 10_000_000, run_ids % 10_000_000
    n, got = len(run_ids), c["metric"] >= 0
    vals = np.full((n, len(metrics)), np.nan)
    have = np.zeros((n, len(metrics)), bool)
    vals[inv[got], c["metric"][got]] = c["value"][got]
    have[inv[got], c["metric"][got]] = True
    flagged = np.zeros(n, bool)
    flagged[inv[c["div"] != 0]] = True
    diverged = flagged | (have & ~np.isfinite(vals)).any(axis=1)
    stored = np.where(diverged[:, None], np.nan, vals)
    digest = _digest([keys[j] for j in setting.tolist()], seeds, vals, have, flagged,
                     metrics)
    kinds, which = np.unique(have, axis=0, return_inverse=True)
    parts = []
    for g, kind in enumerate(kinds):
        rows = np.flatnonzero(which.reshape(-1) == g)
        used, at = np.unique(setting[rows], return_inverse=True)
        m = {metrics[j]: stored[rows, j] for j in np.flatnonzero(kind)}
        m["diverged"] = diverged[rows].astype(np.float64)
        parts.append(Runs.build([keys[j] for j in used], at, seeds[rows], diverged[rows],
                                np.zeros(len(rows), np.int64), m, {}))
    return parts, digest


def _digest(keys, seeds, vals, have, flagged, metrics, batch: int = 10_000) -> str:
    """sha256 of the JSON of ``[[key, seed, [[metric, value], ...]], ...]`` (the metrics
    by name, ``__diverged`` among them where flagged), written a batch at a time: the
    same digest as the whole list's JSON, which earlier versions stored as the study's
    ``task_source``, so a file imported again is the same study."""
    by_name = sorted(range(len(metrics)), key=metrics.__getitem__)
    h = hashlib.sha256(b"[")
    for a in range(0, len(keys), batch):
        items = []
        for k, s, hv, vv, f in zip(keys[a:a + batch], seeds[a:a + batch].tolist(),
                                   have[a:a + batch].tolist(), vals[a:a + batch].tolist(),
                                   flagged[a:a + batch].tolist()):
            pairs = [(metrics[j], vv[j]) for j in by_name if hv[j]]
            items.append((k, s, sorted(pairs + [("__diverged", True)]) if f else pairs))
        h.update(((", " if a else "") + json.dumps(items, default=repr)[1:-1]).encode())
    h.update(b"]")
    return h.hexdigest()[:16]


def _canonical(settings: dict) -> tuple[list[dict], list[str]]:
    """One setting per value, as a study holds it: a factor with a float among its
    numbers holds floats (``{"lr": 1}`` and ``{"lr": 1.0}`` are one setting, as
    ``Study`` makes them); true/false mixed with numbers is refused (``true == 1`` in
    Python, and they would share a factor value but not a key). Settings come in grid
    order (each factor's numbers ascending, other values in the order first seen),
    without expanding the grid their values span."""
    names = list(dict.fromkeys(k for f in settings.values() for k in f))
    for f in settings.values():
        if set(f) != set(names):
            missing = next(n for n in names if n not in f)
            raise UserError(f"setting: {_short(setting_key(f))} lacks factor "
                            f"`{_short(missing)}`; every setting names the same factors")
    for n in names:
        vals = [f[n] for f in settings.values()]
        nums = [isinstance(v, (int, float)) and not isinstance(v, bool) for v in vals]
        if any(nums) and any(isinstance(v, bool) for v in vals):
            raise UserError(f"setting: factor `{_short(n)}` mixes true/false with numbers; "
                            f"give one kind")
        if all(nums) and any(isinstance(v, float) for v in vals):
            for f in settings.values():
                f[n] = float(f[n]) + 0.0  # (-0.0 is 0.0, as in Study)
    key_of = {raw: setting_key(f) for raw, f in settings.items()}
    points = {key_of[raw]: f for raw, f in settings.items()}
    order = {n: {hashable(v): i for i, v in enumerate(
        _unique([p[n] for p in points.values()]))} for n in names}
    ranked = sorted(points.values(),
                    key=lambda p: tuple(order[n][hashable(p[n])] for n in names))
    return ranked, list(key_of.values())


def import_scores(path: str, study_name: str, *, store, claims_file: str | None = None):
    """Write the scores of ``path`` into ``store`` as study ``study_name``; the study."""
    from jaxstab.loader import _claims, read_toml

    points, runs, metrics, digest = read_scores(path, study_name)
    extra: dict = {}
    if claims_file is not None:
        d = read_toml(claims_file)
        extra["claims"] = _claims(claims_file, d.get("claims", []))
        if "main_metric" in d:
            extra["main_metric"] = d["main_metric"]
    main = extra.get("main_metric") or ("test_accuracy" if "test_accuracy" in metrics
                                        else metrics[0])
    if main not in metrics:
        raise UserError(f"main_metric: `{main}` is not in the file; it has: "
                        f"{', '.join(metrics)}")
    for i, c in enumerate(extra.get("claims", ())):
        if c.metric not in metrics:
            raise UserError(f"claims[{i}].metric: `{c.metric}` is not in the file; it has: "
                            f"{', '.join(metrics)}")
    names = list(points[0])
    study = Study(name=study_name, task=IMPORTED, main_metric=main,
                  seeds=max(int(r.seeds.max()) for r in runs) + 1, task_source=digest,
                  factors=tuple((n, tuple(_unique([p[n] for p in points])))
                                for n in names),
                  points=tuple(points), **{k: v for k, v in extra.items()
                                           if k != "main_metric"})
    from jaxstab.store import open_store

    db = open_store(store)
    # a new SQLite file this import created holds nothing if it fails: leave no file
    created = getattr(db, "path", None) if db is not store and getattr(
        db, "_created", False) else None
    try:
        with db.transaction():  # the study and its runs, or nothing (a full disk)
            fp = db.ensure_study(study)
            # One Runs is written as columns; runs that lack some metrics, per record.
            added = db.write_chunk(fp, runs[0] if len(runs) == 1 else
                                   [r for part in runs for r in part], 0.0,
                                   {"imported": str(Path(path).resolve())})
    except BaseException as e:
        if db is not store:
            db.close()
            if created is not None:
                for end in ("", "-wal", "-shm", "-journal"):
                    Path(f"{created}{end}").unlink(missing_ok=True)
        if isinstance(e, sqlite3.OperationalError) and "full" in str(e):
            raise UserError(f"--store: cannot write {db.location} ({e}); nothing was "
                            f"imported") from None
        raise
    if db is not store:
        db.close()
    return study, added


def _unique(values: list) -> list:
    """Distinct values: numbers ascending, anything else in the order first seen."""
    seen: dict = {}
    for v in values:
        seen.setdefault(hashable(v), v)
    out = list(seen.values())
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in out):
        return sorted(out)
    return out
