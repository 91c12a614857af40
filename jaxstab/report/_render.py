"""Rendering: report data to self-contained HTML pages and their JSON twins.

jinja2 with autoescape on: every string from a study (its name, description, claims)
reaches the page escaped; the only markup passed through unescaped is the figures' SVG,
written by ``_svg``, which escapes every text and attribute it writes.
"""

from __future__ import annotations

import functools
import json
from importlib import metadata
from typing import Any

import jinja2
from markupsafe import Markup

from jaxstab.report import _page
from jaxstab.report._config import to_toml as to_toml
from jaxstab.report._format import duration, interval, num, percent, pval
from jaxstab.report._model import IndexReport, StudyReport
from jaxstab.stats import jsonable, label, value_text
from jaxstab.report._seqfig import path_figure

QUANTITY = {"mean": "mean", "spread": "spread (std)", "time_to_target": "time to target",
            "curve": "mean curve"}
WORD = {"greater": "greater", "less": "smaller"}
OPPOSITE = {"greater": "smaller", "less": "greater"}
METRICS_PER_TABLE = 4  # "other metrics" columns per table, so that tables fit the page


def _with_interval(e) -> str:
    iv = interval(e)
    return num(e.point, 3) + ("" if iv == "—" else f" {iv}") + (
        f" ({e.note})" if getattr(e, "note", "") and iv == "—" else "")


def verdict_words(v, labels: dict[str, str], unit: str = "seeds per setting"
                  ) -> tuple[str, str]:
    """A claim's verdict as a sentence, and its numbers as another; ``unit`` names the
    unit of replication (a search's verdicts count search replicates)."""
    a, b = labels.get(v.setting_a, v.setting_a), labels.get(v.setting_b, v.setting_b)
    q = f"{QUANTITY[v.kind]} of {v.metric}"
    direction = getattr(v, "direction", "greater")
    if v.status == "holds":
        head = (f"Holds: the {q} is significantly {WORD.get(direction, 'different')} for "
                f"{a} than for {b}." if direction in WORD else
                f"Holds: the {q} differs significantly between {a} and {b}.")
    elif v.status == "refuted":
        head = (f"Refuted: the {q} is significantly {OPPOSITE.get(direction, 'different')} "
                f"for {a} than for {b}, the opposite of the claim.")
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
             f"{runs}" + ((f", {div} diverged runs counted as never reaching the target."
                           if v.kind == "time_to_target" else
                           f", {div} diverged runs left out.") if div else ".")]
    if v.note:
        parts.append(f"Note: {v.note}.")
    return head, " ".join(parts)


@functools.cache
def _environment() -> jinja2.Environment:
    """One per process: jinja2 compiles each template once per environment."""
    env = jinja2.Environment(loader=jinja2.PackageLoader("jaxstab.report", "templates"),
                             autoescape=True, undefined=jinja2.StrictUndefined,
                             keep_trailing_newline=True, trim_blocks=True,
                             lstrip_blocks=True)
    env.filters.update(num=num, pval=pval, interval=interval, duration=duration,
                       percent=percent, value=value_text)
    return env


@functools.cache
def _generator() -> str:
    try:
        return metadata.version("jaxstab")
    except metadata.PackageNotFoundError:
        return "unknown"


def _chunks(items: list, size: int) -> list[list]:
    """``items`` in as few tables of at most ``size`` as needed, as even as possible
    (13 metrics are 4 + 3 + 3 + 3, not 4 + 4 + 4 + 1)."""
    if not items:
        return []
    n = -(-len(items) // size)
    base, extra = divmod(len(items), n)
    out, at = [], 0
    for i in range(n):
        step = base + (i < extra)
        out.append(items[at:at + step])
        at += step
    return out


def render_study(r: StudyReport, env: jinja2.Environment | None = None) -> str:
    env = env or _environment()
    labels = {s.key: s.label for s in r.settings}
    words = [verdict_words(v, labels) for v in r.verdicts]
    search_words = []
    if r.search is not None:  # its settings are a rule's or a method's picks
        search_words = [verdict_words(v, {k: label(json.loads(k)) or "(one setting)" for k in
                                          (v.setting_a, v.setting_b)},
                                      unit="replicates of the whole search")
                        for v in r.search.verdicts]
    others = [m for m in r.metrics if m not in r.table_metrics]
    seq = r.sequential
    return env.get_template("study.html").render(
        sequential_svg=Markup(path_figure(seq.verdicts, seq.schedule)) if seq else "",
        r=r, words=words, search_words=search_words, figures=_page.figures(r),
        toml=to_toml(dict(r.shown_config or r.config)), labels=labels,
        other_tables=_chunks(others, METRICS_PER_TABLE),
        diverging=[d for d in r.divergence if d.diverged],
        generator=_generator(), counts={s: sum(v.status == s for v in r.verdicts)
                                        for s in ("holds", "refuted", "inconclusive")})


def render_index(index: IndexReport, env: jinja2.Environment | None = None) -> str:
    env = env or _environment()
    return env.get_template("index.html").render(index=index, generator=_generator())


def _json_lines(v: Any, depth: int, out: list[str]) -> None:
    if isinstance(v, dict) and v:
        pad = "\n" + " " * (depth + 1)
        for i, (k, x) in enumerate(v.items()):
            out.append(("{" if i == 0 else ",") + pad + json.dumps(k) + ": ")
            _json_lines(x, depth + 1, out)
        out.append("\n" + " " * depth + "}")
    elif isinstance(v, list) and not {dict, list}.isdisjoint(map(type, v)):
        pad = "\n" + " " * (depth + 1)
        for i, x in enumerate(v):
            out.append(("[" if i == 0 else ",") + pad)
            _json_lines(x, depth + 1, out)
        out.append("\n" + " " * depth + "]")
    else:  # a number, a text, or a list of them: one line, by json's C encoder
        out.append(json.dumps(v, allow_nan=False))


def json_text(data: Any) -> str:
    """``data`` (plain JSON types) as ``json.dumps(data, indent=1)`` writes it, except
    that a list of numbers or texts stays on one line: a setting's per-seed values
    are one line, not one line per seed (json's indented writer is pure Python: 3 s
    for the 1.8 million per-seed values of 2 x 300,000 runs)."""
    out: list[str] = []
    _json_lines(data, 0, out)
    return "".join(out) + "\n"


def study_json(r: StudyReport) -> str:
    data: dict[str, Any] = {"generator": {"jaxstab": _generator(), "generated": r.generated},
                            **jsonable(r)}
    data.pop("generated")
    return json_text(data)


def study_files(r: StudyReport, env: jinja2.Environment | None = None
                ) -> list[tuple[str, str]]:
    """(file name, text) of a study's page, its JSON twin and its per-seed CSV."""
    return [(f"{r.slug}.html", render_study(r, env)), (f"{r.slug}.json", study_json(r)),
            (f"{r.slug}.csv", r.runs_csv)]
