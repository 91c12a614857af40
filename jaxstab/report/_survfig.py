"""Time to target and whole curves: the Kaplan-Meier curve of "not yet at target" per
setting, and mean curves with both their pointwise and simultaneous bands."""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from jaxstab.report._svg import Canvas, Scale, axes, legend, y_room

W = 1000.0


def _steps(t: np.ndarray, ys: Sequence[np.ndarray], end: float) -> tuple:
    """A right-continuous step function through (t[i], y[i]) drawn to ``end``: each
    value held until the next time."""
    xs = np.repeat(np.r_[t, end], 2)[1:-1]
    return xs, [np.repeat(y, 2) for y in ys]


def km_figure(target: str, items: Sequence[tuple], horizon: float,
              xlabel: str = "epoch") -> str:
    """One panel: per setting ``(label, colour, time, survival, low, high)``, the
    Kaplan-Meier share of runs not yet at ``target`` as a step line from (0, 1), its
    pointwise 95% band shaded; runs that never reach keep it above 0 at the horizon."""
    cv = Canvas("km", W, 345, label=f"Kaplan-Meier: share of runs not yet at {target}")
    x0, top, x1, bottom = 60.0, 30.0, W - 20, 270.0
    xsc = Scale(0, max(horizon, 1.0), x0, x1, pad=0.02)
    ysc = Scale(0, 1, bottom, top, pad=0.03)
    axes(cv, (x0, top, x1, bottom), x=xsc, y=ysc, xlabel=xlabel,
         ylabel="share not yet at target")
    cv.text((x0 + x1) / 2, 16, f"time to {target}", size=12, anchor="middle", weight="600")
    for lab, colour, t, s, lo, hi in items:
        xs, (ys, los, his) = _steps(np.asarray(t, float), [np.asarray(v, float)
                                                           for v in (s, lo, hi)], horizon)
        cv.band(xsc.many(xs), ysc.many(los), ysc.many(his), fill=colour, opacity=0.15)
        cv.polyline(xsc.many(xs), ysc.many(ys), stroke=colour, sw=2.0, title=lab)
    legend(cv, 14, bottom + 46, W - 24, [(c, lab) for lab, c, *_ in items])
    return cv.svg()


def bands_figure(curve: str, items: Sequence[tuple], xlabel: str = "epoch") -> str:
    """One panel per curve: per setting ``(label, colour, band)`` (a stats.CurveBand),
    the mean over finished runs as a line, the pointwise 95% band darker and the
    simultaneous band (it holds the whole curve with 95%) lighter around it."""
    ys = [v for _, _, b in items for arr in (b.low, b.high) for v in arr if math.isfinite(v)]
    steps = max((float(b.steps[-1]) for _, _, b in items), default=1.0)
    cv = Canvas("bands", W, 345, label=f"mean {curve} with pointwise and whole-curve bands")
    ysc0 = Scale(min(ys, default=0.0), max(ys, default=1.0), 0, 1, pad=0.05)
    x0, top, x1, bottom = y_room(ysc0) + 20, 30.0, W - 20, 270.0
    xsc = Scale(1, max(steps, 2.0), x0, x1, pad=0.02)
    ysc = Scale(min(ys, default=0.0), max(ys, default=1.0), bottom, top, pad=0.05)
    axes(cv, (x0, top, x1, bottom), x=xsc, y=ysc, xlabel=xlabel, ylabel=f"mean {curve}")
    cv.text((x0 + x1) / 2, 16, f"mean {curve}", size=12, anchor="middle", weight="600")
    for lab, colour, b in items:
        ex = xsc.many(b.steps)
        cv.band(ex, ysc.many(b.low), ysc.many(b.high), fill=colour, opacity=0.12)
        cv.band(ex, ysc.many(b.pointwise_low), ysc.many(b.pointwise_high), fill=colour,
                opacity=0.28)
        cv.polyline(ex, ysc.many(b.mean), stroke=colour, sw=2.0, title=lab)
    legend(cv, 14, bottom + 46, W - 24, [(c, lab) for lab, c, _ in items])
    return cv.svg()
