"""Flax modules, written for a batch of examples and one seed (the sweep adds seeds).

Dense layers start as Keras's do (Glorot-uniform kernels, zero biases) because the
article's examples are Keras scripts and the faithful studies must start where they do.
The CNN and the GRU are MNIST-1D's (Greydanus, "Scaling down deep learning"); recurrent
cells are Flax's own (``SimpleCell``, ``LSTMCell``, ``GRUCell``) with their defaults,
except that the orthogonal recurrent kernel is drawn without LAPACK (``jaxstab._linalg``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import NamedTuple

import flax.linen as nn
import jax
import jax.numpy as jnp

from jaxstab._linalg import orthogonal
from jaxstab.builtin.model_config import RECURRENT, ModelConfig

# The article's four by their Keras names; any other `jax.nn` function by its own name.
_ACT = {"relu": nn.relu, "tanh": jnp.tanh, "sigmoid": nn.sigmoid, "linear": lambda x: x}


def activation(name: str) -> Callable:
    return _ACT[name] if name in _ACT else getattr(jax.nn, name)
_KERAS_DENSE = dict(kernel_init=nn.initializers.glorot_uniform(),
                    bias_init=nn.initializers.zeros)
_CELLS = {"rnn": nn.SimpleCell, "lstm": nn.LSTMCell, "gru": nn.GRUCell}


class MLP(nn.Module):
    hidden: tuple[int, ...]
    activation: str
    n_out: int

    @nn.compact
    def __call__(self, x, dropout_rate=None, dropout_key=None):
        for i, width in enumerate(self.hidden):
            x = activation(self.activation)(nn.Dense(width, **_KERAS_DENSE)(x))
            # Kept for the dead-unit count (``apply(..., mutable=["intermediates"])``).
            self.sow("intermediates", f"hidden_{i}", x)
            if dropout_key is not None:
                # flax's nn.Dropout needs a Python-float rate; here the rate is a vmapped
                # hyperparameter (an array), so the inverted-dropout mask is drawn directly.
                keep = jax.random.bernoulli(jax.random.fold_in(dropout_key, i),
                                            1.0 - dropout_rate, x.shape)
                x = jnp.where(keep, x / (1.0 - dropout_rate), 0.0)
        return nn.Dense(self.n_out, **_KERAS_DENSE)(x)


class Conv1D(nn.Module):
    """``nn.Conv(features, (size,), strides=(2,), padding=[(1, 1)])`` (same parameters,
    same initialization, same output to float rounding) computed as one matrix product
    of the input's patches, cut by strided slices, with the kernel.

    Why not ``nn.Conv``: vmapped over seeds (a kernel per seed) XLA turns a convolution
    into a grouped convolution, and on the CPU that measured about 4x slower per run
    than this form, vmapped or not (docs/performance.md); vmapped, this form is also no
    slower per run than single runs. Slices rather than a gather, whose gradient is a
    scatter, which is slow under vmap."""

    features: int
    size: int
    stride: int = 2

    @nn.compact
    def __call__(self, h):  # (batch, length, channels)
        kernel = self.param("kernel", nn.initializers.lecun_normal(),
                            (self.size, h.shape[-1], self.features))
        bias = self.param("bias", nn.initializers.zeros, (self.features,))
        h = jnp.pad(h, ((0, 0), (1, 1), (0, 0)))
        n = (h.shape[1] - self.size) // self.stride + 1
        end = self.stride * (n - 1) + 1
        patches = jnp.stack([h[:, j:j + end:self.stride] for j in range(self.size)], axis=2)
        return jnp.einsum("bpkc,kcf->bpf", patches, kernel) + bias


class CNN(nn.Module):
    """MNIST-1D's ConvBase: three 1-D convolutions (kernel 5, 3, 3; stride 2; padding
    1; ReLU), flattened into one linear layer. On length 40: 19, 10, 5 positions."""

    channels: int
    n_out: int

    @nn.compact
    def __call__(self, x, dropout_rate=None, dropout_key=None):
        h = x[..., None]  # (batch, length, 1 channel)
        for i, k in enumerate((5, 3, 3)):
            h = nn.relu(Conv1D(self.channels, k)(h))
            self.sow("intermediates", f"hidden_{i}", h)
        h = h.reshape(h.shape[0], -1)
        return nn.Dense(self.n_out)(h)


class _Step(nn.Module):
    """One recurrent step; ``e`` is added to the new hidden state. It is zero, so it
    changes nothing, but the gradient with respect to it is dLoss/dh_t."""

    kind: str
    features: int

    @nn.compact
    def __call__(self, carry, inp):
        x, e = inp
        cell = _CELLS[self.kind](self.features, recurrent_kernel_init=orthogonal(),
                                 name="cell")
        carry, _ = cell(carry, x)
        if self.kind == "lstm":
            c, h = carry
            h = h + e
            carry = (c, h)
        else:
            h = carry = carry + e
        return carry, h


_Scan = nn.scan(_Step, variable_broadcast="params", split_rngs={"params": False},
                in_axes=0, out_axes=0)


class Recurrent(nn.Module):
    """A sequence model over the features of an example read as time steps (one input
    per step); the classifier reads the last state (``last``) or every state
    (``flatten``, MNIST-1D's GRU), of both directions when ``bidirectional``."""

    kind: str
    features: int
    bidirectional: bool
    readout: str
    n_out: int

    def zeros(self, batch: int, length: int):
        """The perturbation ``eps`` of ``__call__``: (length, batch, features)."""
        return jnp.zeros((length, batch, self.features), jnp.float32)

    @nn.compact
    def __call__(self, x, dropout_rate=None, dropout_key=None, eps=None):
        batch, length = x.shape
        seq = jnp.swapaxes(x, 0, 1)[..., None]  # time-major (length, batch, 1)
        h0 = jnp.zeros((batch, self.features), x.dtype)
        c0 = (h0, h0) if self.kind == "lstm" else h0
        eps = self.zeros(batch, length) if eps is None else eps
        last, hs = _Scan(self.kind, self.features, name="forward")(c0, (seq, eps))
        states = [hs]
        finals = [last[1] if self.kind == "lstm" else last]
        if self.bidirectional:
            lb, hb = _Scan(self.kind, self.features, name="backward")(
                c0, (seq[::-1], jnp.zeros_like(eps)))
            states.append(hb[::-1])
            finals.append(lb[1] if self.kind == "lstm" else lb)
        if self.readout == "flatten":
            feat = jnp.concatenate([jnp.swapaxes(s, 0, 1).reshape(batch, -1)
                                    for s in states], axis=-1)
        else:
            feat = jnp.concatenate(finals, axis=-1)
        return nn.Dense(self.n_out)(feat)


class Built(NamedTuple):
    """A model as the training loop uses it: one way to call it, whatever the model.
    ``apply(params, x, hp, dropout_key, eps)`` is the training forward pass (``eps``:
    the recurrent models' zero perturbation, see ``Recurrent``); ``predict(params, x)``
    the evaluation one; ``dead_units``: the hidden layers are sown as intermediates."""

    module: nn.Module
    init: Callable
    apply: Callable
    predict: Callable
    recurrent: bool
    dead_units: bool


def _builtin(cfg: ModelConfig, n_out: int) -> nn.Module:
    if cfg.name == "cnn":
        return CNN(channels=cfg.n_channels, n_out=n_out)
    if cfg.name in RECURRENT:
        return Recurrent(kind=cfg.name, features=cfg.n_state, bidirectional=cfg.both_ways,
                         readout=cfg.read, n_out=n_out)
    hidden = () if cfg.name == "logistic" else cfg.hidden
    return MLP(hidden=hidden, activation=cfg.activation, n_out=n_out)


def build_model(cfg: ModelConfig, n_classes: int, *, dropout: bool = False) -> Built:
    """Logits: one column for a sigmoid head, else ``n_classes``. A user's module
    (``name = "pkg.mod:Module"``) is built as ``Module(n_out=..., **args)`` and called
    as ``apply(params, x, train=True, rngs={"dropout": key})`` in training and with
    ``train=False`` in evaluation (Flax's own convention for dropout)."""
    n_out = 1 if cfg.head == "sigmoid" else n_classes
    if cfg.user:
        from jaxstab._check import import_object, recall

        cls = recall(cfg.name, cfg.source) or import_object(cfg.name, "model.name")
        module = cls(n_out=n_out, **dict(cfg.args or {}))
        return Built(
            module, lambda key, x: module.init({"params": key, "dropout": key}, x,
                                               train=False),
            lambda p, x, hp, dkey, eps: module.apply(p, x, train=True,
                                                     rngs={"dropout": dkey}),
            lambda p, x: module.apply(p, x, train=False), False, False)
    module = _builtin(cfg, n_out)
    if cfg.name in RECURRENT:
        fwd = (lambda p, x, hp, dkey, eps: module.apply(p, x, eps=eps))
    elif dropout:
        fwd = (lambda p, x, hp, dkey, eps: module.apply(p, x, hp["dropout"], dkey))
    else:
        fwd = (lambda p, x, hp, dkey, eps: module.apply(p, x))
    dead = cfg.name == "cnn" or (cfg.name == "mlp" and cfg.activation == "relu"
                                 and bool(cfg.hidden))
    return Built(module, module.init, fwd, module.apply, cfg.name in RECURRENT, dead)


def l2_penalty(params) -> jnp.ndarray:
    """Σ w² over every kernel, as Keras's ``l2(c)`` sums it (times c elsewhere)."""
    leaves = jax.tree_util.tree_leaves_with_path(params)
    return sum(jnp.sum(jnp.square(w)) for path, w in leaves
               if getattr(path[-1], "key", None) == "kernel")
