"""How numbers and factor values are written on a page, in a figure and in a legend.

One place for it, so a learning rate of 1e-4 reads ``1e-4`` in the table, the heatmap,
the legend and the verdict sentence alike (a fixed-decimals format once wrote it as
``0.000``).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from typing import Any

import numpy as np


def value_text(v: Any) -> str:
    """A factor value, exactly: the shortest text that reads back as the same number
    (``1e-4``, ``3e-4``, ``0.001``, ``19``), lists joined with ``+``."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, (list, tuple)):
        return "+".join(value_text(x) for x in v)
    if isinstance(v, bool) or not isinstance(v, float):
        return str(v)
    if not math.isfinite(v):
        return str(v)
    if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e6):
        for digits in range(17):  # the shortest mantissa that round-trips
            text = f"{v:.{digits}e}"
            if float(text) == v:
                break
        mantissa, exponent = text.split("e")
        return f"{mantissa}e{int(exponent)}"
    text = repr(v)
    return text[:-2] if text.endswith(".0") else text


def label(factors: Mapping[str, Any]) -> str:
    """A setting's name: ``learning_rate=1e-4, batch_size=256``."""
    return ", ".join(f"{k}={value_text(v)}" for k, v in factors.items()) or "(one setting)"


def num(x: Any, digits: int = 4) -> str:
    if x is None or (isinstance(x, float) and not math.isfinite(x)):
        return "—"
    if isinstance(x, (int, np.integer)) and not isinstance(x, bool):
        return f"{int(x):,}"
    return f"{float(x):.{digits}g}"


def pval(p: Any) -> str:
    if p is None or not math.isfinite(p):
        return "—"
    return f"{p:.1e}" if p < 0.001 else f"{p:.3f}"


def interval(iv: Any, digits: int = 4) -> str:
    if iv is None or not (math.isfinite(iv.low) and math.isfinite(iv.high)):
        return "—"
    return f"[{num(iv.low, digits)}, {num(iv.high, digits)}]"


def percent(x: Any) -> str:
    if x is None or not math.isfinite(x):
        return "—"
    return f"{100 * x:.1f}%"


def duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def signed(x: float) -> str:
    return "n/a" if not math.isfinite(x) else f"{x:+.2f}"
