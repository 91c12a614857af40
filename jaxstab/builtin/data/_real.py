"""Real datasets that install offline: scikit-learn's bundled sets and MNIST-1D.

Each is loaded once per process (MNIST-1D is generated locally with the ``mnist1d``
package's ``make_dataset`` and cached in a temporary folder, never downloaded) and
standardized as a whole. Seed sources act on it as they do on synthetic data:
``data`` picks which ``n_samples`` rows a run sees (all of them when ``n_samples`` is the
dataset's size), ``split`` the train/test split, ``resample`` the label-noise draws.
"""

from __future__ import annotations

import functools
import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from jaxstab.builtin.data._config import DataConfig


def _standardize(x: np.ndarray) -> np.ndarray:
    std = x.std(axis=0)
    return (x - x.mean(axis=0)) / np.where(std > 0, std, 1.0)


def _mnist1d() -> tuple[np.ndarray, np.ndarray]:
    from mnist1d.data import get_dataset_args, make_dataset

    args = get_dataset_args()  # the paper's recipe: 5000 examples of length 40, seed 42
    tag = hashlib.sha256(repr(sorted(vars(args).items())).encode()).hexdigest()[:12]
    path = Path(tempfile.gettempdir()) / f"jaxstab-mnist1d-{tag}.npz"
    if path.exists():
        with np.load(path) as f:
            return f["x"], f["y"]
    state = np.random.get_state()  # make_dataset seeds NumPy's global generator
    try:
        d = make_dataset(args)
    finally:
        np.random.set_state(state)
    # the paper's order: its 4000 training rows first, then its 1000 test rows
    x = np.concatenate([d["x"], d["x_test"]]).astype(np.float32)
    y = np.concatenate([d["y"], d["y_test"]]).astype(np.int64)
    tmp = path.with_suffix(f".{os.getpid()}.npz")
    np.savez(tmp, x=x, y=y)
    os.replace(tmp, path)  # atomic: parallel test workers may race here
    return x, y


@functools.cache
def load(name: str) -> tuple[np.ndarray, np.ndarray]:
    """(x float32, y int64) of a fixed dataset, standardized per feature."""
    from sklearn import datasets

    if name == "mnist1d":
        return _mnist1d()  # make_dataset already centres and scales it
    if name == "digits":
        x, y = datasets.load_digits(return_X_y=True)
        x = x / 16.0  # pixel intensities 0..16; constant border pixels stay 0
    elif name == "breast_cancer":
        x, y = datasets.load_breast_cancer(return_X_y=True)
        x = _standardize(x)
    elif name == "wine":
        x, y = datasets.load_wine(return_X_y=True)
        x = _standardize(x)
    else:
        raise KeyError(name)
    return x.astype(np.float32), y.astype(np.int64)


# ------------------------------------------------------------------ on the device


def device_split(cfg: DataConfig, keys: dict, hp: dict, x, y, n_classes: int) -> dict:
    """Split by a permutation from the `split` key, flip training labels with the
    `resample` key. ``y`` is float (class index); a flipped label moves to a uniformly
    drawn *other* class."""
    import jax
    import jax.numpy as jnp

    out = {}
    n = x.shape[0]
    if cfg.n_test:
        perm = jax.random.permutation(keys["split"], n)
        test, train = perm[: cfg.n_test], perm[cfg.n_test:]
        out.update(x_test=x[test], y_test=y[test], m_test=jnp.ones(cfg.n_test, jnp.float32))
        x, y = x[train], y[train]
    kf, kc = jax.random.split(keys["resample"])
    flip = jax.random.uniform(kf, y.shape) < hp["label_noise"]
    shift = jax.random.randint(kc, y.shape, 1, n_classes).astype(y.dtype)
    y = jnp.where(flip, jnp.mod(y + shift, n_classes), y)
    out.update(x_train=x, y_train=y, m_train=jnp.ones(y.shape, jnp.float32))
    return out


def source(cfg: DataConfig) -> tuple[np.ndarray, np.ndarray]:
    """The whole fixed dataset of ``cfg``: a bundled one or the user's file."""
    if cfg.name == "file":
        from jaxstab.builtin.data._file import load_file

        return load_file(cfg.path, cfg.target)[:2]
    return load(cfg.name)


def fixed_device(cfg: DataConfig, keys: dict, hp: dict) -> dict:
    import jax
    import jax.numpy as jnp

    x_all, y_all = source(cfg)
    n_classes = cfg.n_classes
    x, y = jnp.asarray(x_all), jnp.asarray(y_all, jnp.float32)
    if cfg.n_samples < len(y_all):
        rows = jax.random.permutation(keys["data"], len(y_all))[: cfg.n_samples]
        x, y = x[rows], y[rows]
    return device_split(cfg, keys, hp, x, y, n_classes)


def signal_step(n_steps: int, lag):
    """Where long_range puts the label's evidence: ``lag`` steps before the end, or the
    first step when the lag is 0 (not set)."""
    import jax.numpy as jnp

    lag = jnp.asarray(lag)
    return jnp.where(lag > 0, n_steps - lag, 0).astype(jnp.int32)


def long_range(cfg: DataConfig, keys: dict, hp: dict) -> dict:
    """A long-range dependency: the label is the sign of one step of a sequence of
    ``n_features`` steps, ``lag`` steps before its end (default: the first step); every
    other step is N(0, 1) noise, so a recurrent model must carry one number across
    ``lag`` steps (and its gradient must flow back as far)."""
    import jax
    import jax.numpy as jnp

    ky, kx = jax.random.split(keys["data"])
    y = jax.random.bernoulli(ky, 0.5, (cfg.n_samples,)).astype(jnp.float32)
    noise = jax.random.normal(kx, (cfg.n_samples, cfg.n_features), jnp.float32)
    x = noise.at[:, signal_step(cfg.n_features, hp["lag"])].set(2.0 * y - 1.0)
    return device_split(cfg, keys, hp, x, y, 2)


# ------------------------------------------------------------------ on the host


def fixed_host(cfg: DataConfig, seeds: dict, hp: dict) -> dict:
    from jaxstab.builtin.data._host import finish

    x, y = source(cfg)
    if cfg.n_samples < len(y):
        rows = np.random.default_rng(seeds["data"]).permutation(len(y))[: cfg.n_samples]
        x, y = x[rows], y[rows]
    return finish(cfg, seeds, hp, x, y, cfg.n_classes)


def classification(cfg: DataConfig, seeds: dict, hp: dict) -> dict:
    """scikit-learn's ``make_classification`` drawn from the `data` seed: informative
    Gaussian clusters per class (real signal), majority : minority = ``imbalance``."""
    from sklearn.datasets import make_classification

    from jaxstab.builtin.data._host import finish

    r = hp["imbalance"]
    x, y = make_classification(
        n_samples=cfg.n_samples, n_features=cfg.n_features,
        n_informative=cfg.n_informative or 2, n_redundant=0,
        class_sep=1.0 if cfg.class_sep is None else cfg.class_sep,
        weights=[r / (1.0 + r)], flip_y=0.0,  # label noise is its own factor
        random_state=seeds["data"])
    return finish(cfg, seeds, hp, x.astype(np.float32), y.astype(np.int64), 2)
