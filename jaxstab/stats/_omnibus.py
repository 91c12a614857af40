"""Many settings at once: an omnibus test and a ranking."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import scipy.stats as st

from jaxstab.errors import UserError
from jaxstab.stats import _check, _study
from jaxstab.stats._base import SPREAD_MIN_N, Record, is_constant, quiet, snap
from jaxstab.stats._compare import KINDS, TestResult


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
    every = np.concatenate(out)
    return [snap(x, every) for x in out]


def _undefined(t: TestResult, why: str) -> TestResult:
    return TestResult(t.name, float("nan"), float("nan"), t.alternative, f"undefined: {why}")


def omnibus(data: Any, *, metric: str | None = None, metric_kind: str = "mean") -> Omnibus:
    """Test whether any of the settings differ (diverged runs left out).

    mean: Welch's ANOVA (primary; written here) and Kruskal-Wallis (scipy.stats.kruskal);
    spread: Brown-Forsythe (scipy.stats.levene, center="median"; primary) and
    Fligner-Killeen (scipy.stats.fligner). A setting without seed variation (decided by
    ``_base.is_constant``) makes Welch's weights 1/variance infinite: the primary is
    then Kruskal-Wallis, and the note says so.
    """
    _check.choice(metric_kind, "metric_kind", KINDS)
    gs = _study.groups(data, metric)
    xs = _clean(gs, SPREAD_MIN_N if metric_kind == "spread" else 2)
    every = np.concatenate(xs)
    flat = [g.name for g, x in zip(gs, xs, strict=True) if is_constant(x, every)]
    note = ""
    if metric_kind == "mean":
        f, _, _, p = welch_anova(*xs)
        kw = quiet(st.kruskal, *xs) if not is_constant(every) else None
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
    if len(flat) == len(xs) and (metric_kind == "spread" or is_constant(every)):
        note = "no variation in any setting: p = 1"
        tests = [TestResult(t.name, float("nan"), 1.0, t.alternative, note) for t in tests]
    elif metric_kind == "mean" and flat:
        why = f"no seed variation in {', '.join(flat)} (Welch's weights are 1/variance)"
        note = f"Welch ANOVA undefined: {why}; p from Kruskal-Wallis"
        tests = [tests[1], _undefined(tests[0], why)]
    elif not np.isfinite(tests[0].p_value):
        note = f"{tests[0].name} undefined for these data; p from {tests[1].name}"
        tests = [tests[1], _undefined(tests[0], "these data")]
    primary = tests[0]
    return Omnibus(metric or "", metric_kind, len(xs), tuple(x.size for x in xs),
                   primary.name, primary.p_value if np.isfinite(primary.p_value) else 1.0,
                   tuple(tests), note)
