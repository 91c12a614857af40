"""Input checks: one small function per kind of argument, each raising UserError."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np

from jaxstab.errors import UserError

NAN_POLICIES = ("raise", "omit")


def choice(value: Any, name: str, allowed: Iterable[str]) -> str:
    allowed = tuple(allowed)
    if value not in allowed:
        options = ", ".join(repr(a) for a in allowed)
        raise UserError(f"{name}: must be one of {options}, got {value!r}")
    return value


def level(value: Any, name: str = "level") -> float:
    try:
        value = float(value)
    except (TypeError, ValueError):
        raise UserError(f"{name}: must be a number between 0 and 1, got {value!r}") from None
    if not 0.0 < value < 1.0:
        raise UserError(f"{name}: must be between 0 and 1 (exclusive), got {value!r}")
    return value


def positive_int(value: Any, name: str, minimum: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < minimum:
        raise UserError(f"{name}: must be an integer >= {minimum}, got {value!r}")
    return int(value)


def rng(value: Any, name: str = "rng") -> np.random.Generator:
    """``None`` means a fixed seed (0): reports must be identical from run to run."""
    if value is None:
        return np.random.default_rng(0)
    if isinstance(value, np.random.Generator):
        return value
    if isinstance(value, (int, np.integer)) and not isinstance(value, bool) and value >= 0:
        return np.random.default_rng(int(value))
    raise UserError(f"{name}: must be None, a non-negative int or numpy.random.Generator, "
                    f"got {type(value).__name__}")


def array(x: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(x, dtype=float)
    except (TypeError, ValueError):
        raise UserError(f"{name}: need numbers, got {type(x).__name__}") from None
    if arr.ndim != 1:
        raise UserError(f"{name}: need a 1-D array of per-seed values, got shape {arr.shape}")
    return arr


def _drop_nonfinite(arr: np.ndarray, name: str, nan_policy: str) -> np.ndarray:
    bad = ~np.isfinite(arr)
    if bad.any():
        if nan_policy == "raise":
            raise UserError(f"{name}: {int(bad.sum())} non-finite value(s) (NaN/inf, e.g. "
                            f"diverged runs); pass nan_policy='omit' to leave them out")
        arr = arr[~bad]
    return arr


def sample(x: Any, name: str, *, nan_policy: str = "raise", min_n: int = 2) -> np.ndarray:
    """A 1-D float array of per-seed values with at least ``min_n`` finite entries."""
    choice(nan_policy, "nan_policy", NAN_POLICIES)
    arr = _drop_nonfinite(array(x, name), name, nan_policy)
    if arr.size < min_n:
        raise UserError(f"{name}: need at least {min_n} finite values, got {arr.size}")
    return arr


def paired(a: Any, b: Any, names: tuple[str, str] = ("a", "b"), *,
           nan_policy: str = "raise", min_n: int = 2) -> tuple[np.ndarray, np.ndarray]:
    """Two aligned samples (entry i of each from seed i); a pair with a non-finite side
    is dropped whole under ``nan_policy='omit'``."""
    choice(nan_policy, "nan_policy", NAN_POLICIES)
    x, y = array(a, names[0]), array(b, names[1])
    if x.shape != y.shape:
        raise UserError(f"{names[1]}: paired samples need the same shape as {names[0]}, "
                        f"got {x.shape} and {y.shape}")
    bad = ~(np.isfinite(x) & np.isfinite(y))
    if bad.any():
        if nan_policy == "raise":
            raise UserError(f"{names[0]}, {names[1]}: {int(bad.sum())} pair(s) with a "
                            f"non-finite value; pass nan_policy='omit' to drop those pairs")
        x, y = x[~bad], y[~bad]
    if x.size < min_n:
        raise UserError(f"{names[0]}, {names[1]}: need at least {min_n} complete pairs, "
                        f"got {x.size}")
    return x, y


def bootstrap_batch(n: int) -> int:
    """Resamples per scipy batch, so that one batch holds about 2e7 numbers."""
    return max(1, int(2e7 // max(n, 1)))
