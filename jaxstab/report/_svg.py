"""A small SVG writer for the report's figures: a canvas, scales with round ticks, axes.

The figures are simple (points, lines, bands, rectangles, text), so they are written as
SVG directly: a page's figures take milliseconds instead of the seconds matplotlib's
layout and SVG backend took (43 s of a 62 s article-suite report), the output is
small (coordinates to 0.1 px) and deterministic, and every string passes through one
escape. Text widths are estimated (no font engine): ``width`` errs wide, so labels
get room rather than overlap.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from html import escape

import numpy as np

INK, MUTED, GRID, LINE = "#1b1f24", "#5b6570", "#e6e9ed", "#9aa3ad"
# Ten distinct colours (Tableau 10), then ten more that stay apart from them (their
# light partners in Tableau 20 would read as the same hue): no figure reuses a colour.
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
          "#7f7f7f", "#bcbd22", "#17becf", "#000080", "#9a6324", "#469990", "#f032e6",
          "#808000", "#42d4f4", "#800000", "#3cb44b", "#ffd8b1", "#4363d8")
CHAR = 0.6  # average glyph width of a sans-serif face, in ems (DejaVu Sans: ~0.6)


def color(i: int) -> str:
    return COLORS[i % len(COLORS)]


def width(text: str, size: float) -> float:
    return CHAR * size * len(text)


def c(x: float) -> str:
    """A coordinate to 0.1 px, without a trailing ``.0``."""
    text = f"{x:.1f}"
    return text[:-2] if text.endswith(".0") else ("0" if text == "-0" else text)


def wrap(text: str, chars: int, sep: str = ", ") -> list[str]:
    """Lines of at most ``chars`` characters, broken after ``sep`` (a word longer
    than a line keeps its own line)."""
    lines, line = [], ""
    for word in text.split(sep):
        if line and len(line) + len(sep) + len(word) > chars:
            lines.append(line + sep.rstrip())
            line = word
        else:
            line = f"{line}{sep}{word}" if line else word
    return lines + [line]


class Canvas:
    """An SVG document built from parts; ``svg()`` returns the ``<svg>`` element with id
    ``fig-<name>`` (unique on a page)."""

    def __init__(self, name: str, w: float, h: float, label: str = ""):
        self.name, self.w, self.h, self.label = name, w, h, label
        self.parts: list[str] = []

    def add(self, part: str) -> None:
        self.parts.append(part)

    @staticmethod
    def _style(fill=None, stroke=None, sw=None, opacity=None, dash=None, cap=None,
               fill_opacity=None) -> str:
        out = []
        if fill is not None:
            out.append(f'fill="{fill}"')
        if fill_opacity is not None:
            out.append(f'fill-opacity="{fill_opacity:g}"')
        if stroke is not None:
            out.append(f'stroke="{stroke}"')
            if sw is not None:
                out.append(f'stroke-width="{sw:g}"')
        if dash:
            out.append(f'stroke-dasharray="{dash}"')
        if cap:
            out.append(f'stroke-linecap="{cap}"')
        if opacity is not None:
            out.append(f'opacity="{opacity:g}"')
        return " ".join(out)

    @staticmethod
    def _title(title: str | None) -> str:
        return f"<title>{escape(title)}</title>" if title else ""

    def rect(self, x, y, w, h, *, fill="none", stroke=None, sw=1.0, title=None,
             opacity=None, dash=None) -> None:
        style = self._style(fill=fill, stroke=stroke, sw=sw, opacity=opacity, dash=dash)
        body = self._title(title)
        tail = f">{body}</rect>" if body else "/>"
        self.add(f'<rect x="{c(x)}" y="{c(y)}" width="{c(w)}" height="{c(h)}" {style}{tail}')

    def line(self, x1, y1, x2, y2, *, stroke=INK, sw=1.0, dash=None, opacity=None) -> None:
        style = self._style(stroke=stroke, sw=sw, dash=dash, opacity=opacity)
        self.add(f'<path d="M{c(x1)} {c(y1)}L{c(x2)} {c(y2)}" {style}/>')

    def path(self, d: str, *, fill="none", stroke=None, sw=1.0, opacity=None, dash=None,
             cap=None, title=None, fill_opacity=None) -> None:
        if not d:
            return
        style = self._style(fill=fill, stroke=stroke, sw=sw, opacity=opacity, dash=dash,
                            cap=cap, fill_opacity=fill_opacity)
        body = self._title(title)
        self.add(f'<path d="{d}" {style}' + (f">{body}</path>" if body else "/>"))

    def polyline(self, xs: Sequence[float], ys: Sequence[float], **kw) -> None:
        """A line through the points, broken where a value is not finite."""
        d, pen = [], False
        for x, y in zip(xs, ys):
            if not (math.isfinite(x) and math.isfinite(y)):
                pen = False
                continue
            d.append(f"{'L' if pen else 'M'}{c(x)} {c(y)}")
            pen = True
        self.path("".join(d), **kw)

    def band(self, xs: Sequence[float], lo: Sequence[float], hi: Sequence[float], *,
             fill: str, opacity: float = 0.2) -> None:
        """The area between ``lo`` and ``hi``, one piece per finite run of points."""
        d, run = [], []
        for x, a, b in list(zip(xs, lo, hi)) + [(math.nan, math.nan, math.nan)]:
            if math.isfinite(x) and math.isfinite(a) and math.isfinite(b):
                run.append((x, a, b))
                continue
            if len(run) >= 2:
                top = "L".join(f"{c(x)} {c(b)}" for x, _, b in run)
                bottom = "L".join(f"{c(x)} {c(a)}" for x, a, _ in reversed(run))
                d.append(f"M{top}L{bottom}Z")
            run = []
        self.path("".join(d), fill=fill, fill_opacity=opacity)

    def dots(self, xs: Iterable[float], ys: Iterable[float], *, size: float, fill: str,
             opacity: float = 0.6, title: str | None = None) -> None:
        """Points as zero-length round-capped strokes: ~14 bytes a point in one path."""
        d = "".join(f"M{c(x)} {c(y)}h0" for x, y in zip(xs, ys)
                    if math.isfinite(x) and math.isfinite(y))
        self.path(d, stroke=fill, sw=size, cap="round", opacity=opacity, title=title)

    def diamond(self, x, y, r, *, fill=INK, title=None) -> None:
        self.path(f"M{c(x)} {c(y - r)}L{c(x + r)} {c(y)}L{c(x)} {c(y + r)}"
                  f"L{c(x - r)} {c(y)}Z", fill=fill, title=title)

    def circle(self, x, y, r, *, fill=INK, stroke=None, sw=1.0, title=None) -> None:
        style = self._style(fill=fill, stroke=stroke, sw=sw)
        body = self._title(title)
        tail = f">{body}</circle>" if body else "/>"
        self.add(f'<circle cx="{c(x)}" cy="{c(y)}" r="{c(r)}" {style}{tail}')

    def text(self, x, y, s: str, *, size=11.0, anchor="start", fill=INK, weight=None,
             rotate=None, baseline="auto", title=None) -> None:
        attrs = [f'x="{c(x)}"', f'y="{c(y)}"', f'font-size="{size:g}"']
        if anchor != "start":
            attrs.append(f'text-anchor="{anchor}"')
        if fill != INK:
            attrs.append(f'fill="{fill}"')
        if weight:
            attrs.append(f'font-weight="{weight}"')
        if baseline == "middle":
            attrs.append('dominant-baseline="central"')
        if rotate is not None:
            attrs.append(f'transform="rotate({rotate:g} {c(x)} {c(y)})"')
        self.add(f"<text {' '.join(attrs)}>{self._title(title)}{escape(s)}</text>")

    def lines(self, x, y, rows: Sequence[str], *, size=11.0, lead=1.2, **kw) -> None:
        """Several lines of text, the first with its baseline at ``y``."""
        for i, row in enumerate(rows):
            self.text(x, y + i * size * lead, row, size=size, **kw)

    def image(self, x, y, w, h, uri: str) -> None:
        self.add(f'<image x="{c(x)}" y="{c(y)}" width="{c(w)}" height="{c(h)}" '
                 f'preserveAspectRatio="none" href="{uri}"/>')

    def svg(self) -> str:
        label = f' aria-label="{escape(self.label)}"' if self.label else ""
        head = (f'<svg xmlns="http://www.w3.org/2000/svg" id="fig-{escape(self.name)}" '
                f'class="chart" role="img"{label} viewBox="0 0 {c(self.w)} {c(self.h)}" '
                f'width="{c(self.w)}" height="{c(self.h)}" '
                f'font-family="system-ui, -apple-system, Segoe UI, Roboto, DejaVu Sans, '
                f'sans-serif">')
        return head + "\n".join(self.parts) + "</svg>"


# ---------------------------------------------------------------- scales and axes


def nice_step(span: float, n: int) -> float:
    raw = span / max(n, 1)
    mag = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * mag:
            return m * mag
    return 10 * mag


class Scale:
    """Data to pixels on one axis: linear, or log10 with ``log=True``."""

    def __init__(self, lo: float, hi: float, a: float, b: float, *, log: bool = False,
                 pad: float = 0.0):
        if log:
            lo, hi = math.log10(lo), math.log10(hi)
        if not (math.isfinite(lo) and math.isfinite(hi)):
            lo, hi = 0.0, 1.0
        if hi - lo <= 0:
            half = abs(lo) * 0.05 or 0.5
            lo, hi = lo - half, hi + half
        span = hi - lo
        self.lo, self.hi = lo - pad * span, hi + pad * span
        self.a, self.b, self.log = a, b, log

    def __call__(self, v: float) -> float:
        if self.log:
            v = math.log10(v) if v > 0 else -math.inf
        return self.a + (v - self.lo) / (self.hi - self.lo) * (self.b - self.a)

    def many(self, vs) -> np.ndarray:
        v = np.asarray(vs, float)
        if self.log:
            with np.errstate(all="ignore"):
                v = np.log10(v)
        return self.a + (v - self.lo) / (self.hi - self.lo) * (self.b - self.a)

    def ticks(self, n: int = 5) -> list[float]:
        if self.log:
            lo, hi = math.floor(self.lo), math.ceil(self.hi)
            steps = (1, 2, 5) if hi - lo <= 3 else (1,)
            out = [m * 10.0 ** e for e in range(lo, hi + 1) for m in steps]
            return [t for t in out if self.lo - 1e-9 <= math.log10(t) <= self.hi + 1e-9]
        step = nice_step(self.hi - self.lo, n)
        first = math.ceil(self.lo / step - 1e-9)
        out = []
        k = first
        while k * step <= self.hi + 1e-9 * step:
            out.append(round(k * step, 12))
            k += 1
        return out


def tick_text(v: float, step: float | None = None) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1e5 or abs(v) < 1e-3:
        return f"{v:.0e}".replace("e-0", "e-").replace("e+0", "e").replace("e+", "e")
    if abs(v) >= 10:
        return f"{v:,.0f}" if step is None or step >= 1 else f"{v:g}"
    return f"{v:.6g}"


def axes(cv: Canvas, box: tuple[float, float, float, float], *, x: Scale | None = None,
         y: Scale | None = None, xlabel: str = "", ylabel: str = "", xgrid: bool = True,
         ygrid: bool = True, xticks=None, yticks=None, size: float = 10.0) -> None:
    """Axis lines, ticks, tick labels and grid lines inside ``box`` = (left, top, right,
    bottom). ``xticks``/``yticks``: explicit (position in data units, text) pairs."""
    x0, y0, x1, y1 = box
    if x is not None:
        ticks = xticks if xticks is not None else _auto(x)
        for v, text in ticks:
            px = x(v)
            if xgrid:
                cv.line(px, y0, px, y1, stroke=GRID, sw=0.8)
            cv.line(px, y1, px, y1 + 4, stroke=LINE, sw=0.8)
            cv.text(px, y1 + 5 + size, text, size=size, anchor="middle", fill=MUTED)
        cv.line(x0, y1, x1, y1, stroke=LINE, sw=1)
        if xlabel:
            cv.text((x0 + x1) / 2, y1 + 10 + 2.2 * size, xlabel, size=size + 1,
                    anchor="middle")
    if y is not None:
        ticks = yticks if yticks is not None else _auto(y)
        for v, text in ticks:
            py = y(v)
            if ygrid:
                cv.line(x0, py, x1, py, stroke=GRID, sw=0.8)
            cv.line(x0 - 4, py, x0, py, stroke=LINE, sw=0.8)
            cv.text(x0 - 6, py, text, size=size, anchor="end", fill=MUTED,
                    baseline="middle")
        cv.line(x0, y0, x0, y1, stroke=LINE, sw=1)
        if ylabel:
            cv.text(x0 - 8 - _label_room(ticks, size), (y0 + y1) / 2, ylabel,
                    size=size + 1, anchor="middle", rotate=-90)


def _auto(scale: Scale) -> list[tuple[float, str]]:
    ticks = scale.ticks()
    step = ticks[1] - ticks[0] if len(ticks) > 1 and not scale.log else None
    return [(t, tick_text(t, step)) for t in ticks]


def _label_room(ticks, size: float) -> float:
    return max((width(t, size) for _, t in ticks), default=0.0)


def y_room(scale: Scale, size: float = 10.0) -> float:
    """Pixels the y tick labels and the axis label take left of the axis."""
    return _label_room(_auto(scale), size) + 8 + 1.6 * size


def legend(cv: Canvas, x: float, y: float, w: float, items: Sequence[tuple[str, str]], *,
           size: float = 10.5, marker: str = "line") -> float:
    """Swatches and labels in as many columns as fit in ``w``; returns the height used.
    Labels are never cut: a long one wraps onto more lines."""
    if not items:
        return 0.0
    widest = max(width(t, size) for _, t in items) + 26
    cols = max(1, min(len(items), int(w // min(widest, w))))
    col_w = w / cols
    chars = max(12, int((col_w - 30) / (CHAR * size)))
    row_h, top = size * 1.35, y
    for start in range(0, len(items), cols):
        heights = []
        for j, (colour, text) in enumerate(items[start:start + cols]):
            lx = x + j * col_w
            rows = wrap(text, chars)
            if marker == "line":
                cv.line(lx, top + size * 0.45, lx + 18, top + size * 0.45, stroke=colour, sw=2.5)
            else:
                cv.circle(lx + 9, top + size * 0.45, 4.5, fill=colour)
            cv.lines(lx + 24, top + size * 0.8, rows, size=size)
            heights.append(len(rows) * size * 1.2)
        top += max(heights) + row_h * 0.35
    return top - y
