"""Shared pieces of the result types: JSON conversion and quiet scipy calls."""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable, Mapping
from typing import Any

import numpy as np


def jsonable(value: Any) -> Any:
    """Convert a result (dataclasses, numpy scalars, arrays) to plain JSON types.

    NaN and infinities become ``None``: strict JSON has no spelling for them.
    """
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {f.name: jsonable(getattr(value, f.name)) for f in dataclasses.fields(value)}
    if isinstance(value, Mapping):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, np.ndarray):
        return [jsonable(v) for v in value.tolist()]
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        value = float(value)
        return value if math.isfinite(value) else None
    return value


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


def is_constant(x: np.ndarray) -> bool:
    return bool(x.size == 0 or np.ptp(x) == 0.0)
