"""Two-sample tests, vectorized: samples lie along the last axis, so one call runs one
comparison (1-D inputs) or a whole simulation (2-D inputs, one replication per row).

Every function takes ``(a, b, alternative, rng, n_resamples)`` and returns
``(statistic, p_value)``. ``alternative="greater"`` means a's mean (or spread) is
larger than b's.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import scipy.stats as st

from jaxstab.stats._base import quiet
from jaxstab.stats._check import bootstrap_batch
from jaxstab.stats._spread import std_ratio_test

Test = Callable[..., tuple[np.ndarray, np.ndarray]]


def _median_dev(x: np.ndarray) -> np.ndarray:
    return np.abs(x - np.median(x, axis=-1, keepdims=True))


def _batch(a: np.ndarray, b: np.ndarray) -> int:
    return bootstrap_batch(np.size(a) + np.size(b))


def _mean_diff(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.mean(x, axis=axis) - np.mean(y, axis=axis)


def _std_diff(x: np.ndarray, y: np.ndarray, axis: int = -1) -> np.ndarray:
    return np.std(x, axis=axis, ddof=1) - np.std(y, axis=axis, ddof=1)


def one_sided(sign: np.ndarray, p_two: np.ndarray, alternative: str) -> np.ndarray:
    """One-sided p-value from a two-sided test whose statistic is symmetric under the
    null (F = t^2, chi-square(1) = z^2): halve it on the claimed side."""
    if alternative == "two-sided":
        return p_two
    want = 1.0 if alternative == "greater" else -1.0
    return np.where(sign == want, p_two / 2, 1 - p_two / 2)


# --- means, independent samples --------------------------------------------------------

def welch_t(a, b, alternative, rng=None, n_resamples=None):
    r = quiet(st.ttest_ind, a, b, axis=-1, equal_var=False, alternative=alternative)
    return r.statistic, r.pvalue


def mann_whitney(a, b, alternative, rng=None, n_resamples=None):
    r = quiet(st.mannwhitneyu, a, b, axis=-1, alternative=alternative, method="auto")
    return r.statistic, r.pvalue


def permutation(a, b, alternative, rng, n_resamples):
    r = quiet(st.permutation_test, (a, b), _mean_diff, vectorized=True, axis=-1,
              batch=_batch(a, b), n_resamples=n_resamples, alternative=alternative, rng=rng)
    return r.statistic, r.pvalue


# --- means, paired samples -------------------------------------------------------------

def paired_t(a, b, alternative, rng=None, n_resamples=None):
    r = quiet(st.ttest_rel, a, b, axis=-1, alternative=alternative)
    return r.statistic, r.pvalue


def wilcoxon(a, b, alternative, rng=None, n_resamples=None):
    r = quiet(st.wilcoxon, a, b, axis=-1, alternative=alternative, zero_method="wilcox")
    return r.statistic, r.pvalue


def paired_permutation(a, b, alternative, rng, n_resamples):
    # permutation_type="samples" swaps a_i and b_i within each seed: a sign-flip test.
    r = quiet(st.permutation_test, (a, b), _mean_diff, vectorized=True, axis=-1,
              batch=_batch(a, b), permutation_type="samples", n_resamples=n_resamples,
              alternative=alternative, rng=rng)
    return r.statistic, r.pvalue


# --- spread, independent samples -------------------------------------------------------

def std_ratio_permutation(a, b, alternative, rng, n_resamples):
    # The primary spread test (jaxstab.stats._spread says why it replaced Brown-Forsythe).
    return std_ratio_test(a, b, alternative, rng, n_resamples, paired=False)


def brown_forsythe(a, b, alternative, rng=None, n_resamples=None):
    # Levene's test about the median. With two groups F equals the squared pooled t of
    # the absolute deviations, so its one-sided form takes the sign of their means.
    r = quiet(st.levene, a, b, center="median", axis=-1)
    sign = np.sign(_median_dev(a).mean(-1) - _median_dev(b).mean(-1))
    return r.statistic, one_sided(sign, r.pvalue, alternative)


def fligner_killeen(a, b, alternative, rng=None, n_resamples=None):
    r = quiet(st.fligner, a, b, center="median", axis=-1)
    # The sign of the difference of mean normal scores, the quantity the test squares.
    dev = np.concatenate([_median_dev(a), _median_dev(b)], axis=-1)
    n = dev.shape[-1]
    scores = st.norm.ppf(0.5 + st.rankdata(dev, axis=-1) / (2 * (n + 1)))
    na = np.shape(a)[-1]
    sign = np.sign(scores[..., :na].mean(-1) - scores[..., na:].mean(-1))
    return r.statistic, one_sided(sign, r.pvalue, alternative)


# --- spread, paired samples ------------------------------------------------------------

def paired_std_ratio_permutation(a, b, alternative, rng, n_resamples):
    return std_ratio_test(a, b, alternative, rng, n_resamples, paired=True)


def paired_brown_forsythe(a, b, alternative, rng=None, n_resamples=None):
    r = quiet(st.ttest_rel, _median_dev(a), _median_dev(b), axis=-1, alternative=alternative)
    return r.statistic, r.pvalue


def paired_centered_permutation(a, b, alternative, rng, n_resamples):
    # Each sample is centered on its median first, so that a difference of means does
    # not leak into the difference of spreads when a_i and b_i are swapped.
    ac = a - np.median(a, axis=-1, keepdims=True)
    bc = b - np.median(b, axis=-1, keepdims=True)
    r = quiet(st.permutation_test, (ac, bc), _std_diff, vectorized=True, axis=-1,
              batch=_batch(a, b), permutation_type="samples", n_resamples=n_resamples,
              alternative=alternative, rng=rng)
    return r.statistic, r.pvalue


# (metric_kind, paired) -> [(name, test)], primary first.
TESTS: dict[tuple[str, bool], list[tuple[str, Test]]] = {
    ("mean", False): [("Welch t", welch_t), ("Mann-Whitney U", mann_whitney),
                      ("permutation", permutation)],
    ("mean", True): [("paired t", paired_t), ("Wilcoxon signed-rank", wilcoxon),
                     ("paired permutation", paired_permutation)],
    ("spread", False): [("permutation (std ratio)", std_ratio_permutation),
                        ("Brown-Forsythe", brown_forsythe),
                        ("Fligner-Killeen", fligner_killeen)],
    ("spread", True): [("paired permutation (std ratio)", paired_std_ratio_permutation),
                       ("paired Brown-Forsythe", paired_brown_forsythe),
                       ("paired permutation (median-centered)",
                        paired_centered_permutation)],
}
