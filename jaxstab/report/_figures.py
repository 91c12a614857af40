"""Figures: matplotlib to inline SVG strings, deterministic for fixed input.

No pyplot: every figure is a bare ``matplotlib.figure.Figure`` drawn with the SVG
backend, so making a report never touches the user's interactive backend or global
figure list. Each figure gets its own ``svg.hashsalt`` and ``svg.id``: the ids matplotlib
writes for clip paths and markers are then stable from run to run, and unique across
the several figures inlined into one page.
"""

from __future__ import annotations

import inspect
import io
import math

import matplotlib
import matplotlib.axes
import matplotlib.ticker
import numpy as np
from matplotlib.figure import Figure

# Above this many points in all, the seeds are embedded as one PNG inside the SVG: a
# vector mark costs ~90 bytes, which makes pages of megabytes at 100k seeds.
RASTER_POINTS = 2000
# Colour saturates at |Hedges' g| = 1.5 (a large effect) and at a std ratio of 2^1.5.
PAIRWISE_SCALE = 1.5
COLORS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
          "#7f7f7f", "#bcbd22", "#17becf")
_RC = {
    "svg.fonttype": "none",  # text stays text: searchable, selectable, small
    "font.family": "sans-serif",
    "font.size": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "legend.frameon": False,
    "legend.fontsize": 8,
    "path.simplify": True,
}
# matplotlib 3.10 renamed violinplot's vert=False (deprecated in 3.11).
_HORIZONTAL = ({"orientation": "horizontal"} if "orientation" in
               inspect.signature(matplotlib.axes.Axes.violinplot).parameters
               else {"vert": False})
# No date, no creator (it carries a URL and the matplotlib version).
_METADATA = {"Date": None, "Creator": None, "Format": None, "Type": None}


def color(i: int) -> str:
    return COLORS[i % len(COLORS)]


def to_svg(fig: Figure, name: str) -> str:
    """The figure as an ``<svg>`` element (no XML prolog) with id ``fig-<name>``."""
    with matplotlib.rc_context({**_RC, "svg.hashsalt": f"jaxstab-{name}",
                                "svg.id": f"fig-{name}"}):
        buf = io.StringIO()
        fig.savefig(buf, format="svg", metadata=_METADATA)
    text = buf.getvalue()
    return text[text.index("<svg"):].strip()


def _figure(width: float, height: float) -> Figure:
    with matplotlib.rc_context(_RC):
        return Figure(figsize=(width, height), layout="constrained")


def _jitter(n: int) -> np.ndarray:
    # A fixed low-discrepancy sequence, not random numbers: same picture every time,
    # and points spread evenly across the strip whatever n is.
    return (np.arange(n) * 0.6180339887498949) % 1.0 - 0.5


def seeds_figure(labels, values, intervals, diverged, metric: str) -> str:
    """Every seed as a point, the distribution as a violin, the mean's interval as a bar.

    ``values[i]``: finite per-seed values of setting i; ``intervals[i]``: (mean, low, high)
    or None; ``diverged[i]``: how many runs of setting i diverged (not drawn).
    """
    k = len(labels)
    raster = sum(len(x) for x in values) > RASTER_POINTS
    with matplotlib.rc_context(_RC):
        fig = _figure(7.5, 0.9 + 0.75 * k)
        ax = fig.add_subplot()
        for i, (x, iv) in enumerate(zip(values, intervals)):
            y = k - 1 - i
            x = np.asarray(x, float)
            if x.size > 1 and np.ptp(x) > 0:
                parts = ax.violinplot([x], positions=[y], widths=0.8, showextrema=False,
                                      **_HORIZONTAL)
                for body in parts["bodies"]:
                    body.set_facecolor(color(i))
                    body.set_alpha(0.18)
                    body.set_edgecolor("none")
            size = 10 if x.size <= 200 else 4 if x.size <= 2000 else 1
            ax.scatter(x, y + 0.55 * _jitter(x.size), s=size, color=color(i), alpha=0.6,
                       linewidths=0, rasterized=raster, zorder=2)
            if iv is not None:
                mean, low, high = iv
                ax.errorbar([mean], [y], xerr=[[mean - low], [high - mean]], fmt="D",
                            color="black", markersize=5, capsize=4, elinewidth=1.6, zorder=3)
        ax.set_yticks(range(k), [_tick(labels[i], diverged[i], len(values[i]))
                                 for i in range(k)][::-1])
        ax.set_ylim(-0.6, k - 0.4)
        ax.set_xlabel(_plain(metric))
        ax.grid(axis="x", color="#dddddd", linewidth=0.6)
        ax.set_axisbelow(True)
    return to_svg(fig, "seeds")


def _tick(label: str, n_diverged: int, n: int) -> str:
    text = _wrap(_plain(label), 28)
    extra = f"n={n}" + (f", {n_diverged} diverged" if n_diverged else "")
    return f"{text}\n{extra}"


def _wrap(text: str, width: int) -> str:
    parts, line = [], ""
    for word in text.split(", "):
        if line and len(line) + len(word) + 2 > width:
            parts.append(line + ",")
            line = word
        else:
            line = f"{line}, {word}" if line else word
    return "\n".join(parts + [line])


def curves_figure(names, labels, bands, xlabel: str = "epoch") -> str:
    """One panel per curve (loss, accuracy): per setting the median over seeds as a line
    and the inter-quartile range as a band. ``bands[c][i]``: (median, q25, q75) arrays of
    curve c for setting i, or None where the setting has no such curve."""
    with matplotlib.rc_context(_RC):
        fig = _figure(3.6 * len(names) + 0.4, 3.0)
        axes = fig.subplots(1, len(names), squeeze=False)[0]
        for ax, name, per_setting in zip(axes, names, bands):
            for i, band in enumerate(per_setting):
                if band is None:
                    continue
                med, q25, q75 = (np.asarray(b, float) for b in band)
                epochs = np.arange(1, med.size + 1)
                ax.fill_between(epochs, q25, q75, color=color(i), alpha=0.2, linewidth=0)
                ax.plot(epochs, med, color=color(i), linewidth=1.6, label=_plain(labels[i]),
                        marker="o" if med.size <= 12 else None, markersize=3)
            ax.set_title(_plain(name))
            ax.xaxis.set_major_locator(matplotlib.ticker.MaxNLocator(integer=True))
            ax.set_xlabel(xlabel)
            ax.grid(color="#eeeeee", linewidth=0.6)
        handles, texts = axes[0].get_legend_handles_labels()
        if handles:
            fig.legend(handles, [_wrap(t, 40) for t in texts], loc="outside lower center",
                       ncols=min(len(texts), 3))
    return to_svg(fig, "curves")


def pairwise_figure(labels, colour, text, colour_name: str, name: str, title: str, *,
                    ratio: bool = False) -> str:
    """Matrix of every pair of settings: ``colour[i, j]`` (NaN: blank) is the effect of
    row i against column j (``ratio``: the log2 of a ratio), ``text[i][j]`` what the
    cell says."""
    k = len(labels)
    colour = np.asarray(colour, float)
    with matplotlib.rc_context(_RC):
        side = min(0.95 * k + 1.6, 9.0)
        fig = _figure(side + 1.9, side)
        ax = fig.add_subplot()
        # A fixed scale, the same on every page: a small effect looks pale wherever it is.
        vmax = PAIRWISE_SCALE
        img = ax.pcolormesh(np.ma.masked_invalid(colour), cmap="RdBu_r", vmin=-vmax,
                            vmax=vmax)
        ax.invert_yaxis()
        ax.set_aspect("equal")
        for i in range(k):
            for j in range(k):
                dark = np.isfinite(colour[i, j]) and abs(colour[i, j]) > 0.6 * vmax
                ax.text(j + 0.5, i + 0.5, "—" if i == j else text[i][j], ha="center",
                        va="center",
                        fontsize=8 if k < 6 else 6,
                        color="#999999" if i == j else "white" if dark else "black")
        short = [_wrap(_plain(t), 18) for t in labels]
        ax.set_xticks(np.arange(k) + 0.5, short, rotation=30 if k > 3 else 0,
                      ha="right" if k > 3 else "center")
        ax.set_yticks(np.arange(k) + 0.5, short)
        ax.set_xlabel("column setting (B)")
        ax.set_ylabel("row setting (A)")
        ax.spines[:].set_visible(False)
        bar = fig.colorbar(img, ax=ax, shrink=0.8, extend="both")
        bar.set_label(colour_name)
        if ratio:  # colour is log2 of a ratio: label the bar in ratios
            bar.formatter = matplotlib.ticker.FuncFormatter(lambda v, _: f"×{2 ** v:.2g}")
            bar.update_ticks()
        ax.set_title(_plain(title), fontweight="normal", fontsize=8)
    return to_svg(fig, f"pairwise-{name}")


def _tick_number(x: float, _pos=None) -> str:
    return f"{x:,.0f}" if x >= 10 else f"{x:g}"


def signed(x: float) -> str:
    return "n/a" if not math.isfinite(x) else f"{x:+.2f}"


def seeds_needed_figure(panels, current: int) -> str:
    """Per panel (mean: Hedges' g; spread: std ratio) the seeds per setting needed for
    the panel's power against the true effect, the claims' observed effects as points,
    and this study's seed count as a dashed line."""
    with matplotlib.rc_context(_RC):
        fig = _figure(3.9 * len(panels) + 0.6, 3.4)
        axes = fig.subplots(1, len(panels), squeeze=False)[0]
        for ax, panel in zip(axes, panels):
            x = np.asarray(panel.effects, float)
            n = np.array([np.nan if v is None else v for v in panel.seeds], float)
            ax.plot(x, n, color="black", linewidth=1.6,
                    label="paired t test" if panel.kind == "mean" and panel.paired
                    else "t test" if panel.kind == "mean" else "F test")
            for i, (claim, effect, seeds) in enumerate(panel.observed):
                if seeds is not None:
                    ax.plot([effect], [seeds], "o", color=color(i), markersize=6, zorder=3,
                            label=_wrap(_plain(claim), 45))
            if current > 0:
                ax.axhline(current, color="#555555", linestyle="--", linewidth=1)
            ax.set_xscale("log")
            ax.set_yscale("log")
            ticks = ([0.1, 0.2, 0.5, 1, 2, 3, 5, 10, 20] if panel.kind == "mean"
                     else [1.1, 1.25, 1.5, 2, 3, 4, 6, 10, 20])
            ax.set_xticks([t for t in ticks if x.min() <= t <= x.max()])
            ax.xaxis.set_minor_locator(matplotlib.ticker.NullLocator())
            for axis in (ax.xaxis, ax.yaxis):
                axis.set_major_formatter(matplotlib.ticker.FuncFormatter(_tick_number))
            ax.set_xlabel("true |Hedges' g|" if panel.kind == "mean"
                          else "true std ratio (larger / smaller)")
            ax.set_ylabel("seeds per setting")
            ax.set_title("difference of means" if panel.kind == "mean"
                         else "difference of spread", fontweight="normal")
            ax.grid(color="#eeeeee", linewidth=0.6, which="both")
            ax.legend(loc="lower left", fontsize=7)
    return to_svg(fig, "seeds-needed")


def variance_figure(labels, shares, intervals=None, title: str = "") -> str:
    """Share of the metric's seed-to-seed variance due to each seed source (bars), with
    intervals where given (``intervals[i]``: (low, high) or None)."""
    k = len(labels)
    with matplotlib.rc_context(_RC):
        fig = _figure(6.5, 0.9 + 0.45 * k)
        ax = fig.add_subplot()
        y = np.arange(k)[::-1]
        ax.barh(y, shares, color=[color(i) for i in range(k)], height=0.6)
        if intervals is not None:
            for yi, share, iv in zip(y, shares, intervals):
                if iv is not None and all(map(math.isfinite, iv)):
                    ax.errorbar([share], [yi], xerr=[[share - iv[0]], [iv[1] - share]],
                                color="black", capsize=3, linewidth=1)
        for yi, share in zip(y, shares):
            if math.isfinite(share):
                ax.text(share, yi, f" {share:.0%}", va="center", fontsize=8)
        ax.set_yticks(y, [_plain(t) for t in labels])
        ax.set_xlim(0, 1.12)
        ax.xaxis.set_major_formatter(matplotlib.ticker.PercentFormatter(1.0))
        ax.set_xlabel("share of variance")
        if title:
            ax.set_title(title, fontweight="normal")
    return to_svg(fig, "variance")


def _plain(text: str) -> str:
    # A "$" in a label would switch matplotlib to mathtext (and fail on unbalanced ones).
    return str(text).replace("$", r"\$")
