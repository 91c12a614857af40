"""Figures of a grid of settings, as inline SVG: heatmaps of the mean and the std with
their intervals, main-effect plots per factor, and the pairwise matrix."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from jaxstab.report._svg import (INK, MUTED, Canvas, Scale, axes, width, wrap, y_room)

W = 1000.0
# Sequential palettes, light to dark: viridis for means, a magma-like ramp for spread.
PALETTES = {
    "mean": ("#fde725", "#5ec962", "#21918c", "#3b528b", "#440154"),
    "std": ("#fcfdbf", "#fc8961", "#b73779", "#51127c", "#000004"),
}
DIVERGING = ("#2166ac", "#67a9cf", "#d1e5f0", "#f7f7f7", "#fddbc7", "#ef8a62", "#b2182b")
PAIRWISE_SCALE = 1.5  # colour saturates at |g| = 1.5 (large) and a std ratio of 2^1.5


def _hex(rgb: np.ndarray) -> str:
    return "#" + "".join(f"{int(round(v)):02x}" for v in np.clip(rgb, 0, 255))


def ramp(stops: Sequence[str], t: float) -> str:
    """Colour at ``t`` in [0, 1] along the stops (linear in RGB)."""
    if not math.isfinite(t):
        return "#eeeeee"
    rgb = np.array([[int(s[i:i + 2], 16) for i in (1, 3, 5)] for s in stops], float)
    pos = min(max(t, 0.0), 1.0) * (len(stops) - 1)
    i = min(int(pos), len(stops) - 2)
    return _hex(rgb[i] + (rgb[i + 1] - rgb[i]) * (pos - i))


def ink_on(fill: str) -> str:
    r, g, b = (int(fill[i:i + 2], 16) / 255 for i in (1, 3, 5))
    return "#ffffff" if 0.2126 * r + 0.7152 * g + 0.0722 * b < 0.5 else INK


@dataclass(frozen=True)
class Cell:
    value: float
    low: float
    high: float
    tip: str  # what hovering says: the setting, the value and interval, n, diverged
    mark: str = ""  # "best", "tied" or ""


@dataclass(frozen=True)
class Panel:
    title: str
    quantity: str  # the key of its scale in ``scales``: "mean" or "std"
    row_name: str
    col_name: str
    rows: tuple[str, ...]
    cols: tuple[str, ...]
    cells: dict  # (row, col) -> Cell


def _short(x: float, digits: int) -> str:
    return f"{x:.{digits}g}" if math.isfinite(x) else "—"


def heatmap_figure(name: str, panels: Sequence[Panel], scales: dict[str, tuple[float, float]],
                   scale_labels: dict[str, str]) -> str:
    """Panels of cells coloured by value, each cell showing the value and, where it
    fits, its interval (always in the hover text). A solid outline marks the best
    setting, a dashed one those tied with it."""
    cv = Canvas(name, W, 100)
    row_w = max(width(t, 11) for p in panels for t in p.rows + (p.row_name,)) + 30
    widest = max(len(p.cols) for p in panels)
    cell_w = min(150.0, max(64.0, (W / min(len(panels), 2) - row_w - 20) / widest))
    cell_w = min(cell_w, (W - row_w - 20) / widest)  # many levels: narrower, never wider
    digits = 4 if cell_w >= 120 else 3
    in_cell = cell_w >= 118
    shown = cell_w >= 40  # the value in the cell; narrower cells keep it on hover
    cell_h = 40.0 if in_cell else 30.0
    x, y, line_h = 0.0, 4.0, 0.0
    for p in panels:
        pw = row_w + cell_w * len(p.cols) + 16
        ph = 46 + cell_h * len(p.rows) + 8
        if x > 0 and x + pw > W:
            x, y, line_h = 0.0, y + line_h + 10, 0.0
        lo, hi = scales[p.quantity]
        gx, gy = x + row_w, y + 46
        cv.text(gx + cell_w * len(p.cols) / 2, y + 12, p.title, size=12, anchor="middle",
                weight="600")
        cv.text(gx + cell_w * len(p.cols) / 2, y + 27, p.col_name, size=10.5,
                anchor="middle", fill=MUTED)
        for j, col in enumerate(p.cols):
            cv.text(gx + cell_w * (j + 0.5), y + 41, col, size=11, anchor="middle")
        cv.text(x + 10, gy + cell_h * len(p.rows) / 2, p.row_name, size=10.5,
                anchor="middle", fill=MUTED, rotate=-90)
        for i, row in enumerate(p.rows):
            cv.text(gx - 6, gy + cell_h * (i + 0.5), row, size=11, anchor="end",
                    baseline="middle")
            for j in range(len(p.cols)):
                cx, cy = gx + cell_w * j, gy + cell_h * i
                cell = p.cells.get((i, j))
                if cell is None:
                    cv.rect(cx + 1, cy + 1, cell_w - 2, cell_h - 2, fill="#f4f6f8",
                            title="no runs")
                    continue
                t = (cell.value - lo) / (hi - lo) if hi > lo else 0.5
                fill = ramp(PALETTES[p.quantity], t)
                cv.rect(cx + 1, cy + 1, cell_w - 2, cell_h - 2, fill=fill, title=cell.tip)
                ink = ink_on(fill)
                main_y = cy + (cell_h / 2 - 5 if in_cell else cell_h / 2)
                if shown:
                    cv.text(cx + cell_w / 2, main_y, _short(cell.value, digits), size=12,
                            anchor="middle", fill=ink, weight="600", baseline="middle")
                if in_cell and math.isfinite(cell.low):
                    cv.text(cx + cell_w / 2, cy + cell_h / 2 + 10,
                            f"[{_short(cell.low, 3)}, {_short(cell.high, 3)}]", size=9.5,
                            anchor="middle", fill=ink, baseline="middle")
                if cell.mark:  # in the text's colour: it shows on light and dark cells
                    cv.rect(cx + 3, cy + 3, cell_w - 6, cell_h - 6, stroke=ink, sw=2.4,
                            dash=None if cell.mark == "best" else "5 3")
        x += pw
        line_h = max(line_h, ph)
    y += line_h + 6
    for q, (lo, hi) in scales.items():  # one colour bar per quantity
        _colour_bar(cv, 20 + (W / 2) * list(scales).index(q), y, W / 2 - 60, PALETTES[q],
                    lo, hi, scale_labels[q])
    cv.h = y + 44
    return cv.svg()


def _colour_bar(cv: Canvas, x: float, y: float, w: float, stops, lo, hi, label) -> None:
    n = 40
    for i in range(n):
        cv.rect(x + w * i / n, y, w / n + 0.3, 10, fill=ramp(stops, (i + 0.5) / n))
    cv.text(x, y + 23, _short(lo, 4), size=10, fill=MUTED)
    cv.text(x + w, y + 23, _short(hi, 4), size=10, anchor="end", fill=MUTED)
    cv.text(x + w / 2, y + 23, label, size=10.5, anchor="middle")


@dataclass(frozen=True)
class EffectPanel:
    factor: str
    levels: tuple[str, ...]
    means: tuple[float, ...]
    lows: tuple[float, ...]
    highs: tuple[float, ...]
    traces: tuple[tuple[str, tuple[float, ...]], ...]  # (other factors, cell means)


def main_effects_figure(panels: Sequence[EffectPanel], metric: str) -> str:
    """Per factor, the metric's mean at each level averaged over the other factors
    (black, with its interval), and each combination of the other factors' setting
    means as a thin grey line (lines that are not parallel show an interaction)."""
    n = len(panels)
    per_row = min(n, 4)
    pw, ph = W / per_row, 250.0
    vals = [v for p in panels for v in p.lows + p.highs + p.means if math.isfinite(v)]
    vals += [v for p in panels for _, tr in p.traces for v in tr if math.isfinite(v)]
    yr = (min(vals, default=0.0), max(vals, default=1.0))
    cv = Canvas("main-effects", W, ph * math.ceil(n / per_row) + 6)
    for i, p in enumerate(panels):
        x0, y0 = (i % per_row) * pw, (i // per_row) * ph
        left = x0 + y_room(Scale(*yr, 0, 1, pad=0.06)) + 8
        right, top, bottom = x0 + pw - 14, y0 + 24, y0 + ph - 56
        k = len(p.levels)
        xs = Scale(-0.5, k - 0.5, left, right)
        ys = Scale(*yr, bottom, top, pad=0.06)
        rotate = max(len(t) for t in p.levels) * 6.5 > (right - left) / k
        axes(cv, (left, top, right, bottom), x=xs, y=ys, xgrid=False,
             xticks=[] if rotate else [(j, t) for j, t in enumerate(p.levels)],
             ylabel=metric if i % per_row == 0 else "")
        if rotate:
            for j, t in enumerate(p.levels):
                cv.text(xs(j) + 3, bottom + 12, t, size=10, anchor="end", rotate=-30,
                        fill=MUTED)
        cv.text((left + right) / 2, y0 + 14, p.factor, size=12, anchor="middle",
                weight="600")
        for other, tr in p.traces:
            cv.polyline([xs(j) for j in range(k)], ys.many(tr), stroke="#b8c0c9", sw=1.1,
                        title=other)
        cv.polyline([xs(j) for j in range(k)], ys.many(p.means), stroke=INK, sw=2)
        for j in range(k):
            if math.isfinite(p.lows[j]) and math.isfinite(p.highs[j]):
                cv.line(xs(j), ys(p.lows[j]), xs(j), ys(p.highs[j]), sw=1.6)
                for end in (p.lows[j], p.highs[j]):
                    cv.line(xs(j) - 4, ys(end), xs(j) + 4, ys(end), sw=1.3)
            if math.isfinite(p.means[j]):
                cv.circle(xs(j), ys(p.means[j]), 4.5, fill=INK,
                          title=f"{p.factor}={p.levels[j]}: {p.means[j]:.4g} "
                          f"[{p.lows[j]:.4g}, {p.highs[j]:.4g}]")
    return cv.svg()


def pairwise_figure(labels: Sequence[str], colour: np.ndarray, text, colour_name: str,
                    name: str, title: str, *, ratio: bool = False) -> str:
    """Matrix of every pair of settings: ``colour[i, j]`` (NaN: blank) is the effect of
    row i against column j on a fixed scale (``ratio``: the log2 of a ratio);
    ``text[i][j]`` what the cell says. Columns are numbered like the rows."""
    k = len(labels)
    rows = [wrap(f"{i + 1}. {t}", 44) for i, t in enumerate(labels)]
    lab_w = min(max(width(line, 11) for r in rows for line in r) + 12, 360.0)
    cell = min(100.0, (W - lab_w - 20) / k)
    cell_h = max(44.0, 13.0 * max(len(r) for r in rows) + 8)
    top = 46.0
    cv = Canvas(f"pairwise-{name}", W, top + cell_h * k + 60)
    cv.text(lab_w + cell * k / 2, 13, title, size=11, anchor="middle", fill=MUTED)
    cv.text(lab_w + cell * k / 2, 28, "column setting (B)", size=10.5, anchor="middle",
            fill=MUTED)
    for j in range(k):
        cv.text(lab_w + cell * (j + 0.5), top - 4, str(j + 1), size=11, anchor="middle",
                weight="600")
    for i in range(k):
        cy = top + cell_h * i
        lines = rows[i]
        first = cy + cell_h / 2 - (len(lines) - 1) * 13 / 2 + 4
        cv.lines(lab_w - 8, first, lines, size=11, lead=13 / 11, anchor="end")
        for j in range(k):
            cx = lab_w + cell * j
            v = colour[i, j]
            if i == j:
                cv.rect(cx + 1, cy + 1, cell - 2, cell_h - 2, fill="#f4f6f8")
                cv.text(cx + cell / 2, cy + cell_h / 2, "—", size=11, anchor="middle",
                        fill="#999999", baseline="middle")
                continue
            fill = ramp(DIVERGING, (v / PAIRWISE_SCALE + 1) / 2) if math.isfinite(v) \
                else "#eeeeee"
            parts = text[i][j].split("\n")
            cv.rect(cx + 1, cy + 1, cell - 2, cell_h - 2, fill=fill,
                    title=f"{i + 1} vs {j + 1}: {' '.join(parts)}")
            ink = ink_on(fill)
            for n_, part in enumerate(parts):
                cv.text(cx + cell / 2, cy + cell_h / 2 + (n_ - (len(parts) - 1) / 2) * 13,
                        part, size=10.5 if n_ == 0 else 9.5, anchor="middle", fill=ink,
                        baseline="middle", weight="600" if n_ == 0 else None)
    y = top + cell_h * k + 14
    bar_w = min(360.0, cell * k)
    x = lab_w + (cell * k - bar_w) / 2
    n = 40
    for i in range(n):
        cv.rect(x + bar_w * i / n, y, bar_w / n + 0.3, 10, fill=ramp(DIVERGING, (i + 0.5) / n))
    ends = (f"×{2 ** -PAIRWISE_SCALE:.2g}", f"×{2 ** PAIRWISE_SCALE:.2g}") if ratio else \
        (f"{-PAIRWISE_SCALE:+g}", f"{PAIRWISE_SCALE:+g}")
    cv.text(x, y + 23, ends[0] + " or beyond", size=10, fill=MUTED)
    cv.text(x + bar_w, y + 23, ends[1] + " or beyond", size=10, anchor="end", fill=MUTED)
    cv.text(x + bar_w / 2, y + 38, colour_name, size=10.5, anchor="middle")
    return cv.svg()
