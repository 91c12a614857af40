"""How numbers are written on a page, in a figure and in a legend. Factor values and
setting names are the statistics' (``jaxstab.stats.value_text``, ``stats.label``), so
``compare``, the summary and the report name a setting one way."""

from __future__ import annotations

import math
from typing import Any

import numpy as np


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
