"""Scores made elsewhere (PyTorch, any tracker) into the store, so they get the same
statistics, verdicts and report: ``jaxstab import FILE.csv --study NAME``.

The file has the export's columns: ``setting, seed, metric, value`` (long: one row per
run and metric; ``study``, ``fingerprint``, ``diverged`` and ``diverged_step`` are
optional; rows with a ``step``, the curves of ``export --curves``, are skipped) or
``setting, seed`` and one column per metric (wide), or is tidy: one column per factor,
``seed`` and one column per metric (pandas' shape, e.g. ``dataset,algo,seed,accuracy``;
see ``tidy``). ``setting`` is a JSON object of factor values (what ``jaxstab export``
writes) or a plain label (the factor is then called ``setting``). Runs with the same seed index are taken as paired across
settings, as jaxstab's own are. An empty value is a diverged run.
"""

from __future__ import annotations

import csv
import hashlib
import itertools
import json
import math
from pathlib import Path

from jaxstab.errors import UserError
from jaxstab.study import Study, setting_key
from jaxstab.task import IMPORTED


def _read(path: str) -> tuple[list[str], list[list[str]]]:
    try:
        text = Path(path).read_text(encoding="utf-8-sig")
    except OSError as e:
        raise UserError(f"{path}: cannot read it ({e.strerror or e})") from None
    except UnicodeDecodeError:
        raise UserError(f"{path}: not UTF-8 text") from None
    rows = [r for r in csv.reader(text.splitlines()) if r]
    if len(rows) < 2:
        raise UserError(f"{path}: no rows under its header")
    return rows[0], rows[1:]


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
        raise UserError(f"{what}: line {line}: {text!r} is not a number") from None


def _long_rows(path, header, rows, study_name):
    col = {h: i for i, h in enumerate(header)}
    if "study" in col:
        # An export of several studies: take the one named; of one study: take it,
        # whatever name it is stored under now.
        names = sorted({r[col["study"]] for r in rows})
        if len(names) > 1:
            rows = [r for r in rows if r[col["study"]] == study_name]
            if not rows:
                raise UserError(f"--study: the file holds several studies and none is "
                                f"`{study_name}`; it holds: {', '.join(names)}")
    for n, r in enumerate(rows, start=2):
        if len(r) != len(header):
            raise UserError(f"{path}: line {n} has {len(r)} fields, the header {len(header)}")
        if "step" in col and r[col["step"]].strip():
            continue  # a curve's point (`export --curves`): scores are the metrics
        div = col.get("diverged")
        yield (n, r[col["setting"]], r[col["seed"]], r[col["metric"]],
               r[col["value"]], r[div] if div is not None else "")


def _wide_rows(path, header, rows):
    metrics = [h for h in header if h not in ("setting", "seed")]
    if not metrics:
        raise UserError(f"{path}: no metric columns besides `setting` and `seed`")
    col = {h: i for i, h in enumerate(header)}
    for n, r in enumerate(rows, start=2):
        if len(r) != len(header):
            raise UserError(f"{path}: line {n} has {len(r)} fields, the header {len(header)}")
        for m in metrics:
            yield n, r[col["setting"]], r[col["seed"]], m, r[col[m]], ""


def _ordered(values: list) -> list:
    """Numbers ascending, anything else in the order first seen."""
    if all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return sorted(values)
    return values


def read_scores(path: str, study_name: str, factors=()) -> tuple[list[dict], dict]:
    """(settings in grid order, {(setting key, seed): {metric: value}})."""
    header, rows = _read(path)
    if "setting" not in header and "seed" in header:
        header, rows = tidy(path, header, rows, factors)
    for need in ("setting", "seed"):
        if need not in header:
            raise UserError(f"{path}: no `{need}` column; columns: {', '.join(header)}")
    long = "metric" in header and "value" in header
    it = _long_rows(path, header, rows, study_name) if long else _wide_rows(path, header, rows)
    runs: dict[tuple[str, int], dict] = {}
    settings: dict[str, dict] = {}
    for line, setting, seed_text, metric, value, div in it:
        factors = _setting(setting, line)
        seed = _number(seed_text, "seed", line)
        if not (math.isfinite(seed) and seed == int(seed) and seed >= 0):
            raise UserError(f"seed: line {line}: {seed_text!r} is not a seed index (an "
                            f"integer >= 0)")
        key = setting_key(factors)
        settings.setdefault(key, factors)
        run = runs.setdefault((key, int(seed)), {})
        if metric == "diverged":
            continue  # recomputed from the values and the `diverged` column
        if metric in run:
            raise UserError(f"{path}: line {line}: {metric} of setting {key} seed "
                            f"{int(seed)} is given twice")
        run[metric] = _number(value, "value", line)
        if div.strip() in ("1", "True", "true"):
            run["__diverged"] = True
    names = list(dict.fromkeys(k for f in settings.values() for k in f))
    for key, f in settings.items():
        if set(f) != set(names):
            raise UserError(f"setting: {key} lacks factor "
                            f"`{next(n for n in names if n not in f)}`; every setting "
                            f"names the same factors")
    values = {n: _unique([f[n] for f in settings.values()]) for n in names}
    grid = [dict(zip(names, combo)) for combo in itertools.product(*values.values())]
    points = [p for p in grid if setting_key(p) in settings]
    return points, runs


def import_scores(path: str, study_name: str, *, store, claims_file: str | None = None,
                  strata=(), lower_is_better=()):
    """Write the scores of ``path`` into ``store`` as study ``study_name``; the study.
    ``strata``: factors whose values are tasks; ``lower_is_better``: metric names."""
    from jaxstab.loader import _claims, read_toml
    from jaxstab.runs import RunRecord

    points, runs = read_scores(path, study_name, strata)
    metrics = list(dict.fromkeys(m for r in runs.values() for m in r if m != "__diverged"))
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
    blob = json.dumps(sorted((k, s, sorted(v.items())) for (k, s), v in runs.items()),
                      default=repr)
    study = Study(name=study_name, task=IMPORTED, main_metric=main,
                  seeds=max(s for _, s in runs) + 1,
                  task_source=hashlib.sha256(blob.encode()).hexdigest()[:16],
                  factors=tuple((n, tuple(_unique([p[n] for p in points])))
                                for n in names),
                  points=tuple(points), **{k: v for k, v in extra.items()
                                           if k != "main_metric"})
    recs = []
    for (key, seed), vals in sorted(runs.items()):
        div = bool(vals.pop("__diverged", False)) or not all(
            math.isfinite(v) for v in vals.values())
        m = {k: (None if div or not math.isfinite(v) else v) for k, v in vals.items()}
        m["diverged"] = float(div)
        recs.append(RunRecord(key, seed, m, {}, div, 0 if div else None))
    from jaxstab.store import Store

    db = store if isinstance(store, Store) else Store(store)
    try:
        fp = db.ensure_study(study)
        added = db.write_chunk(fp, recs, 0.0, {"imported": str(Path(path).resolve())})
    finally:
        if db is not store:
            db.close()
    return study, added


def _unique(values: list) -> list:
    out = []
    for v in values:
        if v not in out:
            out.append(v)
    return _ordered(out)


def tidy(path: str, header: list[str], rows: list[list[str]], factors=()) -> tuple:
    """A tidy file (one column per factor, ``seed``, one per metric) in the wide form
    (``setting`` a JSON object of the row's factor values). Factors: the columns named
    in ``factors`` (the strata) and every column holding a value that is not a number;
    the other columns are metrics (a number column that is a factor, such as a learning
    rate, is named in ``factors``)."""
    for f in factors:
        if f not in header:
            raise UserError(f"--strata: {path} has no column `{f}`; columns: "
                            f"{', '.join(header)}")
    col = {h: i for i, h in enumerate(header)}
    for n, r in enumerate(rows, start=2):
        if len(r) != len(header):
            raise UserError(f"{path}: line {n} has {len(r)} fields, the header "
                            f"{len(header)}")
    keep = [h for h in header if h not in ("seed", "diverged", "diverged_step")]
    names = [h for h in keep if h in factors or not all(
        _is_number(r[col[h]]) for r in rows)]
    if not names:
        raise UserError(f"{path}: no `setting` column and no factor column (a column of "
                        f"labels, or one named by --strata); columns: {', '.join(header)}")
    if len(names) == len(keep):
        raise UserError(f"{path}: no metric column (a column of numbers) besides the "
                        f"factors {', '.join(names)}")
    rest = [h for h in header if h not in names]
    out = [["setting"] + rest]
    for r in rows:
        setting = {h: _factor_value(r[col[h]]) for h in names}
        out.append([json.dumps(setting)] + [r[col[h]] for h in rest])
    return out[0], out[1:]


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
