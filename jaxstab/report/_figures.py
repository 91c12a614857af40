"""Figures of seeds and curves as inline SVG (written by ``_svg``): every seed as a
point, learning curves, paired differences, seeds needed, variance shares.

Each function takes plain numbers and labels and returns an ``<svg>`` string; output is
deterministic for fixed input. Grid figures (heatmaps, main effects, the pairwise
matrix) are in ``_gridfigs``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from jaxstab.report import _png
from jaxstab.report._svg import (MUTED, Canvas, Scale, axes, color, legend, tick_text,
                                 width, wrap, y_room)

W = 1000.0  # figure width in SVG units, about the page's content width in pixels
# Above this many points in a figure they are drawn into one PNG inside the SVG: a
# vector point costs ~14 bytes, which makes pages of megabytes at 100k seeds.
RASTER_POINTS = 2000
# Above this many seeds a violin's density is summed over this many bins of the seeds.
KDE_BINS = 20_000


def _jitter(n: int) -> np.ndarray:
    # A fixed low-discrepancy sequence, not random numbers: same picture every time,
    # and points spread evenly across the strip whatever n is.
    return (np.arange(n) * 0.6180339887498949) % 1.0 - 0.5


def _kde(x: np.ndarray, points: int = 40) -> tuple[np.ndarray, np.ndarray] | None:
    """Gaussian kernel density over [min, max] of the seeds, Scott's bandwidth (as
    matplotlib's violins): a plot of the data, not a statistic reported anywhere."""
    if x.size < 2 or np.ptp(x) <= 0:
        return None
    sd = float(np.std(x, ddof=1))
    if not sd > 0:
        return None
    h = sd * x.size ** (-1 / 5)
    grid = np.linspace(x.min(), x.max(), points)
    weights = None
    if x.size > KDE_BINS:
        # Summed over bins of width (max - min) / KDE_BINS (under 1% of h for normal
        # data; the density moves by 1e-5 of its peak) instead of over every seed
        # (0.35 s a setting at 300,000 seeds, 0.015 s binned).
        weights, edges = np.histogram(x, bins=KDE_BINS, range=(grid[0], grid[-1]))
        x = (edges[:-1] + edges[1:]) / 2
    dens = np.exp(-0.5 * ((grid[:, None] - x[None, :]) / h) ** 2)
    return grid, dens.sum(axis=1) if weights is None else dens @ weights


def _row_labels(labels: Sequence, extra: Sequence[str], chars: int = 42
                ) -> tuple[list[list[str]], float]:
    """Each row's label lines (a label given as a list keeps its parts on separate
    lines), and the room they need."""
    rows = []
    for t, e in zip(labels, extra):
        parts = [t] if isinstance(t, str) else list(t)
        rows.append([line for part in parts for line in wrap(part, chars)] + ([e] if e else []))
    room = max((width(line, 11) for r in rows for line in r), default=40.0)
    return rows, min(room, 330.0) + 12


def strip_figure(name: str, labels: Sequence, values: Sequence[Sequence[float]],
                 intervals: Sequence[tuple[float, float, float] | None],
                 extra: Sequence[str], xlabel: str, *, zero: bool = False,
                 colours: Sequence[str] | None = None, violin: bool = True) -> str:
    """One row per group: every value as a point (jittered within the row), the
    distribution as a violin, the mean and its interval as a black diamond and bar.
    ``intervals[i]``: (mean, low, high) or None; ``extra[i]``: a second label line;
    ``zero``: a dashed line at 0 (for differences)."""
    k = len(labels)
    rows, lab_w = _row_labels(labels, extra)
    rh = max(30.0, 13.5 * max(len(r) for r in rows) + 10) if rows else 30.0
    x0, x1, top = lab_w + 10, W - 16, 12.0
    y1 = top + rh * k
    cv = Canvas(name, W, y1 + 48)
    runs = [np.asarray(v, float) for v in values]
    runs = [x[np.isfinite(x)] for x in runs]
    finite = [v for iv in intervals if iv for v in iv if math.isfinite(v)]
    finite += [f(x) for x in runs if x.size for f in (np.min, np.max)]
    if zero:
        finite.append(0.0)
    xs = Scale(float(min(finite, default=0.0)), float(max(finite, default=1.0)), x0, x1,
               pad=0.04)
    axes(cv, (x0, top, x1, y1), x=xs, xlabel=xlabel, ygrid=False)
    if zero:
        cv.line(xs(0), top, xs(0), y1, stroke="#555555", sw=1, dash="4 3")
    total = sum(len(v) for v in values)
    size = 5.0 if total <= 400 else 3.5 if total <= RASTER_POINTS else 1.6
    centre = [top + rh * (i + 0.5) for i in range(k)]
    points = []
    for i in range(k):  # violins first, under every point
        colour = colours[i] if colours else color(i)
        x = runs[i]
        dens = _kde(x) if violin else None
        if dens is not None:
            grid, d = dens
            half = 0.42 * rh * d / d.max()
            px = xs.many(grid)
            cy = centre[i]
            upper = "L".join(f"{a:.1f} {cy - h:.1f}" for a, h in zip(px, half))
            lower = "L".join(f"{a:.1f} {cy + h:.1f}" for a, h in zip(px[::-1], half[::-1]))
            cv.path(f"M{upper}L{lower}Z", fill=colour, fill_opacity=0.16)
        points.append((xs.many(x), centre[i] + 0.6 * rh * _jitter(x.size), colour, 0.6))
    if total > RASTER_POINTS:
        cv.image(0, 0, W, y1 + 48, _png.points_png(W, y1 + 48, points, radius=size / 2))
    else:
        for px, py, colour, alpha in points:
            cv.dots(px, py, size=size, fill=colour, opacity=alpha)
    for i in range(k):
        cy, iv = centre[i], intervals[i]
        if iv is not None and all(math.isfinite(v) for v in iv):
            mean, low, high = iv
            cv.line(xs(low), cy, xs(high), cy, sw=1.8)
            for end in (low, high):
                cv.line(xs(end), cy - 5, xs(end), cy + 5, sw=1.4)
            cv.diamond(xs(mean), cy, 5, title=f"{' '.join(rows[i][:-1] if extra[i] else rows[i])}: mean {mean:.4g} "
                       f"[{low:.4g}, {high:.4g}]")
        lines = rows[i]
        first = cy - (len(lines) - 1) * 13.5 / 2 + 4
        for j, line in enumerate(lines):
            extra_line = j == len(lines) - 1 and extra[i]
            cv.text(lab_w, first + 13.5 * j, line, size=10.5 if extra_line else 11,
                    anchor="end", fill=MUTED if extra_line else "#1b1f24")
    return cv.svg()


def _curve_panel(cv: Canvas, box, head: str, items, r: int, yr, epochs: int,
                 xlabel: str) -> None:
    x0, top, x1, bottom = box
    ysc0 = Scale(*yr, 0, 1, pad=0.05)
    px0 = x0 + y_room(ysc0) + 4
    xsc = Scale(1, max(epochs, 2), px0, x1, pad=0.02)
    ysc = Scale(*yr, bottom, top + 20, pad=0.05)
    step = max(1, math.ceil(epochs / 8))
    axes(cv, (px0, top + 20, x1, bottom), x=xsc, y=ysc, xlabel=xlabel,
         xticks=[(e, str(e)) for e in range(1, epochs + 1, step)])
    cv.text((px0 + x1) / 2, top + 12, head, size=12, anchor="middle", weight="600")
    for lab, colour, bands in items:
        if bands[r] is None:
            continue
        med, q25, q75 = (np.asarray(b, float) for b in bands[r][:3])
        at = bands[r][3] if len(bands[r]) > 3 and len(bands[r][3]) else None
        ex = xsc.many(np.arange(1, med.size + 1) if at is None else np.asarray(at, float))
        cv.band(ex, ysc.many(q25), ysc.many(q75), fill=colour, opacity=0.18)
        cv.polyline(ex, ysc.many(med), stroke=colour, sw=1.8, title=lab)
        if med.size <= 12:
            cv.dots(ex, ysc.many(med), size=5, fill=colour, opacity=1)


def curves_figure(names: Sequence[str], groups: Sequence[tuple[str, Sequence[tuple]]],
                  xlabel: str = "epoch", name: str = "curves") -> str:
    """Learning curves: per setting a line over seeds (the median, or the mean) and a
    band (the inter-quartile range, or the mean's interval). ``groups[g] = (title,
    [(label, colour, [(line, band low, band high[, epochs]) or None per curve name])])``
    (epochs: the 1-based x of each value, when not every epoch is given). One group: a
    panel per curve side by side and one legend; several (small multiples past ten
    settings): a column per group, a row per curve, a legend under each column, so no
    colour means two settings."""
    ranges, epochs = [], []
    for r in range(len(names)):
        ys = [v for _, items in groups for _, _, bands in items if bands[r] is not None
              for b in bands[r][:3] for v in b if math.isfinite(v)]
        ranges.append((min(ys, default=0.0), max(ys, default=1.0)))
        epochs.append(max((bands[r][3][-1] if len(bands[r]) > 3 and len(bands[r][3])
                           else len(bands[r][0])
                           for _, items in groups for _, _, bands in items
                           if bands[r] is not None), default=1))
    cv = Canvas(name, W, 100)
    ph, y = 210.0, 6.0
    if len(groups) == 1:
        title, items = groups[0]
        per_row = min(len(names), 3)
        pw = W / per_row
        for start in range(0, len(names), per_row):
            for j, r in enumerate(range(start, min(start + per_row, len(names)))):
                head = names[r] if not title else f"{names[r]} · {title}"
                _curve_panel(cv, (j * pw + 4, y, (j + 1) * pw - 14, y + ph - 44), head,
                             items, r, ranges[r], epochs[r], xlabel)
            y += ph
        y += legend(cv, 14, y, W - 24, [(c, lab) for lab, c, _ in items]) + 8
    else:
        per_row = min(len(groups), 3)
        pw = W / per_row
        for start in range(0, len(groups), per_row):
            chunk = groups[start:start + per_row]
            for r, name in enumerate(names):
                for j, (title, items) in enumerate(chunk):
                    _curve_panel(cv, (j * pw + 4, y, (j + 1) * pw - 14, y + ph - 44),
                                 f"{name} · {title}" if title else name, items, r,
                                 ranges[r], epochs[r], xlabel)
                y += ph
            y += max(legend(cv, j * pw + 14, y, pw - 24, [(c, lab) for lab, c, _ in items])
                     for j, (_, items) in enumerate(chunk)) + 14
    cv.h = y
    return cv.svg()


def seeds_needed_figure(panels: Sequence, current: int) -> str:
    """Per panel (mean: Hedges' g; spread: std ratio) the seeds per setting needed for
    the panel's power against the true effect (log-log), the claims' observed effects
    as numbered points on the curve, and this study's seed count as a dashed line."""
    n = len(panels)
    pw, ph = (W - 10) / n, 280.0
    cv = Canvas("seeds-needed", W, 100)
    items: dict[str, tuple[str, str]] = {}
    for p_i, panel in enumerate(panels):
        x = np.asarray(panel.effects, float)
        seeds = np.array([np.nan if v is None else v for v in panel.seeds], float)
        ok = np.isfinite(seeds)
        ys = list(seeds[ok]) + ([current] if current > 0 else [])
        ys += [s for _, _, s in panel.observed if s is not None]
        ysc0 = Scale(max(min(ys, default=2), 2), max(ys, default=10), 0, 1, log=True)
        px0 = p_i * pw + y_room(ysc0) + 10
        px1, top, bottom = (p_i + 1) * pw - 16, 26.0, ph - 40
        xsc = Scale(x.min(), x.max(), px0, px1, log=True)
        ysc = Scale(max(min(ys, default=2), 2) / 1.3, max(ys, default=10) * 1.3, bottom, top,
                    log=True)
        axes(cv, (px0, top, px1, bottom), x=xsc, y=ysc,
             xticks=[(t, tick_text(t)) for t in xsc.ticks()],
             yticks=[(t, tick_text(t)) for t in ysc.ticks()],
             xlabel="true |Hedges' g|" if panel.kind == "mean"
             else "true std ratio (larger / smaller)", ylabel="seeds per setting")
        test = ("paired t test" if panel.paired else "t test") if panel.kind == "mean" \
            else "F test"
        cv.text((px0 + px1) / 2, 16, f"difference of {'means' if panel.kind == 'mean' else 'spread'}"
                f" ({test})", size=12, anchor="middle")
        cv.polyline(xsc.many(x), ysc.many(seeds), stroke="#1b1f24", sw=1.8)
        if current > 0:
            cv.line(px0, ysc(current), px1, ysc(current), stroke="#555555", sw=1, dash="5 4")
            cv.text(px1, ysc(current) - 4, f"this study: {current:,} seeds", size=10,
                    anchor="end", fill=MUTED)
        for claim, effect, need in panel.observed:
            number = items.setdefault(claim, (str(len(items) + 1), color(len(items))))
            if need is None:
                continue
            cv.circle(xsc(effect), ysc(need), 6, fill=number[1],
                      title=f"{claim}: observed {effect:.3g}, {need:,} seeds")
            cv.text(xsc(effect), ysc(need), number[0], size=9, anchor="middle",
                    fill="#ffffff", weight="700", baseline="middle")
    used = legend(cv, 14, ph + 4, W - 24, [(c, f"{num}. {claim}")
                                           for claim, (num, c) in items.items()],
                  marker="dot")
    cv.h = ph + 10 + used
    return cv.svg()


def variance_figure(labels: Sequence[str], shares: Sequence[float]) -> str:
    """Share of the metric's seed-to-seed variance due to each seed source (bars)."""
    k = len(labels)
    rows, lab_w = _row_labels(labels, [""] * k, chars=50)
    rh = 26.0
    x0, x1, top = lab_w + 10, W - 60, 8.0
    y1 = top + rh * k
    cv = Canvas("variance", W, y1 + 46)
    xs = Scale(0, 1, x0, x1)
    axes(cv, (x0, top, x1, y1), x=xs, xlabel="share of variance", ygrid=False,
         xticks=[(t, f"{t:.0%}") for t in (0, 0.25, 0.5, 0.75, 1.0)])
    for i, (text, share) in enumerate(zip(rows, shares)):
        cy = top + rh * (i + 0.5)
        if math.isfinite(share):
            cv.rect(x0, cy - 8, xs(share) - x0, 16, fill=color(i),
                    title=f"{' '.join(text)}: {share:.1%}")
            cv.text(xs(share) + 4, cy, f"{share:.0%}", size=10.5, baseline="middle")
        cv.text(lab_w, cy, " ".join(text), size=11, anchor="end", baseline="middle")
    return cv.svg()
