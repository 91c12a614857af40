"""Many settings at once: an omnibus test and a ranking."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.stats as st

from jaxstab.errors import UserError
from jaxstab.stats import _check, _study
from jaxstab.stats._base import Record, quiet
from jaxstab.stats._compare import KINDS, TestResult
from jaxstab.stats._intervals import Interval, interval, std_interval
from jaxstab.stats._multiple import CORRECTIONS, adjust_pvalues, compare_groups


def welch_anova(*samples: np.ndarray) -> tuple[np.ndarray, int, np.ndarray, np.ndarray]:
    """Welch's heteroscedastic one-way ANOVA (Welch 1951), which scipy lacks.

    Samples lie along the last axis (leading axes are batched). Returns
    ``(F, df1, df2, p)``.
    """
    k = len(samples)
    n = np.array([s.shape[-1] for s in samples], dtype=float)
    m = np.stack([np.mean(s, axis=-1) for s in samples], axis=-1)
    v = np.stack([np.var(s, axis=-1, ddof=1) for s in samples], axis=-1)
    with np.errstate(all="ignore"):
        w = n / v
        total = w.sum(-1, keepdims=True)
        grand = (w * m).sum(-1, keepdims=True) / total
        between = (w * (m - grand) ** 2).sum(-1) / (k - 1)
        tmp = ((1 - w / total) ** 2 / (n - 1)).sum(-1)
        f = between / (1 + 2 * (k - 2) / (k**2 - 1) * tmp)
        df2 = (k**2 - 1) / (3 * tmp)
        p = st.f.sf(f, k - 1, df2)
    return f, k - 1, df2, p


@dataclass(frozen=True)
class Omnibus(Record):
    """Does any setting differ? ``p_value`` is the ``primary`` test's."""

    metric: str
    metric_kind: str
    k: int
    n: tuple[int, ...]
    primary: str
    p_value: float
    tests: tuple[TestResult, ...]
    note: str


def _clean(gs: list[_study.Group], min_n: int) -> list[np.ndarray]:
    out = []
    for g in gs:
        x = g.values[np.isfinite(g.values)]
        if x.size < min_n:
            raise UserError(f"{g.name}: need at least {min_n} finished runs, got {x.size}")
        out.append(x)
    return out


def omnibus(data: Any, *, metric: str | None = None, metric_kind: str = "mean") -> Omnibus:
    """Test whether any of the settings differ (diverged runs left out).

    mean: Welch's ANOVA (primary; written here) and Kruskal-Wallis (scipy.stats.kruskal);
    spread: Brown-Forsythe (scipy.stats.levene, center="median"; primary) and
    Fligner-Killeen (scipy.stats.fligner).
    """
    _check.choice(metric_kind, "metric_kind", KINDS)
    gs = _study.groups(data, metric)
    xs = _clean(gs, 3 if metric_kind == "spread" else 2)
    note = ""
    if metric_kind == "mean":
        f, _, _, p = welch_anova(*xs)
        kw = quiet(st.kruskal, *xs) if np.ptp(np.concatenate(xs)) > 0 else None
        tests = [TestResult("Welch ANOVA", float(f), float(p), "two-sided"),
                 TestResult("Kruskal-Wallis", float(kw.statistic) if kw else float("nan"),
                            float(kw.pvalue) if kw else 1.0, "two-sided")]
    else:
        bf = quiet(st.levene, *xs, center="median")
        fk = quiet(st.fligner, *xs, center="median")
        tests = [TestResult("Brown-Forsythe", float(bf.statistic), float(bf.pvalue),
                            "two-sided"),
                 TestResult("Fligner-Killeen", float(fk.statistic), float(fk.pvalue),
                            "two-sided")]
    constant = all(np.ptp(x) == 0 for x in xs)
    if constant and (metric_kind == "spread" or np.ptp(np.concatenate(xs)) == 0):
        note = "no variation in any setting: p = 1"
        tests = [TestResult(t.name, float("nan"), 1.0, t.alternative, note) for t in tests]
    elif not np.isfinite(tests[0].p_value):
        # Welch's weights are 1/variance: a setting without seed variation breaks them.
        note = f"{tests[0].name} undefined (a setting has no seed variation); " \
               f"p from {tests[1].name}"
        tests = [tests[1], tests[0]]
    primary = tests[0]
    return Omnibus(metric or "", metric_kind, len(xs), tuple(x.size for x in xs),
                   primary.name, primary.p_value if np.isfinite(primary.p_value) else 1.0,
                   tuple(tests), note)


@dataclass(frozen=True)
class Rank(Record):
    """``value`` is the mean (metric_kind="mean") or std ("spread"); ``p_adjusted`` is
    the corrected p-value of the comparison with the first-ranked setting."""

    rank: int
    name: str
    key: str
    n: int
    value: float
    interval: Interval
    p_vs_best: float | None
    p_adjusted: float | None
    tied_with_best: bool


@dataclass(frozen=True)
class Ranking(Record):
    metric: str
    metric_kind: str
    correction: str
    alpha: float
    ranks: tuple[Rank, ...]


def rank_settings(data: Any, *, metric: str | None = None, metric_kind: str = "mean",
                  higher_is_better: bool = True, correction: str = "holm",
                  alpha: float = 0.05, level: float = 0.95, rng: Any = None,
                  n_resamples: int = 9999) -> Ranking:
    """Order settings by mean (best first by ``higher_is_better``) or, for
    ``metric_kind="spread"``, by std (smallest first), and test each against the
    first with the primary test of ``compare``, corrected across the k-1 comparisons.
    A setting not significantly worse than the first is ``tied_with_best``."""
    _check.choice(metric_kind, "metric_kind", KINDS)
    _check.choice(correction, "correction", CORRECTIONS)
    alpha = _check.level(alpha, "alpha")
    gen = _check.rng(rng)
    gs = _study.groups(data, metric)
    xs = _clean(gs, 3 if metric_kind == "spread" else 2)
    if metric_kind == "mean":
        values = [float(np.mean(x)) for x in xs]
        order = np.argsort([-v if higher_is_better else v for v in values], kind="stable")
    else:
        values = [float(np.std(x, ddof=1)) for x in xs]
        order = np.argsort(values, kind="stable")
    best = gs[order[0]]
    ps = [compare_groups(best, gs[i], metric_kind=metric_kind, alternative="two-sided",
                         paired=None, level=level,
                         rng=gen, n_resamples=n_resamples).p_value for i in order[1:]]
    adjusted = adjust_pvalues(ps, method=correction)
    ranks = []
    for pos, i in enumerate(order):
        x = xs[i]
        iv = (interval(x, level=level, rng=gen, n_resamples=n_resamples)
              if metric_kind == "mean" else std_interval(x, level=level))
        p, q = (None, None) if pos == 0 else (float(ps[pos - 1]), float(adjusted[pos - 1]))
        ranks.append(Rank(pos + 1, gs[i].name, gs[i].key, x.size, values[i], iv, p, q,
                          pos == 0 or q >= alpha))
    return Ranking(metric or "", metric_kind, correction, alpha, tuple(ranks))
