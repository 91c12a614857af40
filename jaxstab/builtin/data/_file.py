"""A user's own data from a CSV or NPZ file (``[data] path = ...``).

CSV: a header row, numeric feature columns and a ``target`` column (any labels; they
become class indices in sorted order). NPZ: a 2-D feature array and a 1-D label array,
named ``x`` and ``target`` (default ``y``). Features are standardized per column, as the
bundled datasets are. The file's contents (not its path) are part of the study's
identity, so editing the data gives new results instead of mixing with old ones.
"""

from __future__ import annotations

import csv
import functools
import hashlib
from pathlib import Path

import numpy as np

from jaxstab.errors import UserError


def default_target(path: str) -> str:
    return "y" if path.endswith(".npz") else "target"


@functools.cache
def load_file(path: str, target: str) -> tuple[np.ndarray, np.ndarray, str]:
    """(x float32 standardized, y int64 class indices, sha256 digest of the file)."""
    p = Path(path)
    try:
        raw = p.read_bytes()
    except OSError as e:
        raise UserError(f"data.path: cannot read {path} ({e.strerror or e})") from None
    digest = hashlib.sha256(raw).hexdigest()[:16]
    if p.suffix == ".npz":
        x, labels = _npz(p, target)
    elif p.suffix == ".csv":
        x, labels = _csv(raw, path, target)
    else:
        raise UserError(f"data.path: {path} is neither .csv nor .npz")
    if x.ndim != 2 or len(x) != len(labels) or len(x) < 4:
        raise UserError(f"data.path: {path} needs at least 4 rows of features with one "
                        f"label each, got features {x.shape} and {len(labels)} labels")
    if not np.isfinite(x).all():
        raise UserError(f"data.path: {path} has missing or non-finite feature values")
    classes, y = np.unique(labels, return_inverse=True)
    if len(classes) < 2:
        raise UserError(f"data.target: `{target}` of {path} has a single class")
    std = x.std(axis=0)
    x = (x - x.mean(axis=0)) / np.where(std > 0, std, 1.0)
    return x.astype(np.float32), y.astype(np.int64), digest


def _npz(p: Path, target: str):
    try:
        with np.load(p, allow_pickle=False) as f:
            names = list(f.keys())
            if "x" not in names or target not in names:
                raise UserError(f"data.path: {p} needs arrays `x` and `{target}`, it has "
                                f"{', '.join(names) or 'none'}")
            return np.asarray(f["x"], np.float64), np.asarray(f[target])
    except (OSError, ValueError) as e:
        raise UserError(f"data.path: {p} is not a readable .npz file ({e})") from None


def _csv(raw: bytes, path: str, target: str):
    try:
        rows = list(csv.reader(raw.decode("utf-8-sig").splitlines()))
    except (UnicodeDecodeError, csv.Error) as e:
        raise UserError(f"data.path: {path} is not a readable CSV file ({e})") from None
    if not rows:
        raise UserError(f"data.path: {path} is empty")
    header, body = rows[0], [r for r in rows[1:] if r]
    if target not in header:
        raise UserError(f"data.target: no column `{target}` in {path}; columns: "
                        f"{', '.join(header)}")
    t = header.index(target)
    feats = [i for i in range(len(header)) if i != t]
    x = np.empty((len(body), len(feats)))
    for r, row in enumerate(body):
        if len(row) != len(header):
            raise UserError(f"data.path: {path} line {r + 2} has {len(row)} fields, the "
                            f"header has {len(header)}")
        for j, i in enumerate(feats):
            try:
                x[r, j] = float(row[i])
            except ValueError:
                raise UserError(f"data.path: {path} line {r + 2}, column `{header[i]}`: "
                                f"{row[i]!r} is not a number") from None
    labels = np.array([row[t] for row in body])
    try:  # numeric labels sort as numbers (2 before 10)
        labels = labels.astype(np.float64)
    except ValueError:
        pass
    return x, labels
