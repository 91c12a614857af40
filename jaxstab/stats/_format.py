"""Plain-text tables for the terminal (``jaxstab compare``); JSON comes from to_dict()."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from jaxstab.stats._effects import Effect
from jaxstab.stats._multiple import Pairwise
from jaxstab.stats._sequential import SequentialVerdict
from jaxstab.stats._variance import SourceVariance
from jaxstab.stats._verdicts import Verdict


def _num(x: Any) -> str:
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{x:.4g}"


def _p(p: float | None) -> str:
    if p is None or math.isnan(p):
        return "-"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _effect(e: Effect | None) -> str:
    if e is None or math.isnan(e.point):
        return "n/a"
    if math.isnan(e.low):
        return _num(e.point)
    return f"{_num(e.point)} [{_num(e.low)}, {_num(e.high)}]"


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns separated by two spaces, a rule under the header."""
    widths = [max(len(str(c)) for c in col) for col in zip(headers, *rows, strict=True)]
    lines = ["  ".join(str(c).ljust(w) for c, w in zip(r, widths, strict=True)).rstrip()
             for r in [headers, ["-" * w for w in widths], *rows]]
    return "\n".join(lines)


def format_comparison_table(pairwise: Pairwise) -> str:
    """All pairs of a ``pairwise`` result, one line each, with corrected p-values."""
    kind = pairwise.metric_kind
    ci = f"{100 * pairwise.pairs[0].comparison.difference.level:g}% CI" if pairwise.pairs else "CI"
    diff = "mean diff" if kind == "mean" else "spread diff"
    eff = "Hedges' g" if kind == "mean" else "spread ratio"
    heads = ["A", "B", "n", "A" if kind == "mean" else "std A",
             "B" if kind == "mean" else "std B", f"{diff} [{ci}]", f"{eff} [{ci}]",
             "test", "p", f"p ({pairwise.correction})"]
    rows = []
    for pc in pairwise.pairs:
        c = pc.comparison
        a, b = (c.mean_a, c.mean_b) if kind == "mean" else (c.std_a, c.std_b)
        n = f"{c.n_a}" + (" pairs" if c.paired else f"/{c.n_b}")
        if pc.n_diverged_a or pc.n_diverged_b:
            n += f" ({pc.n_diverged_a}+{pc.n_diverged_b} div)"
        rows.append([pc.a, pc.b, n, _num(a), _num(b), _effect(c.difference),
                     _effect(c.effects[0]), c.primary, _p(c.p_value), _p(pc.p_adjusted)])
    title = (f"{pairwise.metric or 'metric'}: pairwise {kind} comparisons, p corrected "
             f"by {pairwise.correction} over {len(rows)} pairs")
    return f"{title}\n{table(heads, rows)}"


def _runs(v: Verdict) -> str:
    n = f"{v.n_a}" + ((" pair" if v.n_a == 1 else " pairs") if v.paired else f"/{v.n_b}")
    if v.n_diverged_a or v.n_diverged_b:
        n += f" ({v.n_diverged_a}+{v.n_diverged_b} div)"
    return n


def format_verdicts(verdicts: Sequence[Verdict]) -> str:
    """One line per claim: verdict, test, p (raw and corrected), effect, seeds; then one
    numbered line per claim with its statement, and notes (divergence, pairing)."""
    if not verdicts:
        return "no claims"
    ci = f"{100 * verdicts[0].effect.level:g}% CI"
    heads = ["#", "verdict", "claim", "metric", "n", f"effect [{ci}]", "test", "p",
             f"p ({verdicts[0].correction})", "seeds needed"]
    rows = []
    for i, v in enumerate(verdicts, 1):
        needed = "" if v.status != "inconclusive" else (
            str(v.seeds_needed) if v.seeds_needed is not None else "n/a")
        effect = f"{v.effect.name} {_effect(v.effect)}" if math.isfinite(v.effect.point) \
            or v.comparison is not None else "n/a"
        rows.append([str(i), v.status.upper(), v.claim, v.metric, _runs(v), effect,
                     v.test or "n/a", _p(v.p_value), _p(v.p_adjusted), needed])
    first = verdicts[0]
    tested = sum(v.comparison is not None for v in verdicts)
    title = (f"verdicts: two-sided tests at alpha={first.alpha:g} after "
             f"{first.correction} correction over {tested} testable claims")
    lines = [f"{title}\n{table(heads, rows)}"]
    for i, v in enumerate(verdicts, 1):
        text = getattr(v, "statement", "") or v.claim
        extra = [n for n in [v.note] if n]
        lines.append(f"{i}. {text}" + "".join(f"\n   note: {n}" for n in extra))
    return "\n".join(lines)


def format_sequential_verdicts(verdicts: Sequence[SequentialVerdict]) -> str:
    """One line per claim (verdict, look, seeds, z against its boundary), then each
    claim's statement and its path: z and boundary at every look."""
    if not verdicts:
        return "no claims"
    heads = ["#", "verdict", "claim", "metric", "look", "seeds", "test", "z", "boundary",
             "level"]
    rows = []
    for i, v in enumerate(verdicts, 1):
        last = v.looks[-1] if v.looks else None
        rows.append([str(i), v.status.upper(), v.claim, v.metric,
                     f"{last.look + 1}/{v.n_looks}" if last else f"0/{v.n_looks}",
                     str(v.seeds_used), v.test or "n/a",
                     _num(last.statistic) if last else "-",
                     _num(last.efficacy) if last else "-", _num(last.alpha) if last else "-"])
    first = verdicts[0]
    lines = [f"sequential verdicts: group-sequential tests at alpha={first.alpha:g}, "
             f"{first.correction}, looks up to {first.max_seeds} seeds per setting\n"
             f"{table(heads, rows)}"]
    for i, v in enumerate(verdicts, 1):
        path = ", ".join(f"{lk.seeds}: z={_num(lk.statistic)} (>= {_num(lk.efficacy)})"
                         for lk in v.looks)
        lines.append(f"{i}. {v.statement}" + (f"\n   path: {path}" if path else "")
                     + (f"\n   note: {v.note}" if v.note else ""))
    return "\n".join(lines)


def format_variance_table(rows: Sequence[SourceVariance]) -> str:
    """Variance by seed source; the test-noise baseline column when it was computed."""
    with_base = any(r.baseline is not None for r in rows)
    level = next((r.std_interval.level for r in rows if r.std_interval), 0.95)
    heads = ["group", "sources", "n", "mean", f"std [{100 * level:g}% CI]", "share"]
    if with_base:
        heads.append("test-noise std")
    out = []
    for r in rows:
        group = ", ".join(f"{k}={v}" for k, v in r.group.items()) or "-"
        std = (f"{_num(r.std)} [{_num(r.std_interval.low)}, {_num(r.std_interval.high)}]"
               if r.std_interval else _num(r.std))
        share = "-" if r.share is None else f"{100 * r.share:.0f}%"
        iv = getattr(r, "share_interval", None)
        if iv is not None:
            share += f" [{100 * iv.low:.0f}%, {100 * iv.high:.0f}%]"
        line = [group, "+".join(r.sources), str(r.n), _num(r.mean), std, share]
        if with_base:
            line.append(_num(r.baseline))
        out.append(line)
    return table(heads, out)
