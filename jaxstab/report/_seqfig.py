"""The path of a sequential run (``--until-decided``): for each claim, its test statistic
at every look against the boundaries that would have decided it there."""

from __future__ import annotations

import math
from collections.abc import Sequence

from jaxstab.report._svg import MUTED, Canvas, Scale, axes, legend, tick_text, wrap, y_room

W = 1000.0
BOUNDS = (("efficacy", "#2ca02c", "holds at or above"),
          ("refute", "#d62728", "refuted at or beyond"),
          ("futility", "#7f7f7f", "futile below"))


def _finite(xs) -> list[float]:
    return [float(x) for x in xs if x is not None and math.isfinite(float(x))]


def path_figure(verdicts: Sequence, schedule: Sequence[int]) -> str:
    """One panel per claim, side by side (two per row): x the seeds per setting at each
    look (log scale, every look of the schedule marked), y the standardized statistic;
    the boundaries as dashed lines through the looks taken, the statistic as a line with
    a point per look, the deciding look circled."""
    per_row = 1 if len(verdicts) == 1 else 2
    pw, ph = W / per_row, 250.0
    rows = math.ceil(len(verdicts) / per_row)
    cv = Canvas("sequential", W, rows * ph + 40,
                label="sequential test statistic against its boundaries at each look")
    lo, hi = min(schedule), max(schedule)
    for i, v in enumerate(verdicts):
        ox, oy = (i % per_row) * pw, (i // per_row) * ph
        looks = list(v.looks)
        # a two-sided claim's boundaries are on |z|: plot |z| against them
        sign = (lambda z: abs(z)) if v.direction == "two-sided" else (lambda z: z)
        values = _finite([sign(lk.statistic) for lk in looks])
        for name, _, _ in BOUNDS:
            values += _finite([getattr(lk, name) for lk in looks])
        values += [0.0]
        ysc0 = Scale(min(values), max(values), 0, 1, pad=0.08)
        x0, x1 = ox + y_room(ysc0) + 14, ox + pw - 18
        top, bottom = oy + 40, oy + ph - 44
        xsc = Scale(lo / 1.15, hi * 1.15, x0, x1, log=True)
        ysc = Scale(min(values), max(values), bottom, top, pad=0.08)
        axes(cv, (x0, top, x1, bottom), x=xsc, y=ysc,
             xticks=[(n, tick_text(n)) for n in schedule], xlabel="seeds per setting",
             ylabel="|z|" if v.direction == "two-sided" else "z (claimed direction)")
        title = wrap(f"{i + 1}. {v.claim}", int((x1 - x0) / 6.2))[:2]
        cv.lines((x0 + x1) / 2, oy + 14, title, size=11.5, anchor="middle")
        xs = [xsc(lk.seeds) for lk in looks]
        for name, colour, _ in BOUNDS:
            ys = [ysc(b) if b is not None and math.isfinite(b) else math.nan
                  for b in (getattr(lk, name) for lk in looks)]
            cv.polyline(xs, ys, stroke=colour, sw=1.6, dash="5 4")
            for x, y in zip(xs, ys):  # a tick per look: seen even with one look
                if math.isfinite(y):
                    cv.line(x - 7, y, x + 7, y, stroke=colour, sw=2.2)
        stat = [ysc(sign(lk.statistic)) if math.isfinite(lk.statistic) else math.nan
                for lk in looks]
        cv.polyline(xs, stat, stroke="#1f77b4", sw=2.2)
        for lk, x, y in zip(looks, xs, stat):
            if math.isfinite(y):
                cv.circle(x, y, 3.5, fill="#1f77b4",
                          title=f"look {lk.look + 1}: {lk.seeds} seeds, statistic "
                                f"{lk.statistic:.3f}, {lk.decision}")
        if looks and v.status != "undecided" and math.isfinite(stat[-1]):
            cv.circle(xs[-1], stat[-1], 7.5, fill="none", stroke="#1b1f24", sw=1.5)
            cv.text(xs[-1], stat[-1] - 11, v.status, size=10, anchor="middle", fill=MUTED)
    legend(cv, 14, rows * ph + 8, W - 24,
           [("#1f77b4", "test statistic at each look")]
           + [(colour, f"boundary: {words}") for _, colour, words in BOUNDS])
    return cv.svg()
