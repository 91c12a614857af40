"""Rendering: report data to self-contained HTML pages and their JSON twins.

jinja2 with autoescape on: every string from a study (its name, description, claims)
reaches the page escaped; the only markup passed through unescaped is the SVG that
matplotlib writes (which escapes the text inside it).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from datetime import datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import jinja2
import numpy as np
from markupsafe import Markup

from jaxstab.errors import UserError
from jaxstab.report import _figures
from jaxstab.report._model import IndexReport, StudyReport, build, jsonable, label
from jaxstab.store import Store

QUANTITY = {"mean": "mean", "spread": "spread (std)"}
WORD = {"greater": "greater", "less": "smaller"}
OPPOSITE = {"greater": "smaller", "less": "greater"}


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


def interval(iv: Any) -> str:
    if iv is None or not (math.isfinite(iv.low) and math.isfinite(iv.high)):
        return "—"
    return f"[{num(iv.low)}, {num(iv.high)}]"


def _with_interval(e) -> str:
    iv = interval(e)
    return num(e.point, 3) + ("" if iv == "—" else f" {iv}") + (
        f" ({e.note})" if getattr(e, "note", "") and iv == "—" else "")


def duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.1f} s"
    return f"{seconds / 60:.1f} min" if seconds < 7200 else f"{seconds / 3600:.1f} h"


def to_toml(d: dict) -> str:
    """TOML for the shape of ``Study.to_dict()``: scalars and lists, tables, and arrays
    of tables whose nested tables are written inline."""
    lines = [f"{_key(k)} = {_value(v)}" for k, v in d.items()
             if v is not None and not isinstance(v, dict) and not _table_array(v)]
    for k, v in d.items():
        if isinstance(v, dict):
            lines += ["", f"[{_key(k)}]"]
            lines += [f"{_key(a)} = {_value(b)}" for a, b in v.items() if b is not None]
    for k, v in d.items():
        if _table_array(v):
            for item in v:
                lines += ["", f"[[{_key(k)}]]"]
                lines += [f"{_key(a)} = {_value(b)}" for a, b in item.items() if b is not None]
    return "\n".join(lines) + "\n"


def _table_array(v: Any) -> bool:
    return isinstance(v, (list, tuple)) and bool(v) and all(isinstance(x, dict) for x in v)


def _key(k: str) -> str:
    bare = k and all(c.isascii() and (c.isalnum() or c in "_-") for c in k)
    return k if bare else _string(k)


def _string(s: str) -> str:
    escapes = {"\\": "\\\\", '"': '\\"', "\b": "\\b", "\t": "\\t", "\n": "\\n",
               "\f": "\\f", "\r": "\\r"}
    out = []
    for c in s:
        if c in escapes:
            out.append(escapes[c])
        elif ord(c) < 0x20 or ord(c) == 0x7F:
            out.append(f"\\u{ord(c):04X}")
        else:
            out.append(c)
    return '"' + "".join(out) + '"'


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) \
            else repr(v)
    if isinstance(v, str):
        return _string(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        inner = ", ".join(f"{_key(a)} = {_value(b)}" for a, b in v.items() if b is not None)
        return "{ " + inner + " }" if inner else "{}"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")


def verdict_words(v, labels: dict[str, str], unit: str = "seeds per setting"
                  ) -> tuple[str, str]:
    """A claim's verdict as a sentence, and its numbers as another; ``unit`` names the
    unit of replication (a search's verdicts count search replicates)."""
    a, b = labels.get(v.setting_a, v.setting_a), labels.get(v.setting_b, v.setting_b)
    q = f"{QUANTITY[v.kind]} of {v.metric}"
    if v.status == "holds":
        head = f"Holds: the {q} is significantly {WORD[v.direction]} for {a} than for {b}."
    elif v.status == "refuted":
        head = (f"Refuted: the {q} is significantly {OPPOSITE[v.direction]} for {a} than "
                f"for {b}, the opposite of the claim.")
    else:
        head = (f"Inconclusive: no significant difference in the {q} between {a} and {b} "
                f"with these seeds.")
        if v.seeds_needed is not None:
            head += (f" About {v.seeds_needed:,} {unit} would detect the observed effect "
                     f"with 80% power.")
        else:
            head += " The observed effect is too small to size a study that detects it."
    e, d = v.effect, v.difference
    runs = f"{v.n_a} paired seeds" if v.paired else f"{v.n_a} vs {v.n_b} runs"
    div = v.n_diverged_a + v.n_diverged_b
    parts = [(f"{v.test} (two-sided): p = {pval(v.p_value)}, {v.correction}-corrected "
             f"p = {pval(v.p_adjusted)} (α = {v.alpha:g})."),
             (f"{e.name} = {_with_interval(e)}; {d.name} = {_with_interval(d)} "
             f"({e.level:.0%} intervals)."),
             f"{runs}" + (f", {div} diverged runs left out." if div else ".")]
    if v.note:
        parts.append(f"Note: {v.note}.")
    return head, " ".join(parts)


def _pairwise_svg(pw, index: dict[str, int], labels: list[str]) -> str:
    k = len(labels)
    colour, text = np.full((k, k), np.nan), [[""] * k for _ in range(k)]
    for pc in pw.pairs:
        i, j, c = index[pc.a_key], index[pc.b_key], pc.comparison
        e = c.effects[0].point
        star = "*" if pc.p_adjusted < 0.05 else ""
        if pw.metric_kind == "mean":
            colour[i, j], colour[j, i] = e, -e
            text[i][j], text[j][i] = (f"{_figures.signed(x)}\np={pval(pc.p_adjusted)}{star}"
                                      for x in (e, -e))
        else:
            ok = math.isfinite(e) and e > 0
            colour[i, j] = math.log2(e) if ok else np.nan
            colour[j, i] = -colour[i, j]
            text[i][j], text[j][i] = (f"×{num(x, 3)}\np={pval(pc.p_adjusted)}{star}"
                                      for x in ((e, 1 / e) if ok else (e, e)))
    name = "Hedges' g, row vs column" if pw.metric_kind == "mean" else \
        "std ratio, row / column"
    return _figures.pairwise_figure(labels, colour, text, name,
                                    f"{pw.metric}-{pw.metric_kind}",
                                    f"p {pw.correction}-corrected over {len(pw.pairs)} "
                                    f"pairs; * p < 0.05", ratio=pw.metric_kind == "spread")


def figures(r: StudyReport) -> list[tuple[str, str, Markup]]:
    """(id, caption, svg) of every figure of a study page."""
    out = []
    labels = [s.label for s in r.settings]
    values = [[v for v in s.values if math.isfinite(v)] for s in r.settings]
    if any(values):
        ivs = []
        for s in r.settings:
            summ = s.summaries.get(r.main_metric)
            iv = summ.mean_interval if summ is not None else None
            ivs.append((iv.point, iv.low, iv.high) if iv is not None else None)
        level = next((s.summaries[r.main_metric].mean_interval.level for s in r.settings
                      if s.summaries.get(r.main_metric) is not None
                      and s.summaries[r.main_metric].mean_interval is not None), 0.95)
        out.append(("seeds", (f"{r.main_metric}: every seed is a point; the shaded shape is "
                    f"the distribution over seeds; the black diamond and bar are the mean "
                    f"and its {level:.0%} confidence interval. Diverged runs are not drawn "
                    f"(counted under each label)."),
                    _figures.seeds_figure(labels, values, ivs,
                                          [s.n_diverged for s in r.settings], r.main_metric)))
    names = list(dict.fromkeys(c.name for s in r.settings for c in s.curves))
    if names:
        # scikit-learn's Newton solver records its loss per iteration, not per epoch.
        newton = r.config.get("train", {}).get("optimizer") == "newton"
        xlabel = "Newton iteration" if newton else "epoch"
        bands = [[next(((c.median, c.q25, c.q75) for c in s.curves if c.name == n), None)
                  for s in r.settings] for n in names]
        out.append(("curves", ("Learning curves: the line is the median over seeds, the band "
                    "the inter-quartile range (25th to 75th percentile)."),
                    _figures.curves_figure(names, labels, bands, xlabel)))
    index = {s.key: i for i, s in enumerate(r.settings)}
    for pw in r.pairwise:
        what = "difference of means (Hedges' g)" if pw.metric_kind == "mean" else \
            "ratio of standard deviations (×)"
        out.append((f"pairwise-{pw.metric}-{pw.metric_kind}",
                    (f"Pairwise comparisons of {pw.metric}, {what}: each cell compares the "
                    f"row setting (A) with the column setting (B); colour shows the "
                    f"effect, the text the effect and the {pw.correction}-corrected "
                    f"p-value of {pw.pairs[0].comparison.primary if pw.pairs else 'the test'}."),
                    _pairwise_svg(pw, index, labels)))
    if r.seeds_needed:
        sn = r.seeds_needed[0]
        claims = len(r.verdicts)
        out.append(("seeds-needed", f"Seeds per setting needed to detect an effect with "
                    f"{sn.power:.0%} power at α = {sn.alpha:.3g}"
                    + (f" (0.05 over {claims} claims)" if claims > 1 else "")
                    + ", against the true effect; points mark the claims' observed "
                    f"effects, the dashed line this study's {r.seeds:,} seeds.",
                    _figures.seeds_needed_figure(r.seeds_needed, r.seeds)))
    rows = [v for v in r.variance if v.share is not None]
    if rows:
        text = [("" if not v.group else ", ".join(f"{k}={x}" for k, x in v.group.items())
                 + ": ") + "+".join(v.sources) for v in rows]
        out.append(("variance", (f"Share of the seed-to-seed variance of {r.main_metric} due "
                    f"to each seed source (its variance when only it varies, over the sum "
                    f"of those variances)."),
                    _figures.variance_figure(text, [v.share for v in rows])))
    return [(i, c, Markup(svg)) for i, c, svg in out]


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(loader=jinja2.PackageLoader("jaxstab.report", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, trim_blocks=True,
                             lstrip_blocks=True)
    env.filters.update(num=num, pval=pval, interval=interval, duration=duration)
    return env


def _generator() -> str:
    try:
        return metadata.version("jaxstab")
    except metadata.PackageNotFoundError:
        return "unknown"


def render_study(r: StudyReport, env: jinja2.Environment | None = None) -> str:
    env = env or _environment()
    labels = {s.key: s.label for s in r.settings}
    words = [verdict_words(v, labels) for v in r.verdicts]
    search_words = []
    if r.search is not None:  # its settings are a rule's or a method's picks
        search_words = [verdict_words(v, {k: label(json.loads(k)) for k in
                                          (v.setting_a, v.setting_b)},
                                      unit="replicates of the whole search")
                        for v in r.search.verdicts]
    return env.get_template("study.html").render(
        r=r, words=words, search_words=search_words, figures=figures(r),
        toml=to_toml(dict(r.config)),
        generator=_generator(), counts={s: sum(v.status == s for v in r.verdicts)
                                        for s in ("holds", "refuted", "inconclusive")})


def render_index(index: IndexReport, env: jinja2.Environment | None = None) -> str:
    env = env or _environment()
    return env.get_template("index.html").render(index=index, generator=_generator())


def study_json(r: StudyReport) -> str:
    data = {"generator": {"jaxstab": _generator(), "generated": r.generated},
            **jsonable(r)}
    data.pop("generated")
    return json.dumps(data, indent=1, sort_keys=False, allow_nan=False) + "\n"


def _write(path: Path, text: str) -> None:
    # Beside the target, then rename: a failure never leaves half a page.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; a page is for sharing
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _umask()


def write_report(store_path: str | os.PathLike, out_dir: str | os.PathLike, *,
                 now: datetime | None = None) -> list[Path]:
    """Write ``out_dir/index.html`` and, per study, ``<slug>.html`` and ``<slug>.json``
    (slug: the name with ``/`` as ``-``). ``now`` fixes the "generated" timestamp, so
    that the same store gives byte-identical files. Everything is rendered before the
    first file is written."""
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out: {out} is a file, expected a folder")
    store = Store(store_path, create=False)
    try:
        index, reports = build(store, now)
    finally:
        store.close()
    env = _environment()
    files = [("index.html", render_index(index, env))]
    for r in reports:
        files += [(f"{r.slug}.html", render_study(r, env)), (f"{r.slug}.json", study_json(r))]
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"--out: cannot create folder {out} ({e.strerror})") from None
    paths = []
    for name, text in files:
        _write(out / name, text)
        paths.append(out / name)
    return paths
