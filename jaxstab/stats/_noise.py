"""Test-set noise: how much of the seed-to-seed std of a test accuracy is the finite
test set rather than training (Jordan 2023, "On the variance of neural network training
with respect to test sets and distributions")."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from jaxstab.errors import UserError
from jaxstab.stats import _study
from jaxstab.stats._base import Record

CURVE = "test_correct"  # per run: 0/1 per test example, shape (n_seeds, n_test)
VARYING = ("split", "data")  # sources that draw a new test set per seed
FIXED = "fixed test set (Jordan 2023)"
BINOMIAL = "binomial"


@dataclass(frozen=True)
class NoiseBaseline(Record):
    """``observed_std``: std over finished runs of the test accuracy; ``baseline``: the
    std test-set sampling alone gives; ``method``: ``FIXED`` = sqrt(sum_i p_i (1 - p_i))
    / n with p_i the share of runs that got example i right (k/(k-1) unbiased), or
    ``BINOMIAL`` = sqrt(p (1 - p) / n) where the test set is drawn anew per seed;
    ``ratio`` = baseline / observed_std (near 1: mostly test-set noise). None with the
    reason in ``note`` when it cannot be computed."""

    setting: str
    key: str
    n_runs: int
    n_test: int | None
    accuracy: float | None
    observed_std: float | None
    baseline: float | None
    ratio: float | None
    method: str
    note: str


def _check_inputs(correct: Any, test_set_varies: Any) -> np.ndarray:
    if not isinstance(test_set_varies, (bool, np.bool_)):
        raise UserError(f"test_set_varies: must be True or False, got {test_set_varies!r}")
    try:
        arr = np.asarray(correct, dtype=float)
    except (TypeError, ValueError):
        raise UserError("correct: need a (n_runs, n_test) array of 0/1 values") from None
    if arr.ndim != 2 or arr.shape[1] < 1:
        raise UserError(f"correct: need shape (n_runs, n_test), got {arr.shape}")
    fin = arr[np.all(np.isfinite(arr), axis=1)]
    if fin.size and not np.all((fin == 0) | (fin == 1)):
        raise UserError("correct: values must be 0 or 1 (per test example, per run)")
    return fin


def noise_baseline(correct: Any, *, test_set_varies: bool = False,
                   setting: str = "", key: str = "") -> NoiseBaseline:
    """Test-noise baseline from per-example correctness ``correct`` (runs x examples;
    rows with a non-finite value, e.g. diverged runs, are left out).

    ``test_set_varies=False``: the same examples in the same order in every run, so
    the fixed-test-set formula sqrt(sum_i p_i (1 - p_i)) / n applies (never larger
    than the binomial one); True (``split`` or ``data`` varies): sqrt(p (1 - p) / n).
    """
    x = _check_inputs(correct, test_set_varies)
    k, n = x.shape
    if k < 2:
        return NoiseBaseline(setting, key, k, n, None, None, None, None, "",
                             f"{k} finished run(s) with test correctness: 2 needed")
    acc = x.mean(axis=1)
    observed = float(np.std(acc, ddof=1))
    p = float(acc.mean())
    if test_set_varies:
        base, method = math.sqrt(p * (1 - p) / n), BINOMIAL
        note = "the test set is drawn anew per seed (split or data varies)"
    else:
        pi = x.mean(axis=0)
        # p_i (1 - p_i) from k runs is biased low by (k - 1) / k.
        base = math.sqrt(k / (k - 1) * float(np.sum(pi * (1 - pi)))) / n
        method, note = FIXED, "the same test examples in every run"
    ratio = base / observed if observed > 0 else None
    if ratio is None:
        note += "; no seed variation in the test accuracy"
    return NoiseBaseline(setting, key, k, n, p, observed, base, ratio, method, note)


def noise_baselines(results: Any) -> tuple[NoiseBaseline, ...]:
    """``noise_baseline`` for every setting of study results, from the per-run curve
    ``test_correct``; the formula follows the setting's seed sources. A setting
    without that curve gets no baseline and a note saying why."""
    out = []
    for s in _study.settings_of(results):
        name = _study.label(s.factors) or s.key
        curves = getattr(s, "curves", None) or {}
        if CURVE not in curves:
            out.append(NoiseBaseline(
                name, s.key, int(len(np.atleast_1d(s.seeds))), None, None, None, None,
                None, "", f"no per-example test correctness (`{CURVE}`) recorded: the "
                "baseline needs it (sqrt(p(1-p)/n) would only bound it from above for a "
                "fixed test set)"))
            continue
        correct = np.array(curves[CURVE], dtype=float, copy=True)
        if correct.ndim == 2:
            diverged = np.asarray(getattr(s, "diverged", np.zeros(len(correct), bool)), bool)
            if diverged.shape == (correct.shape[0],):
                correct[diverged] = np.nan
        varies = any(src in VARYING for src in s.sources)
        try:
            out.append(noise_baseline(correct, test_set_varies=varies, setting=name,
                                      key=s.key))
        except UserError as err:
            out.append(NoiseBaseline(name, s.key, 0, None, None, None, None, None, "",
                                     f"`{CURVE}` unusable: {err}"))
    return tuple(out)
