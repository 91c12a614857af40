"""The suite section of a study with strata: aggregate intervals, the probability of
improvement, performance profiles with their bands, and per-task small multiples.

Every number drawn is one ``jaxstab.stats.Suite`` holds (the ones ``jaxstab compare``
prints); nothing here computes a statistic.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from jaxstab.report._svg import MUTED, Canvas, Scale, axes, color, legend, width, y_room

W = 1000.0
STAT_NAMES = {"mean": "mean", "median": "median", "iqm": "IQM",
              "optimality_gap": "optimality gap"}
ROW = 26.0
PANEL_COLS = 3  # per-task panels per row: each keeps room for its own y axis


def _finite(*vs: float) -> bool:
    return all(v is not None and math.isfinite(v) for v in vs)


def _rows_left(names: Sequence[str], size: float = 10.5) -> float:
    return min(max((width(n, size) for n in names), default=40.0) + 16, W * 0.3)


def aggregates_figure(suite) -> str:
    """One panel per statistic: per setting, its aggregate as a point and its interval
    as a bar, as rliable draws them (an optimality gap is lower-is-better)."""
    names = list(suite.settings)
    stats_ = [s for s in STAT_NAMES if any(a.statistic == s for a in suite.aggregates)]
    left = _rows_left(names)
    h = 70 + ROW * len(names)
    cv = Canvas("suite-aggregates", W, h, label=f"aggregates of {suite.metric} across "
                                                 f"{len(suite.tasks)} tasks")
    pw = (W - left - 20) / max(len(stats_), 1)
    for j, st in enumerate(stats_):
        rows = {a.setting: a for a in suite.aggregates if a.statistic == st}
        vals = [v for a in rows.values() for v in (a.point, a.low, a.high) if _finite(v)]
        x0, x1 = left + j * pw + 12, left + (j + 1) * pw - 8
        xs = Scale(min(vals, default=0.0), max(vals, default=1.0), x0, x1, pad=0.08)
        top, bottom = 30.0, 30.0 + ROW * len(names)
        axes(cv, (x0, top, x1, bottom), x=xs, xlabel="", ygrid=False)
        cv.text((x0 + x1) / 2, 18, STAT_NAMES[st], size=12, anchor="middle", weight="600")
        for i, n in enumerate(names):
            a = rows.get(n)
            y = top + ROW * (i + 0.5)
            if j == 0:
                cv.text(x0 - 18, y, n, size=10.5, anchor="end", baseline="middle")
            if a is None:
                continue
            tip = f"{n}: {st} {a.point:.4g} [{a.low:.4g}, {a.high:.4g}]"
            if _finite(a.low, a.high):
                cv.rect(xs(a.low), y - 7, max(xs(a.high) - xs(a.low), 1.0), 14,
                        fill=color(i), opacity=0.35, title=tip)
            if _finite(a.point):
                cv.line(xs(a.point), y - 9, xs(a.point), y + 9, stroke=color(i), sw=2.5)
    cv.text(W / 2, h - 8, f"{suite.metric} ({'higher' if suite.higher_is_better else 'lower'}"
            f" is better; the optimality gap: lower is better), 95% intervals",
            size=10.5, anchor="middle", fill=MUTED)
    return cv.svg()


def improvement_figure(suite) -> str:
    """Per pair, P(X > Y): a run of X beats a run of Y of the same task, with its
    interval; 0.5 is no difference."""
    rows = list(suite.improvement)
    labels = [f"P({r.a} > {r.b})" for r in rows]
    left = _rows_left(labels)
    h = 80 + ROW * len(rows)
    cv = Canvas("suite-improvement", W, h, label="probability of improvement")
    x0, x1, top, bottom = left, W - 30, 30.0, 30.0 + ROW * len(rows)
    xs = Scale(0, 1, x0, x1, pad=0.02)
    axes(cv, (x0, top, x1, bottom), x=xs, xlabel="probability of improvement",
         ygrid=False)
    cv.line(xs(0.5), top, xs(0.5), bottom, stroke=MUTED, sw=1, dash="4 3")
    cv.text((x0 + x1) / 2, 18, "P(X > Y)", size=12, anchor="middle", weight="600")
    for i, (r, lab) in enumerate(zip(rows, labels)):
        y = top + ROW * (i + 0.5)
        cv.text(x0 - 10, y, lab, size=10.5, anchor="end", baseline="middle")
        tip = f"{lab} = {r.point:.3f} [{r.low:.3f}, {r.high:.3f}]"
        if _finite(r.low, r.high):
            cv.rect(xs(r.low), y - 7, max(xs(r.high) - xs(r.low), 1.0), 14,
                    fill=color(i), opacity=0.35, title=tip)
        if _finite(r.point):
            cv.line(xs(r.point), y - 9, xs(r.point), y + 9, stroke=color(i), sw=2.5)
    return cv.svg()


def profiles_figure(suite) -> str:
    """Per setting, the share of runs scoring past tau, averaged over tasks, with its
    pointwise band."""
    items = [(n, color(i), suite.profiles[n]) for i, n in enumerate(suite.settings)
             if n in suite.profiles]
    taus = [t for _, _, p in items for t in p.taus]
    cv = Canvas("suite-profiles", W, 345, label=f"performance profiles of {suite.metric}")
    ysc0 = Scale(0, 1, 0, 1)
    x0, top, x1, bottom = y_room(ysc0) + 20, 30.0, W - 20, 270.0
    xsc = Scale(min(taus, default=0.0), max(taus, default=1.0), x0, x1, pad=0.02)
    ysc = Scale(0, 1, bottom, top, pad=0.03)
    better = "above" if suite.higher_is_better else "below"
    axes(cv, (x0, top, x1, bottom), x=xsc, y=ysc, xlabel=f"tau ({suite.metric})",
         ylabel=f"share of runs {better} tau")
    cv.text((x0 + x1) / 2, 16, f"performance profiles of {suite.metric}", size=12,
            anchor="middle", weight="600")
    for lab, colour, p in items:
        pt = np.asarray(p.point, float)
        # NaN bounds mean no run-to-run variation at that tau (stats.Profile): the band
        # closes on the point there rather than breaking the shape
        lo = np.where(np.isfinite(p.low), p.low, pt)
        hi = np.where(np.isfinite(p.high), p.high, pt)
        ex = xsc.many(p.taus)
        cv.band(ex, ysc.many(lo), ysc.many(hi), fill=colour, opacity=0.18)
        cv.polyline(ex, ysc.many(pt), stroke=colour, sw=2.0, title=lab)
    legend(cv, 14, bottom + 46, W - 24, [(c, lab) for lab, c, _ in items])
    return cv.svg()


def tasks_figure(suite) -> str:
    """Small multiples, one per task on its own y axis (tasks' scales differ): each
    setting's runs as dots and their mean as a bar."""
    names = list(suite.settings)
    tasks = list(suite.tasks)
    cols = min(PANEL_COLS, max(len(tasks), 1))
    nrows = -(-len(tasks) // cols)
    ph = 220.0
    cv = Canvas("suite-tasks", W, nrows * ph + 40, label=f"{suite.metric} per task")
    cell = {(t.task, t.setting): t for t in suite.per_task}
    pw = W / cols
    for k, task in enumerate(tasks):
        r, cidx = divmod(k, cols)
        vals = [v for n in names if (task, n) in cell for v in cell[task, n].values
                if math.isfinite(v)]
        ysc0 = Scale(min(vals, default=0.0), max(vals, default=1.0), 0, 1, pad=0.08)
        x0 = cidx * pw + y_room(ysc0) + 8
        x1, top = (cidx + 1) * pw - 14, r * ph + 34
        bottom = top + ph - 70
        ysc = Scale(min(vals, default=0.0), max(vals, default=1.0), bottom, top, pad=0.08)
        step = (x1 - x0) / max(len(names), 1)
        axes(cv, (x0, top, x1, bottom), y=ysc, ylabel=suite.metric)
        cv.text((x0 + x1) / 2, top - 10, task, size=11.5, anchor="middle", weight="600")
        for i, n in enumerate(names):
            t = cell.get((task, n))
            if t is None:
                continue
            cx = x0 + step * (i + 0.5)
            v = np.asarray(t.values, float)
            jitter = (np.arange(v.size) / max(v.size - 1, 1) - 0.5) * min(step * 0.5, 24)
            cv.dots(cx + jitter, ysc.many(v), size=4.5, fill=color(i), opacity=0.55,
                    title=f"{n} on {task}: {t.n} runs")
            if _finite(t.mean):
                cv.line(cx - min(step * 0.35, 18), ysc(t.mean), cx + min(step * 0.35, 18),
                        ysc(t.mean), stroke=color(i), sw=2.5)
    legend(cv, 14, nrows * ph + 10, W - 24, [(color(i), n) for i, n in enumerate(names)],
           marker="dot")
    return cv.svg()


def figures(suite) -> list[tuple[str, str, str]]:
    """(id, caption, svg) of the suite section."""
    if suite is None or not suite.settings:
        return []
    n = len(suite.tasks)
    out = [("suite-aggregates",
            f"Aggregates of {suite.metric} across the {n} tasks: the mean, median, "
            f"interquartile mean (IQM) and optimality gap of each setting, with 95% "
            f"stratified-bootstrap intervals (rliable's).", aggregates_figure(suite))]
    if suite.improvement:
        out.append(("suite-improvement",
                    "Probability of improvement: the chance that a run of X beats a run "
                    "of Y on the same task, averaged over tasks, with its 95% interval; "
                    "0.5 is no difference.", improvement_figure(suite)))
    if suite.profiles:
        out.append(("suite-profiles",
                    "Performance profiles: the share of runs past each score, averaged "
                    "over tasks, with pointwise 95% bands.", profiles_figure(suite)))
    out.append(("suite-tasks", f"{suite.metric} on each task, each on its own axis: "
                f"every run as a dot, the mean as a bar.", tasks_figure(suite)))
    return out
