"""The article's synthetic recipes, drawn anew per seed from the `data` source."""

from __future__ import annotations

import numpy as np

from jaxstab.builtin.data._host import pad
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jaxstab.builtin.data._config import DataConfig


def uniform_coin(cfg: DataConfig, keys: dict, hp: dict) -> dict:
    """Examples 2 and 3: ``np.random.rand(n, d)`` features, ``randint(0, 2, n)`` labels."""
    import jax
    import jax.numpy as jnp

    kx, ky = jax.random.split(keys["data"])
    x = jax.random.uniform(kx, (cfg.n_samples, cfg.n_features), jnp.float32)
    y = jax.random.bernoulli(ky, 0.5, (cfg.n_samples,)).astype(jnp.float32)
    out = {}
    if cfg.n_test:
        perm = jax.random.permutation(keys["split"], cfg.n_samples)
        test, train = perm[: cfg.n_test], perm[cfg.n_test:]
        out.update(x_test=x[test], y_test=y[test], m_test=jnp.ones(cfg.n_test, jnp.float32))
        x, y = x[train], y[train]
    # The noise rate is a traced hyperparameter; at rate 0 nothing flips.
    flip = jax.random.uniform(keys["resample"], y.shape) < hp["label_noise"]
    y = jnp.where(flip, 1.0 - y, y)
    out.update(x_train=x, y_train=y, m_train=jnp.ones(y.shape, jnp.float32))
    return out


def article_ex1(cfg: DataConfig, seeds: dict, hp: dict) -> dict:
    """Example 1: uniform features, labels 90% zeros then 10% ones, a scikit-learn split,
    imbalanced-learn's oversampling of the training split only."""
    rng = np.random.default_rng(seeds["data"])
    x = rng.random((cfg.n_samples, cfg.n_features))
    n_pos = cfg.n_samples // 10
    y = np.concatenate([np.zeros(cfg.n_samples - n_pos), np.ones(n_pos)])
    # imported here: scikit-learn and imbalanced-learn take seconds to import, and only
    # host-drawn datasets need them
    from imblearn.over_sampling import RandomOverSampler
    from sklearn.model_selection import train_test_split

    x_tr, x_te, y_tr, y_te = train_test_split(
        x, y, test_size=cfg.test_size, random_state=seeds["split"])
    if hp["label_noise"] > 0:
        noise = np.random.default_rng(seeds["resample"])
        flip = noise.random(y_tr.shape) < hp["label_noise"]
        y_tr = np.where(flip, 1.0 - y_tr, y_tr)
    if cfg.resample == "random_over" and len(np.unique(y_tr)) > 1:
        sampler = RandomOverSampler(random_state=seeds["resample"])
        x_tr, y_tr = sampler.fit_resample(x_tr, y_tr)
    # Oversampling at most doubles the training split; pad to that so every seed of a
    # setting has the same shape (one compiled program).
    size = max_train_rows(cfg)
    return {**pad("train", x_tr, y_tr, size), **pad("test", x_te, y_te, len(y_te))}


def max_train_rows(cfg: DataConfig) -> int:
    return 2 * cfg.n_train if cfg.resample != "none" else cfg.n_train
