"""The text ``jaxstab compare`` prints for an ``Analysis``: no warnings, and every
missing number comes with its reason."""

from __future__ import annotations

import math
from typing import Any

from jaxstab.stats._format import _effect, _num, _p, format_comparison_table, \
    format_variance_table, format_verdicts, table


def _iv(iv: Any) -> str:
    if iv is None:
        return "-"
    if not (math.isfinite(iv.low) and math.isfinite(iv.high)):
        return _num(iv.point)
    return f"{_num(iv.point)} [{_num(iv.low)}, {_num(iv.high)}]"


def _settings(a) -> str:
    ci = f"{100 * a.level:g}% CI"
    heads = ["setting", "runs", f"diverged [{ci}]", f"mean [{ci}]", f"std [{ci}]",
             "test-noise std"]
    rows, footnotes = [], []
    for r in a.settings:
        d = r.divergence
        div = "-" if d.rate is None else (
            f"{d.diverged}" if d.diverged == 0 else
            f"{d.diverged} ({100 * d.rate:.0f}%) [{100 * d.low:.0f}%, {100 * d.high:.0f}%]")
        s = r.summary
        notes = [r.note] if r.note else []
        if s is not None and s.std_interval is not None and s.std_interval.note:
            notes.append(f"std interval: {s.std_interval.note}")
        elif s is not None and s.note and s.note != "diverged runs excluded from value " \
                "statistics":
            notes.append(s.note)
        noise = r.noise
        base = _num(noise.baseline) if noise.baseline is not None else "n/a"
        if noise.baseline is not None:
            base += f" ({'fixed' if noise.method.startswith('fixed') else noise.method})"
        mark = ""
        if notes:
            footnotes.append(f"[{len(footnotes) + 1}] {r.name}: {'; '.join(notes)}")
            mark = f" [{len(footnotes)}]"
        rows.append([r.name + mark, f"{r.n_finished}/{r.n_total}", div,
                     _iv(s.mean_interval) if s else "-", _iv(s.std_interval) if s else "-",
                     base])
    out = "\n".join([table(heads, rows), *footnotes])
    missing = {r.noise.note for r in a.settings if r.noise.baseline is None and r.noise.note}
    if missing:
        out += "\ntest-noise std n/a: " + "; ".join(sorted(missing))
    return out


def _omnibus(a) -> str:
    o = a.omnibus
    parts = [f"{t.name} p = {_p(t.p_value)}" + (f" ({t.note})" if t.note else "")
             for t in o.tests]
    line = f"omnibus over {o.k} settings: " + "; ".join(parts)
    return line + (f"\n  {o.note}" if o.note else "")


def _ranking(a) -> str:
    r = a.ranking
    what = "mean" if r.metric_kind == "mean" else "std"
    order = ("higher" if a.higher_is_better else "lower") if r.metric_kind == "mean" \
        else "smaller"
    heads = ["rank", "setting", "n", f"{what} [{100 * a.level:g}% CI]", "vs best: diff",
             f"p (not best, {r.correction})", "tied with best"]
    rows = []
    for k in r.ranks:
        diff = "-" if k.comparison is None else _effect(k.comparison.difference)
        rows.append([str(k.rank), k.name, str(k.n), _iv(k.interval), diff,
                     _p(k.p_adjusted), "yes" if k.tied_with_best else "no"])
    tied = sum(k.tied_with_best for k in r.ranks)
    title = (f"ranking ({order} {what} first): {tied} of {len(r.ranks)} settings tied with "
             f"the best (one-sided tests against each other setting, {r.correction} over "
             f"k-1 = {len(r.ranks) - 1}; the tied set holds the best with probability "
             f">= {1 - r.alpha:g})")
    return f"{title}\n{table(heads, rows)}"


def _control(a) -> str:
    c = a.control
    heads = ["setting", "n", "difference vs control", "test", "p", f"p ({c.correction})"]
    rows = [[v.name, f"{v.comparison.n_a}/{v.comparison.n_b}",
             _effect(v.comparison.difference), v.comparison.primary, _p(v.p_value),
             _p(v.p_adjusted) + (" *" if v.significant else "")] for v in c.rows]
    return (f"against the control {c.control} ({c.correction} over k-1 = {len(c.rows)}; "
            f"* below alpha = {c.alpha:g})\n{table(heads, rows)}")


def _factorial(a) -> str:
    f = a.factorial
    title = (f"factors ({f.method}, {f.n_resamples} permutations, "
             f"{'seeds as blocks, ' if f.blocked else ''}{f.n} runs)")
    if not f.effects:
        return f"factors ({f.method}): {f.note}"
    heads = ["effect", "df", "F", "p (permutation)", f"p ({f.correction})"]
    rows = [[e.effect, f"{e.df}, {e.df_resid}", _num(e.statistic), _p(e.p_value),
             _p(e.p_adjusted)] for e in f.effects]
    return f"{title}\n{table(heads, rows)}" + (f"\n  {f.note}" if f.note else "")


def _pairs(a, max_pairs: int) -> str:
    pw = a.pairwise
    if len(pw.pairs) <= max_pairs:
        return format_comparison_table(pw)
    keep = [p for p in pw.pairs if p.p_adjusted < a.alpha]
    shown = type(pw)(pw.metric, pw.metric_kind, pw.correction, tuple(keep[:max_pairs]))
    head = (f"{len(pw.pairs)} pairs ({pw.correction} over all of them; the ranking and "
            f"factor tests above use fewer comparisons): {len(keep)} significant"
            + (f", the first {max_pairs} shown" if len(keep) > max_pairs else "")
            + "; every pair is in --json")
    body = format_comparison_table(shown).split("\n", 1)[1]  # its title counts shown pairs
    return head + ("\n" + body if keep else "")


def _suite(a) -> list[str]:
    """The across-strata blocks, shown first for a study with strata."""
    s = a.suite
    order = "higher" if s.higher_is_better else "lower"
    head = (f"across {len(s.tasks)} strata ({', '.join(s.strata)}: {', '.join(s.tasks)}); "
            f"{order} {s.metric} is better ({s.direction})")
    blocks = [head]
    if s.verdicts:
        blocks.append("claims across strata:\n" + "\n".join(
            f"- {v.statement}" for v in s.verdicts))
    if s.aggregates:
        stats = list(dict.fromkeys(r.statistic for r in s.aggregates))
        cell = {(r.setting, r.statistic): r for r in s.aggregates}
        rows = [[n] + [_iv(cell[n, st]) for st in stats] for n in s.settings]
        blocks.append(f"aggregates across strata [{100 * a.level:g}% CI, t-stratified]\n"
                      + table(["setting"] + stats, rows))
    if s.improvement:
        rows = [[i.a, i.b, _iv(i)] for i in s.improvement]
        blocks.append("probability of improvement P(a better than b), averaged over strata"
                      "\n" + table(["a", "b", f"P [{100 * a.level:g}% CI]"], rows))
    for q in ("On these", "On tasks like"):
        ts = [t for t in s.tests if t.question.startswith(q)]
        if ts:
            rows = [[t.a, t.b, _num(t.difference), _p(t.p_value), _p(t.p_adjusted)]
                    for t in ts]
            blocks.append(f"{ts[0].question}\n  {ts[0].method}\n" + table(
                ["a", "b", "difference a - b", "p", "p (holm)"], rows))
    if s.notes:
        blocks.append("across strata:\n" + "\n".join(f"- {n}" for n in s.notes))
    return blocks


def _within(a, st, max_pairs: int) -> list[str]:
    blocks = [f"within stratum {st.task}:"]
    if st.omnibus is not None:
        blocks.append(_omnibus(st))
    if st.ranking is not None:
        blocks.append(_ranking(st))
    if st.control is not None:
        blocks.append(_control(st))
    if st.factorial is not None:
        blocks.append(_factorial(st))
    if st.pairwise is not None:
        blocks.append(_pairs(st, max_pairs))
    blocks += [f"- {n}" for n in st.notes]
    return blocks


def _open_iv(iv: Any, pct: bool = False) -> str:
    """An interval whose ends may be infinite (a median the data cannot bound)."""
    def f(v: float) -> str:
        if not math.isfinite(v):
            return "not reached" if v > 0 else "-"
        return f"{100 * v:.0f}%" if pct else _num(v)
    return f"{f(iv.point)} [{f(iv.low)}, {f(iv.high)}]"


def _targets(a) -> str:
    ci = f"{100 * a.level:g}% CI"
    blocks = []
    for target in dict.fromkeys(r.target for r in a.targets):
        rows = [r for r in a.targets if r.target == target]
        horizon = next((r.summary.horizon for r in rows if r.summary), None)
        heads = ["setting", "reached/censored/diverged", f"median steps [{ci}]",
                 f"share reached [{ci}, exact]",
                 f"restricted mean steps to {_num(horizon) if horizon else '-'} [{ci}]"]
        table_rows = [[r.setting, "-", "-", "-", r.note] if r.summary is None else
                      [r.setting, f"{r.summary.n_reached}/{r.summary.n_censored}/"
                       f"{r.summary.n_diverged}", _open_iv(r.summary.median),
                       _open_iv(r.summary.share_reached, pct=True), _open_iv(r.summary.rmst)]
                      for r in rows]
        blocks.append(f"time to target {target} (Kaplan-Meier; runs that miss are "
                      f"censored at their last step, diverged runs never reach)\n"
                      + table(heads, table_rows))
    return "\n\n".join(blocks)


def format_analysis(a, *, max_pairs: int = 15) -> str:
    runs = sum(r.n_total for r in a.settings)
    div = sum(r.n_total - r.n_finished for r in a.settings)
    head = (f"{a.study + ': ' if a.study else ''}{a.metric} ({a.metric_kind}), "
            f"{len(a.settings)} settings, {runs} runs ({div} diverged or unfinished)")
    blocks = [head]
    if a.suite is not None:
        blocks += _suite(a)
    blocks.append(_settings(a))
    for st in a.by_stratum:
        blocks += _within(a, st, max_pairs)
    if a.omnibus is not None:
        blocks.append(_omnibus(a))
    if a.ranking is not None:
        blocks.append(_ranking(a))
    if a.control is not None:
        blocks.append(_control(a))
    if a.factorial is not None:
        blocks.append(_factorial(a))
    if a.pairwise is not None:
        blocks.append(_pairs(a, max_pairs))
    if a.variance:
        blocks.append(f"variance by seed source ({a.metric}; share: of the summed "
                      f"one-source variances, with its {100 * a.level:g}% interval)\n"
                      + format_variance_table(a.variance))
    if getattr(a, "targets", ()):
        blocks.append(_targets(a))
    if a.verdicts:
        blocks.append(format_verdicts(a.verdicts))
    if a.notes:
        blocks.append("notes:\n" + "\n".join(f"- {n}" for n in a.notes))
    return "\n\n".join(blocks)
