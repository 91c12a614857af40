"""The scores of an imported file as columns: checked whole (a score given twice, under
one spelling of a setting or two), grouped into runs and digested, without a Python
object per run (a 1M-row file imports in about 200 MB; docs/performance.md)."""

from __future__ import annotations

import hashlib
import json

import numpy as np

from jaxstab.errors import UserError
from jaxstab.runs import Runs


def _short(text: str, most: int = 60) -> str:
    return text if len(text) <= most else text[:most] + f"... ({len(text):,} characters)"


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


def columns(path, c, raw, key_of, metrics) -> tuple[list[Runs], str]:
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
