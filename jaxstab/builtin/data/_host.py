"""Host-side transforms (NumPy, one run at a time): split, label noise, imbalanced-learn
resampling of the training split only, and padding to a fixed size per setting."""

from __future__ import annotations

import numpy as np

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jaxstab.builtin.data._config import DataConfig

# Resamplers that exist only as NumPy code (imbalanced-learn): their datasets run on the host.
HOST_RESAMPLERS = ("random_over", "smote", "random_under")


def _sampler(name: str, random_state: int, y: np.ndarray):
    from imblearn.over_sampling import SMOTE, RandomOverSampler
    from imblearn.under_sampling import RandomUnderSampler

    if name == "random_over":
        return RandomOverSampler(random_state=random_state)
    if name == "random_under":
        return RandomUnderSampler(random_state=random_state)
    # SMOTE interpolates between a minority example and one of its k nearest minority
    # neighbours (k = 5 by default); a tiny minority class gets a smaller k.
    k = min(5, int(np.bincount(y).min(initial=len(y))) - 1)
    if k < 1:
        return RandomOverSampler(random_state=random_state)
    return SMOTE(random_state=random_state, k_neighbors=k)


def max_train_rows(cfg: DataConfig) -> int:
    """Oversampling brings every class up to the largest: at most k x the split. Every
    handling pads to that size, so that all of them share one compiled program."""
    return cfg.n_classes * cfg.n_train


def balanced_weights(y: np.ndarray, k: int) -> np.ndarray:
    """scikit-learn's ``class_weight="balanced"``: n / (classes present x n_c)."""
    from sklearn.utils.class_weight import compute_class_weight

    present = np.unique(y)
    w = compute_class_weight("balanced", classes=present, y=y)
    table = np.zeros(k)
    table[present] = w
    return table[y]


def finish(cfg: DataConfig, seeds: dict, hp: dict, x: np.ndarray, y: np.ndarray,
           k: int) -> dict:
    from sklearn.model_selection import train_test_split

    if cfg.n_test:
        x_tr, x_te, y_tr, y_te = train_test_split(x, y, test_size=cfg.n_test,
                                                  random_state=seeds["split"])
    else:
        x_tr, y_tr, x_te, y_te = x, y, None, None
    if hp["label_noise"] > 0:
        rng = np.random.default_rng(seeds["resample"])
        flip = rng.random(len(y_tr)) < hp["label_noise"]
        y_tr = np.where(flip, (y_tr + rng.integers(1, k, len(y_tr))) % k, y_tr)
    if cfg.resample in HOST_RESAMPLERS and len(np.unique(y_tr)) > 1:
        x_tr, y_tr = _sampler(cfg.resample, seeds["resample"], y_tr).fit_resample(x_tr, y_tr)
    size = max_train_rows(cfg)
    out = pad("train", x_tr, y_tr, size)
    # Per-example loss weights: balanced class weights, or ones.
    w = np.zeros(size, np.float32)
    w[:len(y_tr)] = (balanced_weights(y_tr.astype(np.int64), k)
                     if cfg.resample == "class_weight" else 1.0)
    out["w_train"] = w
    if x_te is not None:
        out.update(pad("test", x_te, y_te, len(y_te)))
    return out


def pad(part: str, x: np.ndarray, y: np.ndarray, size: int) -> dict:
    n = len(y)
    xp = np.zeros((size, x.shape[1]), np.float32)
    xp[:n] = x
    yp = np.zeros(size, np.float32)
    yp[:n] = y
    m = np.zeros(size, np.float32)
    m[:n] = 1
    return {f"x_{part}": xp, f"y_{part}": yp, f"m_{part}": m}
