"""Shared pieces of the result types: JSON conversion, quiet scipy calls, and the one
rule that decides whether per-seed values vary at all."""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

# Metrics come from float32 computations on the device (resolution 1.2e-7 relative) and
# are summed in float64 here, so values that are "the same" differ by rounding residue:
# np.std of a constant array of k/200 accuracies is ~1e-17 for about half of them, and
# k/200 - (k-1)/200 is not the same float for every k. Anything below RTOL times the
# metric's scale (its largest |value|) is rounding, not seed variation. That holds for
# data stored as float32 only: values that float32 cannot hold (float64 data, e.g.
# 1e12 +- 1e5, whose variation is 1e-7 of its scale) are judged at float64's resolution,
# RTOL64, or a real difference would read as "constant".
RTOL = 1e-6
RTOL64 = 1e-13

# Seeds a side (or pairs) below which no spread claim is tested: at 3, Brown-Forsythe can
# never reach p < 0.116; at 4, every spread test measured (Brown-Forsythe, permutations of
# the std ratio or of |x - median|) rejected 0.15 of true nulls with collapsed runs
# (docs/statistics.md, "Spread tests"). Paired, 5 is still untestable two-sided at 0.05
# (32 sign arrangements: p >= 2/32), and the permutation's p says so.
SPREAD_MIN_N = 5


def jsonable(value: Any) -> Any:
    """Convert a result (dataclasses, numpy scalars, arrays) to plain JSON types.

    NaN and infinities become ``None``: strict JSON has no spelling for them (the
    records carry a ``note`` saying why a number is missing).
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)
                if f.metadata.get("json", True)}  # json=False: not part of the record
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)) and len(value) > _FLAT:
        flat = _flat(value)
        if flat is not None:
            return flat
    if isinstance(value, (list, tuple, frozenset, set)):
        return [jsonable(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    return value


# From this length a list of plain numbers is converted in one step (a report's per-seed
# values: element by element, 1.8 million of them took 5 s at 2 x 300,000 runs).
_FLAT = 64


def _flat(values: list | tuple) -> list | None:
    """``values`` as JSON if they are all plain floats, ints or bools (else None)."""
    kinds = set(map(type, values))
    if kinds == {float}:
        if np.isfinite(np.fromiter(values, float, len(values))).all():
            return list(values)
        return [v if math.isfinite(v) else None for v in values]
    if kinds == {int} or kinds == {bool}:
        return list(values)
    return None


class Record:
    """Mixin for the frozen result dataclasses: ``to_dict()`` gives JSON-ready data."""

    def to_dict(self) -> dict[str, Any]:
        return jsonable(self)


def quiet(fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
    """Call a scipy routine on data that may be degenerate.

    Degenerate inputs (constant samples, complete separation) are expected here and are
    reported in the result's ``note``; scipy's RuntimeWarnings about them would only be
    noise on the user's terminal.
    """
    with warnings.catch_warnings(), np.errstate(all="ignore"):
        warnings.simplefilter("ignore")
        return fn(*args, **kwargs)


def _as_float32(x: np.ndarray) -> bool:
    with np.errstate(over="ignore"):
        return bool(np.all(x.astype(np.float32).astype(float) == x))


def tolerance(*samples: Any) -> float:
    """The rounding residue allowed: the scale of the metric (the largest finite |value|
    in ``samples``) times RTOL when one of the samples holds float32 values, as the
    device stores them (a float64 difference of float32 data carries their rounding),
    else times RTOL64 (float64 data: its own resolution)."""
    scale, coarse = 0.0, False
    for s in samples:
        s = np.asarray(s, dtype=float)
        s = s[np.isfinite(s)]
        if s.size:
            scale = max(scale, float(np.max(np.abs(s))))
            coarse = coarse or _as_float32(s)
    return (RTOL if coarse else RTOL64) * scale


def is_constant(x: Any, *like: Any) -> bool:
    """True when ``x`` does not vary beyond rounding residue. The tolerance is relative
    to the scale of ``x`` and of the samples ``like`` it was computed from (for a
    per-seed difference a - b, pass a and b: its residue is relative to them).

    Every "no seed variation" decision in jaxstab.stats goes through this function.
    """
    x = np.asarray(x, dtype=float)
    x = x[np.isfinite(x)]
    return bool(x.size == 0 or float(np.ptp(x)) <= tolerance(x, *like))


def snap(x: np.ndarray, *like: Any) -> np.ndarray:
    """``x`` with its rounding residue removed when it is constant (every entry its
    median, one of its own values, so ties with other samples are kept), so that
    scipy sees an exactly constant sample."""
    if x.size and is_constant(x, *like):
        return np.full(x.shape, float(np.median(x)))
    return x


def std(x: np.ndarray, *like: Any) -> float:
    """Sample std (ddof=1), exactly 0 for a constant sample."""
    if x.size < 2:
        return float("nan")
    return 0.0 if is_constant(x, *like) else float(np.std(x, ddof=1))
