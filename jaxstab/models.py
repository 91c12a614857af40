"""Flax modules, written for a batch of examples and one seed (the sweep adds seeds).

Initializers follow Keras's defaults (Glorot-uniform kernels, zero biases) because the
article's examples are Keras scripts and the faithful studies must start where they do.
"""

from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxstab.study import ModelConfig

_ACT = {"relu": nn.relu, "tanh": jnp.tanh, "sigmoid": nn.sigmoid, "linear": lambda x: x}
_KERAS_DENSE = dict(kernel_init=nn.initializers.glorot_uniform(),
                    bias_init=nn.initializers.zeros)


class MLP(nn.Module):
    hidden: tuple[int, ...]
    activation: str
    n_out: int

    @nn.compact
    def __call__(self, x, dropout_rate=None, dropout_key=None):
        for i, width in enumerate(self.hidden):
            x = _ACT[self.activation](nn.Dense(width, **_KERAS_DENSE)(x))
            if dropout_key is not None:
                # flax's nn.Dropout needs a Python-float rate; here the rate is a vmapped
                # hyperparameter (an array), so the inverted-dropout mask is drawn directly.
                keep = jax.random.bernoulli(jax.random.fold_in(dropout_key, i),
                                            1.0 - dropout_rate, x.shape)
                x = jnp.where(keep, x / (1.0 - dropout_rate), 0.0)
        return nn.Dense(self.n_out, **_KERAS_DENSE)(x)


def build_model(cfg: ModelConfig, n_classes: int) -> nn.Module:
    """Returns a module producing logits: one column for a sigmoid head, else n_classes."""
    n_out = 1 if cfg.head == "sigmoid" else n_classes
    hidden = () if cfg.name == "logistic" else cfg.hidden
    return MLP(hidden=hidden, activation=cfg.activation, n_out=n_out)


def l2_penalty(params) -> jnp.ndarray:
    """Σ w² over every Dense kernel, as Keras's ``l2(c)`` sums it (times c elsewhere)."""
    leaves = jax.tree_util.tree_leaves_with_path(params)
    return sum(jnp.sum(jnp.square(w)) for path, w in leaves
               if getattr(path[-1], "key", None) == "kernel")
