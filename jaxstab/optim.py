"""Optimizers: a registry of optax factories, hyperparameters injected as arrays."""

from __future__ import annotations

from typing import NamedTuple

import jax
import jax.numpy as jnp
import optax

from jaxstab.study import TrainConfig


class KerasAdamState(NamedTuple):
    count: jnp.ndarray
    mu: optax.Updates
    nu: optax.Updates


def scale_by_keras_adam(b1: float = 0.9, b2: float = 0.999,
                        eps: float = 1e-7) -> optax.GradientTransformation:
    """Adam as Keras computes it.

    Keras adds ``eps`` to the *uncorrected* √v and folds both bias corrections into the
    step size: ``m·lr·√(1−β₂ᵗ)/(1−β₁ᵗ) / (√v + ε)``. That equals optax's Adam with an
    effective ε/√(1−β₂ᵗ), which differs from ``optax.adam`` early in training and at high
    learning rates; optax has no switch for it, hence this transformation.
    """

    def init_fn(params):
        zeros = jax.tree_util.tree_map(jnp.zeros_like, params)
        return KerasAdamState(jnp.zeros([], jnp.int32), zeros,
                              jax.tree_util.tree_map(jnp.zeros_like, params))

    def update_fn(updates, state, params=None):
        del params
        mu = optax.tree_utils.tree_update_moment(updates, state.mu, b1, 1)
        nu = optax.tree_utils.tree_update_moment_per_elem_norm(updates, state.nu, b2, 2)
        count = optax.safe_increment(state.count)
        t = count.astype(jnp.float32)
        alpha = jnp.sqrt(1.0 - b2**t) / (1.0 - b1**t)
        out = jax.tree_util.tree_map(lambda m, v: alpha * m / (jnp.sqrt(v) + eps), mu, nu)
        return out, KerasAdamState(count, mu, nu)

    return optax.GradientTransformation(init_fn, update_fn)


def keras_adam(learning_rate, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-7):
    return optax.chain(scale_by_keras_adam(b1, b2, eps),
                       optax.scale_by_learning_rate(learning_rate))


def _sgd(learning_rate):
    return optax.sgd(learning_rate)


def _momentum(learning_rate, momentum):
    return optax.sgd(learning_rate, momentum=momentum)


def _adam(learning_rate):
    return optax.adam(learning_rate)


def _adamw(learning_rate, weight_decay):
    return optax.adamw(learning_rate, weight_decay=weight_decay)


# name -> (factory, the continuous hyperparameters it takes from the run's hparams)
OPTIMIZERS = {
    "sgd": (_sgd, ("learning_rate",)),
    "momentum": (_momentum, ("learning_rate", "momentum")),
    "adam": (_adam, ("learning_rate",)),
    "adamw": (_adamw, ("learning_rate", "weight_decay")),
    "keras_adam": (keras_adam, ("learning_rate",)),
}


def make_optimizer(cfg: TrainConfig, hp: dict) -> optax.GradientTransformation:
    """``hp`` values may be traced arrays: inject_hyperparams keeps them in the state."""
    factory, names = OPTIMIZERS[cfg.optimizer]
    return optax.inject_hyperparams(factory)(**{n: hp[n] for n in names})
