"""Variance by seed source, and the test-set sampling-noise baseline."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import numpy as np

from jaxstab.errors import UserError
from jaxstab.stats import _base, _check, _study
from jaxstab.stats._base import Record
from jaxstab.stats._intervals import Interval, std_interval
from jaxstab.stats._noise import BINOMIAL, CURVE, VARYING, noise_baselines

SOURCES = ("init", "order", "dropout", "split", "resample", "data")


def test_noise_baseline(p: float, n_test: int) -> float:
    """std of an accuracy measured on ``n_test`` independent test examples when the true
    accuracy is ``p``: sqrt(p (1 - p) / n_test) (binomial; Jordan 2023). An observed
    std across seeds near this is mostly test-set sampling noise, not training noise."""
    try:
        p = float(p)
    except (TypeError, ValueError):
        raise UserError(f"p: must be a number in [0, 1], got {p!r}") from None
    if not 0.0 <= p <= 1.0:
        raise UserError(f"p: must be an accuracy in [0, 1], got {p!r}")
    n_test = _check.positive_int(n_test, "n_test")
    return math.sqrt(p * (1 - p) / n_test)


test_noise_baseline.__test__ = False  # a statistic, not a pytest test


@dataclass(frozen=True)
class SourceVariance(Record):
    """The spread of a metric when only ``sources`` vary (the others stay at seed 0).

    ``share``: this source's variance over the sum of the one-source variances of its
    group (None for a setting that varies several sources). ``baseline``: the std that
    test-set sampling alone gives (``baseline_method``, see ``noise_baseline``): from
    the per-example curve ``test_correct`` when recorded (the fixed-test-set formula
    unless ``split`` or ``data`` varies), else sqrt(p(1-p)/n_test) at this setting's
    mean when ``n_test`` was given, with ``baseline_note`` saying which and why.
    """

    group: dict[str, Any]
    sources: tuple[str, ...]
    n: int
    n_diverged: int
    mean: float
    std: float
    std_interval: Interval | None
    variance: float
    share: float | None
    baseline: float | None
    baseline_method: str = ""
    baseline_note: str = ""
    share_interval: Interval | None = None  # see share_intervals (None: no share)


SHARE_METHOD = "F (Satterthwaite)"


def share_intervals(variances: Any, dofs: Any, *, level: float = 0.95
                    ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(share, low, high) of each source's variance in the sum of the one-source
    variances: ``variances`` and ``dofs`` (seeds - 1) of shape (..., k), one entry per
    source, vectorized over leading axes.

    For normal runs, v_j / sigma_j^2 ~ chi2(nu_j) / nu_j independently (the sources
    are separate settings with their own draws). The other sources' sum R is
    approximated by a scaled chi-square with Satterthwaite's degrees of freedom, so
    (v_j / R) / (sigma_j^2 / tau^2) ~ F(nu_j, nu_R) and the interval of the ratio
    sigma_j^2 / tau^2 maps monotonically to one of the share rho / (1 + rho). Exact with
    two sources; scipy has no interval for a share of a sum of variances, and a
    percentile bootstrap of a variance undercovers at 8-16 seeds (docs/statistics.md).
    NaN where a share is undefined (a source alone, or no spread at all)."""
    from scipy import stats as st

    v = np.asarray(variances, float)
    nu = np.asarray(dofs, float)
    total = v.sum(axis=-1, keepdims=True)
    with np.errstate(all="ignore"):
        share = v / total
        rest = total - v
        parts = (v**2 / nu).sum(axis=-1, keepdims=True) - v**2 / nu
        nu_rest = rest**2 / parts
        ratio = v / rest
        alpha = 1.0 - level
        low = ratio / st.f.ppf(1 - alpha / 2, nu, nu_rest)
        high = ratio / st.f.ppf(alpha / 2, nu, nu_rest)
        low, high = low / (1 + low), high / (1 + high)
    bad = ~(np.isfinite(low) & np.isfinite(high) & (rest > 0) & (nu >= 1))
    share = np.where(np.isfinite(share), share, np.nan)
    return share, np.where(bad, np.nan, low), np.where(bad, np.nan, high)


def _source_order(sources: tuple[str, ...]) -> tuple[int, ...]:
    return tuple(SOURCES.index(s) if s in SOURCES else len(SOURCES) for s in sources)


def variance_by_source(results: Any, *, metric: str, level: float = 0.95,
                       n_test: int | None = None, vary_factor: str = "vary"
                       ) -> tuple[SourceVariance, ...]:
    """Per seed source, the std of ``metric`` over seeds in the setting that varies only
    that source, with its chi-square interval (scipy.stats.chi2; exact for normal data)
    and its share of the summed one-source variances.

    Settings are grouped by their factors other than ``vary_factor``, so a study that
    crosses ``vary`` with, say, the learning rate gives one breakdown per learning
    rate. Settings varying several sources (e.g. all of them) are listed with their
    std, no share; comparing their variance with the sum of the parts shows how far
    the sources add up. Each share has an interval (``share_intervals``). Diverged
    runs are left out and counted.
    """
    level = _check.level(level)
    if n_test is not None:
        n_test = _check.positive_int(n_test, "n_test")
    settings = _study.settings_of(results)
    by_group: dict[str, list[Any]] = {}
    for s in settings:
        rest = {k: v for k, v in s.factors.items() if k != vary_factor}
        by_group.setdefault(json.dumps(_study._plain(rest), sort_keys=True, default=str),
                            []).append(s)
    if not any(len(s.sources) == 1 for s in settings):
        raise UserError("results: no setting varies exactly one seed source; variance by "
                        f"source needs a study with a `{vary_factor}` factor")
    rows: list[SourceVariance] = []
    for members in by_group.values():
        stats = []
        for s in sorted(members, key=lambda s: (len(s.sources),
                                                 _source_order(tuple(s.sources)))):
            values = _study.metric_values(s, metric)
            x = values[np.isfinite(values)]
            std = _base.std(x)
            stats.append((s, x, std, values.size - x.size))
        ones = [i for i, (s, _, std, _) in enumerate(stats)
                if len(s.sources) == 1 and math.isfinite(std)]
        single = sum(stats[i][2]**2 for i in ones)
        _, lows, highs = share_intervals([stats[i][2]**2 for i in ones],
                                         [stats[i][1].size - 1 for i in ones], level=level)
        bounds = dict(zip(ones, zip(lows.tolist(), highs.tolist())))
        for i, (s, x, std, n_div) in enumerate(stats):
            mean = float(np.mean(x)) if x.size else float("nan")
            share = (std**2 / single if len(s.sources) == 1 and single > 0
                     and math.isfinite(std) else None)
            lo, hi = bounds.get(i, (math.nan, math.nan))
            share_iv = (Interval(share, lo, hi, SHARE_METHOD, level)
                        if share is not None and math.isfinite(lo) else None)
            baseline, method, why = _baseline(s, x, metric, n_test)
            rows.append(SourceVariance(
                group={k: v for k, v in s.factors.items() if k != vary_factor},
                sources=tuple(s.sources), n=x.size, n_diverged=n_div, mean=mean, std=std,
                std_interval=std_interval(x, level=level) if x.size >= 2 else None,
                variance=std**2, share=share, baseline=baseline, baseline_method=method,
                baseline_note=why, share_interval=share_iv))
    return tuple(rows)


def _proportion_of(x: np.ndarray, n_test: int) -> bool:
    """Whether every value is a count of ``n_test`` examples over n_test (k / n_test up
    to float32 rounding): the only metrics a binomial test-noise baseline describes."""
    if not x.size or np.any((x < 0) | (x > 1)):
        return False
    k = x * n_test
    return bool(np.all(np.abs(k - np.round(k)) <= 1e-4 * max(n_test, 1)))


def _baseline(setting: Any, x: np.ndarray, metric: str, n_test: int | None
              ) -> tuple[float | None, str, str]:
    curves = getattr(setting, "curves", None) or {}
    if CURVE in curves:
        correct = np.asarray(curves[CURVE], dtype=float)
        n = correct.shape[-1] if correct.ndim == 2 else 0
        if not n or not _proportion_of(x, n):
            return None, "", (f"{metric} is not a share of the {n} test examples in "
                              f"`{CURVE}`: no binomial test-noise baseline")
        (row,) = noise_baselines(SimpleNamespace(settings=[setting]))
        return row.baseline, row.method, row.note
    if n_test is None or not x.size:
        return None, "", ""
    if not _proportion_of(x, n_test):
        # A loss (or any metric that is not k / n_test) has no binomial noise: clamping
        # its mean into [0, 1] gave a baseline of exactly 0 for a mean loss above 1.
        return None, "", (f"{metric} is not a proportion of n_test = {n_test} examples "
                          f"(values k / {n_test} in [0, 1]): no binomial test-noise "
                          f"baseline")
    mean = float(np.mean(x))
    varies = any(src in VARYING for src in setting.sources)
    why = (f"no `{CURVE}` recorded: sqrt(p(1-p)/n_test) with n_test = {n_test}"
           + ("" if varies else ", an upper bound for a fixed test set"))
    return test_noise_baseline(min(max(mean, 0.0), 1.0), n_test), BINOMIAL, why
