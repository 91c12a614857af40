"""Many settings against one: the best (which settings are tied with it?), a control,
and a ranking. Each family has k - 1 comparisons, not k (k - 1) / 2."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from jaxstab.errors import UserError
from jaxstab.stats import _check, _study
from jaxstab.stats._base import SPREAD_MIN_N, Record
from jaxstab.stats._compare import KINDS, Comparison, reverse
from jaxstab.stats._intervals import Interval, interval, std_interval
from jaxstab.stats._multiple import CORRECTIONS, adjust_pvalues, compare_groups


@dataclass(frozen=True)
class Rank(Record):
    """``value`` is the mean (metric_kind="mean") or std ("spread"). ``p_vs_best`` is
    the two-sided p of the comparison with the first-ranked setting (descriptive);
    ``p_adjusted`` is the evidence that this setting is not the best: one-sided tests
    "j is better" against every other setting j, corrected over all k (k - 1) ordered
    pairs, smallest taken. ``tied_with_best`` when it is at least alpha: the tied set
    then holds every truly best setting, jointly, with probability >= 1 - alpha
    (subset selection with a familywise correction; see ``not_best_p``).
    ``comparison``: this setting (A) against the first-ranked (B); None for the first.
    """

    rank: int
    name: str
    key: str
    n: int
    value: float
    interval: Interval
    p_vs_best: float | None
    p_adjusted: float | None
    tied_with_best: bool
    comparison: Comparison | None = None


@dataclass(frozen=True)
class Ranking(Record):
    metric: str
    metric_kind: str
    correction: str
    alpha: float
    ranks: tuple[Rank, ...]


@dataclass(frozen=True)
class Versus(Record):
    """One setting against a reference (``name``'s comparison is it against the
    reference: A = this setting, B = the reference)."""

    name: str
    key: str
    comparison: Comparison
    p_value: float
    p_adjusted: float
    significant: bool


@dataclass(frozen=True)
class VersusControl(Record):
    """Every other setting against ``control``, two-sided, corrected over k - 1."""

    metric: str
    metric_kind: str
    control: str
    control_key: str
    correction: str
    alpha: float
    rows: tuple[Versus, ...]


def _options(metric_kind: Any, correction: Any, alpha: Any, level: Any) -> tuple[float, float]:
    _check.choice(metric_kind, "metric_kind", KINDS)
    _check.choice(correction, "correction", CORRECTIONS)
    return _check.level(alpha, "alpha"), _check.level(level)


def _pair_table(gs, metric_kind, level, gen, n_resamples, pairs=None) -> dict:
    """(i, j) -> Comparison of gs[i] against gs[j], for i < j; reuses ``pairs``."""
    out = {}
    for i in range(len(gs)):
        for j in range(i + 1, len(gs)):
            c = pairs.get((gs[i].key, gs[j].key)) if pairs else None
            out[i, j] = c or compare_groups(gs[i], gs[j], metric_kind=metric_kind,
                                            alternative="two-sided", paired=None,
                                            level=level, rng=gen, n_resamples=n_resamples)
    return out


def _better_p(table: dict, j: int, i: int, better: str) -> float:
    """One-sided p that setting j is better than i, from the two-sided test (its
    statistics are symmetric under the null: p/2 on the observed side)."""
    c = table[(j, i)] if (j, i) in table else table[(i, j)]
    direction = c.direction if (j, i) in table else \
        {"greater": "less", "less": "greater"}.get(c.direction, "equal")
    p = c.p_value
    return p / 2 if direction == better else 1 - p / 2 if direction != "equal" else 1.0


def not_best_p(table: dict, k: int, better: str, correction: str) -> list[float]:
    """Per setting i: the smallest corrected p of "j is better than i" over every j,
    the correction taken over all k (k - 1) ordered pairs at once. The best set is every
    i with that p >= alpha. Every truly best setting i has all its k - 1 hypotheses
    "j is not better than i" true, so one familywise correction over the k (k - 1)
    hypotheses keeps all the true bests in the set jointly with probability >= 1 - alpha
    (correcting each setting's k - 1 on their own held that per setting only: with k
    equal settings, some setting was left out in 14-44% of studies at k = 5-15)."""
    ps = np.array([[_better_p(table, j, i, better) if j != i else np.nan
                    for j in range(k)] for i in range(k)])
    off = ~np.eye(k, dtype=bool)
    adjusted = np.full((k, k), np.inf)
    adjusted[off] = adjust_pvalues(ps[off], method=correction)
    return [float(min(adjusted[i].min(), 1.0)) for i in range(k)]


def rank_settings(data: Any, *, metric: str | None = None, metric_kind: str = "mean",
                  higher_is_better: bool = True, correction: str = "holm",
                  alpha: float = 0.05, level: float = 0.95, rng: Any = None,
                  n_resamples: int = 9999, pairs: Mapping | None = None) -> Ranking:
    """Order settings by mean (best first by ``higher_is_better``) or, for
    ``metric_kind="spread"``, by std (smallest first), and find the settings tied with
    the best (see ``Rank``). ``pairs``: precomputed ``{(key_a, key_b): Comparison}``."""
    alpha, level = _options(metric_kind, correction, alpha, level)
    gen = _check.rng(rng)
    gs = _study.groups(data, metric)
    min_n = SPREAD_MIN_N if metric_kind == "spread" else 2
    short = [g.name for g in gs if g.n_finished < min_n]
    if short:
        raise UserError(f"{short[0]}: need at least {min_n} finished runs")
    xs = [g.values[np.isfinite(g.values)] for g in gs]
    if metric_kind == "mean":
        values = [float(np.mean(x)) for x in xs]
        order = np.argsort([-v if higher_is_better else v for v in values], kind="stable")
        better = "greater" if higher_is_better else "less"
    else:
        values = [float(np.std(x, ddof=1)) for x in xs]
        order = np.argsort(values, kind="stable")
        better = "less"
    table = _pair_table(gs, metric_kind, level, gen, n_resamples, pairs)
    p_not_best = not_best_p(table, len(gs), better, correction)
    first = int(order[0])
    ranks = []
    for pos, i in enumerate(order):
        i = int(i)
        iv = (interval(xs[i], level=level, rng=gen, n_resamples=n_resamples)
              if metric_kind == "mean" else std_interval(xs[i], level=level))
        comp = None if pos == 0 else _oriented(table, i, first)
        ranks.append(Rank(pos + 1, gs[i].name, gs[i].key, xs[i].size, values[i], iv,
                          None if comp is None else comp.p_value, p_not_best[i],
                          p_not_best[i] >= alpha, comp))
    return Ranking(metric or "", metric_kind, correction, alpha, tuple(ranks))


def _oriented(table: dict, i: int, j: int) -> Comparison:
    """gs[i] against gs[j] (A = i), from the table in either orientation."""
    return table[(i, j)] if (i, j) in table else reverse(table[(j, i)])


def _find_control(gs: Sequence[_study.Group], control: Any, data: Any) -> int:
    if isinstance(control, str):
        hits = [i for i, g in enumerate(gs) if control in (g.name, g.key)]
    elif isinstance(control, Mapping):
        settings = _study.settings_of(data, "data")
        target = _study.find(settings, control, "control").key
        hits = [i for i, g in enumerate(gs) if g.key == target]
    else:
        raise UserError(f"control: need a dict of factor values or a setting name, got "
                        f"{type(control).__name__}")
    if len(hits) != 1:
        raise UserError(f"control: {control!r} matches {len(hits)} settings; it must "
                        f"select exactly one")
    return hits[0]


def compare_to_control(data: Any, control: Any, *, metric: str | None = None,
                       metric_kind: str = "mean", correction: str = "holm",
                       alpha: float = 0.05, level: float = 0.95, rng: Any = None,
                       n_resamples: int = 9999, pairs: Mapping | None = None
                       ) -> VersusControl:
    """Each setting against ``control`` (factor values, or a name for ``{name:
    values}`` data) with compare's primary two-sided test, corrected over the k - 1
    comparisons (Dunnett's family, with Holm instead of the multivariate t: Dunnett
    assumes normal data with equal variances). Diverged runs are left out."""
    alpha, level = _options(metric_kind, correction, alpha, level)
    gen = _check.rng(rng)
    gs = _study.groups(data, metric)
    c = _find_control(gs, control, data)
    comps = []
    for i, g in enumerate(gs):
        if i == c:
            continue
        known = None
        if pairs and (g.key, gs[c].key) in pairs:
            known = pairs[(g.key, gs[c].key)]
        elif pairs and (gs[c].key, g.key) in pairs:
            known = reverse(pairs[(gs[c].key, g.key)])
        comps.append((g, known or compare_groups(
            g, gs[c], metric_kind=metric_kind, alternative="two-sided", paired=None,
            level=level, rng=gen, n_resamples=n_resamples)))
    adjusted = adjust_pvalues([cp.p_value for _, cp in comps], method=correction)
    rows = tuple(Versus(g.name, g.key, cp, cp.p_value, float(q), bool(q < alpha))
                 for (g, cp), q in zip(comps, adjusted, strict=True))
    return VersusControl(metric or "", metric_kind, gs[c].name, gs[c].key, correction,
                         alpha, rows)

