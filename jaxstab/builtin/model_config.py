"""The ``[model]`` section and its rules (the modules are in ``jaxstab.builtin.models``)."""

from __future__ import annotations

from dataclasses import dataclass
from jaxstab._check import FrozenArgs, check_choice, check_range, fail, is_trusted

MODELS = ("mlp", "logistic", "cnn", "rnn", "lstm", "gru")
RECURRENT = ("rnn", "lstm", "gru")
HEADS = ("sigmoid", "softmax")
READOUTS = ("last", "flatten")
# Continuous fields: traced hyperparameters, vmapped with the seeds.
CONTINUOUS = ("l2", "dropout")


def _check_activation(name: str) -> None:
    """The article's four by their Keras names, or any ``jax.nn`` function."""
    if name in ("relu", "tanh", "sigmoid", "linear"):
        return
    import jax  # only for a name beyond the four: `jaxstab list` imports no JAX

    fn = getattr(jax.nn, name, None)
    if not callable(fn) or name.startswith("_") or isinstance(fn, type):
        check_choice("model.activation", name,
                     ("relu", "tanh", "sigmoid", "linear", "gelu", "silu", "elu",
                      "leaky_relu", "softplus", "selu", "celu", "mish", "relu6",
                      "hard_tanh", "log_sigmoid", "<any jax.nn function>"))


@dataclass(frozen=True)
class ModelConfig:
    name: str = "mlp"
    hidden: tuple[int, ...] = (128,)
    activation: str = "relu"
    head: str = "sigmoid"
    l2: float = 0.0
    dropout: float = 0.0
    C: float = 1.0
    # None = not set (see DataConfig); the properties give the effective values.
    # `depth` x `width` hidden layers replace `hidden` when both are set (a grid over them).
    depth: int | None = None
    width: int | None = None
    channels: int | None = None  # CNN feature maps per layer (MNIST-1D's paper: 25)
    state_size: int | None = None  # recurrent hidden state (default 16)
    bidirectional: bool | None = None  # recurrent models (default false)
    readout: str | None = None  # recurrent: `last` state (default) or `flatten` all
    # A user's Flax module's keyword arguments (name = "pkg.mod:Module"), and the hash of
    # the module's source file (set when it is imported; part of the study's identity).
    args: dict | None = None
    source: str | None = None

    def __post_init__(self) -> None:
        if self.user:
            self._check_user()
        else:
            check_choice("model.name", self.name, MODELS)
            if self.args is not None:
                fail("model.args", f"only a user's module takes args, not {self.name!r}")
        if (self.depth is None) != (self.width is None):
            fail("model.depth", "`depth` and `width` go together (they replace `hidden`)")
        if self.depth is not None:
            check_range("model.depth", self.depth, 1, 64)
            check_range("model.width", self.width, 1, 1_000_000)
            object.__setattr__(self, "hidden", (self.width,) * self.depth)
        object.__setattr__(self, "hidden", tuple(self.hidden))
        if self.channels is not None:
            check_range("model.channels", self.channels, 1, 100_000)
        if self.state_size is not None:
            check_range("model.state_size", self.state_size, 1, 100_000)
        if self.readout is not None:
            check_choice("model.readout", self.readout, READOUTS)
        if len(self.hidden) > 64:
            fail("model.hidden", f"{len(self.hidden)} layers, allowed at most 64")
        for i, h in enumerate(self.hidden):
            check_range(f"model.hidden[{i}]", h, 1, 1_000_000)
        _check_activation(self.activation)
        check_choice("model.head", self.head, HEADS)
        check_range("model.l2", self.l2, 0.0, 1e3)
        check_range("model.dropout", self.dropout, 0.0, 1.0, hi_open=True)
        check_range("model.C", self.C, 0.0, 1e12, lo_open=True)

    def _check_user(self) -> None:
        import flax.linen as nn

        from jaxstab._check import import_object, remember, source_digest

        if self.args is not None:
            if not isinstance(self.args, dict):
                fail("model.args", "expected a table of keyword arguments")
            object.__setattr__(self, "args", FrozenArgs(self.args))
        if is_trusted():
            return
        # The built-in models' own fields would be silently ignored by a user's module:
        # its settings go in `args`.
        for f, default in (("hidden", (128,)), ("activation", "relu"), ("dropout", 0.0),
                           ("depth", None), ("width", None), ("channels", None),
                           ("state_size", None), ("bidirectional", None),
                           ("readout", None)):
            value = getattr(self, f)
            if (tuple(value) if isinstance(value, list) else value) != default:
                fail(f"model.{f}", f"does not apply to a user's module `{self.name}`; give "
                     f"its settings in `args`")
        cls = import_object(self.name, "model.name")
        if not (isinstance(cls, type) and issubclass(cls, nn.Module)):
            fail("model.name", f"`{self.name}` is not a Flax module class (flax.linen."
                 f"Module subclass)")
        try:
            cls(n_out=1, **dict(self.args or {}))
        except TypeError as e:
            fail("model.args", f"`{self.name}(n_out=..., **args)` failed: {e}")
        object.__setattr__(self, "source", source_digest(cls))
        remember(self.name, self.source, cls)

    @property
    def user(self) -> bool:
        """A user's Flax module by import path (``pkg.mod:Module``)."""
        return ":" in self.name

    @property
    def n_channels(self) -> int:
        return 25 if self.channels is None else self.channels

    @property
    def n_state(self) -> int:
        return 16 if self.state_size is None else self.state_size

    @property
    def both_ways(self) -> bool:
        return bool(self.bidirectional)

    @property
    def read(self) -> str:
        return self.readout or "last"
