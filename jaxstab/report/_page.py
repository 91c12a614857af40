"""Which figures a study page shows, with their captions, by section.

Grid studies (two factors or more) get heatmaps and main effects; the pairwise matrix
only while it stays readable; learning curves become small multiples past ten settings
so that no colour stands for two settings in one legend.
"""

from __future__ import annotations

import math

import numpy as np
from markupsafe import Markup

from jaxstab.report import _figures, _gridfigs, _suitefig, _survfig
from jaxstab.report._format import num, pval, signed
from jaxstab.stats import value_text
from jaxstab.report._model import StudyReport
from jaxstab.report._svg import color

MAX_COLOURS = 10  # settings per legend before the curves split into small multiples


def _tip(r: StudyReport, s) -> str:
    m = s.summaries.get(r.main_metric)
    lines = [s.label]
    if m is not None:
        lines.append(f"mean {num(m.mean)} {_iv(m.mean_interval)}")
        lines.append(f"std {num(m.std)} {_iv(m.std_interval)}")
        lines.append(f"n = {m.n}" + (f", {m.n_diverged} diverged" if m.n_diverged else ""))
    return "\n".join(lines)


def _iv(iv) -> str:
    if iv is None or not (math.isfinite(iv.low) and math.isfinite(iv.high)):
        return ""
    return f"[{num(iv.low)}, {num(iv.high)}]"


def heatmaps(r: StudyReport) -> list[tuple[str, str, str]]:
    grid = r.grid
    lay = grid.layout() if grid is not None else None
    if lay is None:
        return []
    rows_f, cols_f, panel_fs = lay
    fr, fc = grid.factors[rows_f], grid.factors[cols_f]
    best = r.ranking.ranks[0].key if r.ranking is not None else None
    tied = set(r.tied)
    figures, scales = {"mean": [], "std": []}, {}
    for title, key in grid.panels(panel_fs):
        cells: dict = {"mean": {}, "std": {}}
        for s in r.settings:
            if tuple(s.coords[i] for i in panel_fs) != key:
                continue
            m = s.summaries.get(r.main_metric)
            if m is None:
                continue
            at = (s.coords[rows_f], s.coords[cols_f])
            mark = "best" if s.key == best else "tied" if s.key in tied else ""
            for q, value, iv in (("mean", m.mean, m.mean_interval),
                                 ("std", m.std, m.std_interval)):
                lo, hi = (iv.low, iv.high) if iv is not None else (math.nan, math.nan)
                cells[q][at] = _gridfigs.Cell(value, lo, hi, _tip(r, s),
                                              mark if q == "mean" else "")
                if math.isfinite(value):
                    a, b = scales.get(q, (value, value))
                    scales[q] = (min(a, value), max(b, value))
        for q in ("mean", "std"):
            head = f"{q} of {r.main_metric}" + (f" · {title}" if title else "")
            figures[q].append(_gridfigs.Panel(head, q, fr.name, fc.name, fr.levels, fc.levels,
                                              cells[q]))
    if not scales:
        return []
    scales.setdefault("std", (0.0, 1.0))
    names = {"mean": f"mean of {r.main_metric}", "std": f"std of {r.main_metric} over seeds"}
    level = _level(r)
    marks = ("A solid outline marks the best setting, a dashed one each setting whose "
             f"mean is not significantly {'lower' if r.higher_is_better else 'higher'} "
             f"({r.ranking.correction}-corrected comparisons with the best, "
             f"α = {r.ranking.alpha:g})." if r.ranking is not None else "")
    what = (f"{r.main_metric} per setting: mean (left) and std over seeds (right), with "
            f"their {level:.0%} intervals in the cell where they fit and always on hover. "
            + marks)
    if len(figures["mean"]) == 1:
        return [("heatmap", what, _gridfigs.heatmap_figure(
            "heatmap", figures["mean"] + figures["std"], scales, names))]
    cap = ("one panel per value of " + ", ".join(grid.factors[i].name for i in panel_fs)
           + f"; {level:.0%} intervals in the cell where they fit and always on hover. ")
    return [("heatmap-mean", f"Mean of {r.main_metric} per setting, {cap}{marks}",
             _gridfigs.heatmap_figure("heatmap-mean", figures["mean"],
                                      {"mean": scales["mean"]}, names)),
            ("heatmap-std", f"Std of {r.main_metric} over seeds per setting, {cap}",
             _gridfigs.heatmap_figure("heatmap-std", figures["std"],
                                      {"std": scales["std"]}, names))]


def _level(r: StudyReport) -> float:
    for s in r.settings:
        m = s.summaries.get(r.main_metric)
        if m is not None and m.mean_interval is not None:
            return m.mean_interval.level
    return 0.95


def main_effects(r: StudyReport) -> list[tuple[str, str, str]]:
    if not r.main_effects:
        return []
    panels = []
    for f, eff in enumerate(r.main_effects):
        factor = r.grid.factors[f]
        traces: dict[tuple, list[float]] = {}
        names: dict[tuple, str] = {}
        for s in r.settings:
            m = s.summaries.get(r.main_metric)
            others = tuple(c for j, c in enumerate(s.coords) if j != f)
            row = traces.setdefault(others, [math.nan] * len(factor.levels))
            names[others] = r.grid.without(f, s.coords)
            row[s.coords[f]] = m.mean if m is not None else math.nan
        ivs = [(e.interval.low, e.interval.high) if e.interval is not None
               else (math.nan, math.nan) for e in eff.levels]
        panels.append(_gridfigs.EffectPanel(
            eff.factor, factor.levels, tuple(e.mean for e in eff.levels),
            tuple(a for a, _ in ivs), tuple(b for _, b in ivs),
            tuple((names[k], tuple(v)) for k, v in traces.items())))
    return [("main-effects", (
        f"Main effects on {r.main_metric}: per factor, the mean at each level averaged over "
        f"the other factors' settings (black; per seed index the mean over those settings, "
        f"then the mean over seeds and its 95% t interval), and each combination of the "
        f"other factors as a grey line (hover for which). Grey lines that are not parallel "
        f"show an interaction."), _gridfigs.main_effects_figure(panels, r.main_metric))]


def seeds(r: StudyReport) -> list[tuple[str, str, str]]:
    values = [[v for v in s.values if math.isfinite(v)] for s in r.settings]
    if not any(values):
        return []
    ivs = []
    for s in r.settings:
        m = s.summaries.get(r.main_metric)
        iv = m.mean_interval if m is not None else None
        ivs.append((iv.point, iv.low, iv.high) if iv is not None else None)
    extra = [f"n={len(v)}" + (f", {s.n_diverged} diverged" if s.n_diverged else "")
             for s, v in zip(r.settings, values)]
    return [("seeds", (f"{r.main_metric}: every seed is a point; the shaded shape is the "
             f"distribution over seeds; the black diamond and bar are the mean and its "
             f"{_level(r):.0%} confidence interval. Diverged runs are not drawn (counted under "
             f"each label)."),
             _figures.strip_figure("seeds", [s.label for s in r.settings], values, ivs,
                                   extra, r.main_metric))]


def _groups(r: StudyReport) -> list[tuple[str, list[int], int | None]]:
    """Settings split into groups of at most MAX_COLOURS, as (title, members, the
    factor that splits them): by the levels of one factor where that works (small
    multiples), else in runs of ten."""
    k = len(r.settings)
    if k <= MAX_COLOURS:
        return [("", list(range(k)), None)]
    grid = r.grid
    for f in sorted(range(len(grid.factors)), key=lambda f: len(grid.factors[f].levels)):
        factor = grid.factors[f]
        parts = [[i for i, s in enumerate(r.settings) if s.coords[f] == li]
                 for li in range(len(factor.levels))]
        if all(len(p) <= MAX_COLOURS for p in parts) and len(parts) <= 12:
            return [(f"{factor.name}={lv}", p, f) for lv, p in zip(factor.levels, parts) if p]
    return [(f"settings {a + 1}–{min(a + MAX_COLOURS, k)}",
             list(range(a, min(a + MAX_COLOURS, k))), None) for a in range(0, k, MAX_COLOURS)]


def curves(r: StudyReport) -> list[tuple[str, str, str]]:
    """Two figures of the learning curves: median and inter-quartile band (robust to a
    few wild seeds), and mean with its pointwise interval (what tracker dashboards
    show: does the mean differ, beyond seed noise, at this epoch?)."""
    names = list(dict.fromkeys(c.name for s in r.settings for c in s.curves))
    if not names:
        return []
    # scikit-learn's Newton solver records its loss per iteration, not per epoch.
    newton = (r.config.get("train") or {}).get("optimizer") == "newton"
    first = next(c for s in r.settings for c in s.curves)
    smooth = (f" Each run's curve is smoothed first (exponential moving average, weight "
              f"{first.smoothing:g}, debiased)." if first.smoothing > 0 else "")
    kinds = [("curves", lambda c: (c.median, c.q25, c.q75, c.epochs),
              "Learning curves: the line is the median over seeds, the band the "
              "inter-quartile range (25th to 75th percentile)."),
             ("curves-mean", lambda c: (c.mean, c.low, c.high, c.epochs),
              f"Learning curves: the line is the mean over seeds, the band its pointwise "
              f"{first.level:.0%} confidence interval (t, over the seeds finite at that "
              f"epoch; not corrected across epochs).")]
    out = []
    for fig, pick, text in kinds:
        groups = []
        for title, members, f in _groups(r):
            items = []
            for n_, i in enumerate(members):
                s = r.settings[i]
                lab = s.label if f is None else (r.grid.without(f, s.coords) or s.label)
                bands = [next((pick(c) for c in s.curves if c.name == n), None)
                         for n in names]
                items.append((lab, color(n_), bands))
            groups.append((title, items))
        split = len(groups) > 1
        out.append((fig, text + smooth + (" One column per group of settings, each with "
                                          "its own legend." if split else ""),
                    _figures.curves_figure(names, groups, "Newton iteration" if newton
                                           else "epoch", name=fig)))
    return out


def _pairwise_svg(pw, index: dict[str, int], labels: list[str]) -> str:
    k = len(labels)
    colour, text = np.full((k, k), np.nan), [[""] * k for _ in range(k)]
    for pc in pw.pairs:
        i, j, c = index[pc.a_key], index[pc.b_key], pc.comparison
        e = c.effects[0].point
        star = "*" if pc.p_adjusted < 0.05 else ""
        if pw.metric_kind == "mean":
            colour[i, j], colour[j, i] = e, -e
            text[i][j], text[j][i] = (f"{signed(x)}\np={pval(pc.p_adjusted)}{star}"
                                      for x in (e, -e))
        else:
            ok = math.isfinite(e) and e > 0
            colour[i, j] = math.log2(e) if ok else np.nan
            colour[j, i] = -colour[i, j]
            text[i][j], text[j][i] = (f"×{num(x, 3)}\np={pval(pc.p_adjusted)}{star}"
                                      for x in ((e, 1 / e) if ok else (e, e)))
    name = "Hedges' g, row vs column" if pw.metric_kind == "mean" else \
        "std ratio, row / column"
    return _gridfigs.pairwise_figure(labels, colour, text, name,
                                     f"{pw.metric}-{pw.metric_kind}",
                                     f"p {pw.correction}-corrected over {len(pw.pairs)} "
                                     f"pairs; * p < 0.05", ratio=pw.metric_kind == "spread")


def comparisons(r: StudyReport) -> list[tuple[str, str, str]]:
    out = []
    index = {s.key: i for i, s in enumerate(r.settings)}
    labels = [s.label for s in r.settings]
    for pw in r.pairwise:
        what = "difference of means (Hedges' g)" if pw.metric_kind == "mean" else \
            "ratio of standard deviations (×)"
        test = pw.pairs[0].comparison.primary if pw.pairs else "the test"
        out.append((f"pairwise-{pw.metric}-{pw.metric_kind}",
                    (f"Pairwise comparisons of {pw.metric}, {what}: each cell compares the "
                     f"row setting (A) with the column setting (B); colour shows the effect, "
                     f"the text the effect and the {pw.correction}-corrected p-value of "
                     f"{test}."), _pairwise_svg(pw, index, labels)))
    claims = [p for p in r.paired if p.what == "claim"]
    if claims:
        out.append(("paired-claims", (
            "The claims' paired comparisons of means, seed by seed: each point is one seed "
            "index's value in the claim's first setting minus its value in the second (the "
            "two share their random keys); the black diamond and bar are the mean "
            "difference and its 95% interval as the verdict computed it."),
            _figures.strip_figure(
                "paired-claims", [[f"{labels[index[p.a_key]]} −", labels[index[p.b_key]]]
                                  for p in claims], [p.values for p in claims],
                [(p.mean, p.low, p.high) for p in claims],
                [f"{p.metric}, {len(p.values)} paired seeds" for p in claims],
                "difference (first − second)", zero=True, violin=False,
                colours=["#1f4e79"] * len(claims))))
    best = [p for p in r.paired if p.what == "best"]
    if best:
        out.append(("paired-best", (
            f"Every setting against the best, seed by seed: each point is one seed index's "
            f"{r.main_metric} in the setting minus the best setting's (the two share their "
            f"random keys); the black diamond and bar are the mean difference and its 95% "
            f"paired t interval. Bars clear of the dashed zero line are differences the "
            f"seeds resolve before correction for multiple comparisons (the ranking's "
            f"tied set is the corrected answer)."),
            _figures.strip_figure(
                "paired-best", [f"{labels[index[p.a_key]]} − best" for p in best],
                [p.values for p in best], [(p.mean, p.low, p.high) for p in best],
                [f"{len(p.values)} paired seeds" for p in best],
                f"difference in {r.main_metric} (setting − best)", zero=True,
                violin=False, colours=["#5b7fa6"] * len(best))))
    if r.seeds_needed:
        sn = r.seeds_needed[0]
        claims = len(r.verdicts)
        out.append(("seeds-needed", f"Seeds per setting needed to detect an effect with "
                    f"{sn.power:.0%} power at α = {sn.alpha:.3g}"
                    + (f" (0.05 over {claims} claims)" if claims > 1 else "")
                    + ", against the true effect; numbered points mark the claims' observed "
                    f"effects, the dashed line this study's {r.seeds:,} seeds.",
                    _figures.seeds_needed_figure(r.seeds_needed, r.seeds)))
    return out


def variance(r: StudyReport) -> list[tuple[str, str, str]]:
    rows = [v for v in r.variance if v.share is not None]
    if not rows:
        return []
    text = [("" if not v.group else ", ".join(f"{k}={value_text(x)}"
                                              for k, x in v.group.items())
             + ": ") + "+".join(v.sources) for v in rows]
    return [("variance", (f"Share of the seed-to-seed variance of {r.main_metric} due to each "
             f"seed source (its variance when only it varies, over the sum of those "
             f"variances)."), _figures.variance_figure(text, [v.share for v in rows]))]


def time_to_target(r: StudyReport) -> list[tuple[str, str, str]]:
    """A Kaplan-Meier plot per target, then each target or curve claim's curve with
    its pointwise and simultaneous bands."""
    labels = {s.key: s.label for s in r.settings}
    colours = {s.key: color(i) for i, s in enumerate(r.settings)}
    out = []
    for n, target in enumerate(dict.fromkeys(t.target for t in r.targets)):
        rows = [t for t in r.targets if t.target == target and t.summary is not None]
        if not rows:
            continue
        items = [(labels.get(t.key, t.setting), colours.get(t.key, color(0)),
                  t.summary.km.time, t.summary.km.survival, t.summary.km.low,
                  t.summary.km.high) for t in rows]
        horizon = max(t.summary.horizon for t in rows)
        out.append((f"km-{n}", (f"Time to target {target}: the share of runs not yet at "
                    f"the target after each epoch (Kaplan-Meier), with its pointwise 95% "
                    f"band. A run that never reaches it is censored at its last epoch; a "
                    f"diverged run never reaches it, so its line stays up."),
                    _survfig.km_figure(target, items, horizon)))
    for n, curve in enumerate(dict.fromkeys(c for c, _, _ in r.bands)):
        items = [(labels.get(k, k), colours.get(k, color(0)), b)
                 for c, k, b in r.bands if c == curve]
        out.append((f"bands-{n}", (f"Mean {curve} over finished runs: the darker band is "
                    f"pointwise (95% at each epoch alone), the lighter one simultaneous "
                    f"(it holds the whole mean curve with 95%, max-t over epochs)."),
                    _survfig.bands_figure(curve, items)))
    return out


def figures(r: StudyReport) -> dict[str, list[tuple[str, str, Markup]]]:
    """(id, caption, svg) of every figure of a study page, by the section it is in."""
    parts = {"glance": heatmaps(r) + main_effects(r), "seeds": seeds(r) + curves(r) + time_to_target(r),
             "comparisons": comparisons(r), "variance": variance(r),
             "suite": _suitefig.figures(r.suite)}
    return {k: [(i, c, Markup(svg)) for i, c, svg in v] for k, v in parts.items()}
