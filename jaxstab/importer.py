"""Scores made elsewhere (PyTorch, any tracker) into the store, so they get the same
statistics, verdicts and report: ``jaxstab import FILE.csv --study NAME``.

The file has the export's columns: ``setting, seed, metric, value`` (long: one row per
run and metric; ``study``, ``fingerprint``, ``diverged`` and ``diverged_step`` are
optional; rows with a ``step``, the curves of ``export --curves``, are skipped) or
``setting, seed`` and one column per metric (wide), or is tidy: one column per factor,
``seed`` and one column per metric (pandas' shape, e.g. ``dataset,algo,seed,accuracy``;
see ``tidy``). ``setting`` is a JSON object of factor values (what ``jaxstab export``
writes) or a plain label (the factor is then called ``setting``). Runs with the same
seed index are taken as paired across
settings, as jaxstab's own are. An empty value is a diverged run.
"""

from __future__ import annotations

import csv
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
from jaxstab._import_columns import _short, columns
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


def read_scores(path: str, study_name: str, factors=()
                ) -> tuple[list[dict], list[Runs], list[str], str]:
    """(settings in grid order, the runs as columns (one ``Runs`` per set of metrics a
    run has), the metrics in first-seen order, a digest of the scores)."""
    rows = _rows(path)
    first = next(rows, None)
    if first is None:
        raise UserError(f"{path}: empty")
    header = _header(path, first[1])
    if "setting" not in header and "seed" in header:
        header, rows = tidy(path, header, _body(path, rows), factors)
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
    runs, digest = columns(path, c, list(settings), key_of, list(metric_id))
    return points, runs, list(metric_id), digest


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


def import_scores(path: str, study_name: str, *, store, claims_file: str | None = None,
                  strata=(), lower_is_better=()):
    """Write the scores of ``path`` into ``store`` as study ``study_name``; the study.
    ``strata``: factors whose values are tasks; ``lower_is_better``: metric names."""
    from jaxstab.loader import _claims, read_toml

    points, runs, metrics, digest = read_scores(path, study_name, strata)
    extra: dict = {"strata": tuple(strata)}
    if claims_file is not None:
        d = read_toml(claims_file)
        extra["claims"] = _claims(claims_file, d.get("claims", []))
        if "main_metric" in d:
            extra["main_metric"] = d["main_metric"]
        if "strata" in d and not strata:
            extra["strata"] = tuple(d["strata"]) if isinstance(d["strata"], list) \
                else d["strata"]
        extra["metrics"] = dict(d.get("metrics", {})) \
            if isinstance(d.get("metrics", {}), dict) else d["metrics"]
    for m in lower_is_better:
        if m not in metrics:
            raise UserError(f"--lower-is-better: `{m}` is not a metric of {path}; it has: "
                            f"{', '.join(metrics)}")
    if lower_is_better:
        extra["metrics"] = {**extra.get("metrics", {}),
                            **{m: "lower" for m in lower_is_better}}
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


def tidy(path: str, header: list[str], rows, factors=()) -> tuple:
    """A tidy file (one column per factor, ``seed``, one per metric) in the wide form
    (``setting`` a JSON object of the row's factor values). Factors: the columns named
    in ``factors`` (the strata) and every column holding a value that is not a number;
    the other columns are metrics (a number column that is a factor, such as a learning
    rate, is named in ``factors``). ``rows``: ``(line, fields)``; read whole, since a
    column's kind is known only from all its values."""
    rows = list(rows)
    for f in factors:
        if f not in header:
            raise UserError(f"--strata: {path} has no column `{f}`; columns: "
                            f"{', '.join(header)}")
    col = {h: i for i, h in enumerate(header)}
    for n, r in rows:
        if len(r) != len(header):
            raise UserError(f"{path}: line {n} has {len(r)} fields, the header "
                            f"{len(header)}")
    keep = [h for h in header if h not in ("seed", "diverged", "diverged_step")]
    names = [h for h in keep if h in factors or not all(
        _is_number(r[col[h]]) for _, r in rows)]
    if not names:
        raise UserError(f"{path}: no `setting` column and no factor column (a column of "
                        f"labels, or one named by --strata); columns: {', '.join(header)}")
    if len(names) == len(keep):
        raise UserError(f"{path}: no metric column (a column of numbers) besides the "
                        f"factors {', '.join(names)}")
    rest = [h for h in header if h not in names]
    out = [(n, [json.dumps({h: _factor_value(r[col[h]]) for h in names})]
            + [r[col[h]] for h in rest]) for n, r in rows]
    return ["setting"] + rest, iter(out)


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return text.strip() == ""  # an empty metric value is a diverged run
    return True


def _factor_value(text: str):
    """A number where the cell is one (a learning rate), else the label."""
    try:
        v = float(text)
    except ValueError:
        return text
    if not math.isfinite(v):
        return text
    return int(v) if v == int(v) and "." not in text and "e" not in text.lower() else v
