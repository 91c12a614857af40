"""The ``[train]`` section and the optimizers: a registry of optax factories, any other
optax optimizer by name with its keyword arguments, learning-rate schedules and gradient
clipping; swept hyperparameters are injected as arrays (``optax.inject_hyperparams``)."""

from __future__ import annotations

import inspect
from dataclasses import dataclass
from typing import TYPE_CHECKING, NamedTuple

from jaxstab._check import FrozenArgs, check_choice, check_range, fail

if TYPE_CHECKING:  # imported where used: reading a study's [train] needs no JAX
    import jax.numpy as jnp
    import optax

# Continuous fields: traced hyperparameters, vmapped with the seeds.
CONTINUOUS = ("learning_rate", "momentum", "weight_decay")
LOSSES = ("binary_crossentropy",)
SCHEDULES = ("constant", "warmup_cosine", "cosine", "linear")


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
    import jax
    import jax.numpy as jnp
    import optax


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
    import optax

    return optax.chain(scale_by_keras_adam(b1, b2, eps),
                       optax.scale_by_learning_rate(learning_rate))


def _sgd(learning_rate):
    import optax

    return optax.sgd(learning_rate)


def _momentum(learning_rate, momentum):
    import optax

    return optax.sgd(learning_rate, momentum=momentum)


def _adam(learning_rate):
    import optax

    return optax.adam(learning_rate)


def _adamw(learning_rate, weight_decay):
    import optax

    return optax.adamw(learning_rate, weight_decay=weight_decay)


# name -> (factory, the continuous hyperparameters it takes from the run's hparams)
OPTIMIZERS = {
    "sgd": (_sgd, ("learning_rate",)),
    "momentum": (_momentum, ("learning_rate", "momentum")),
    "adam": (_adam, ("learning_rate",)),
    "adamw": (_adamw, ("learning_rate", "weight_decay")),
    "keras_adam": (keras_adam, ("learning_rate",)),
}
# scikit-learn's LogisticRegression solver, not a gradient method (jaxstab.builtin.train).
SOLVERS = ("newton",)


def _optax_factory(name: str):
    """An optax optimizer by its own name (``lion``, ``rmsprop``, ``adabelief``, ...)."""
    import optax

    fn = getattr(optax, name, None)
    if name.startswith("_") or not callable(fn):
        return None
    try:
        params = inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return None
    return fn if "learning_rate" in params else None


def _factory(name: str, swept: tuple[str, ...] = CONTINUOUS):
    """(factory, traced hyperparameter names) for a registered or an optax name. An
    optax optimizer by name takes ``momentum`` / ``weight_decay`` from the run only when
    they are factors (``swept``); otherwise optax's own defaults (or ``optimizer_args``)
    hold, never jaxstab's [train] defaults, which are the built-in names'."""
    if name in OPTIMIZERS:
        return OPTIMIZERS[name]
    fn = _optax_factory(name)
    params = inspect.signature(fn).parameters
    return fn, tuple(n for n in CONTINUOUS if n in params
                     and (n == "learning_rate" or n in swept))


@dataclass(frozen=True)
class TrainConfig:
    optimizer: str = "keras_adam"
    learning_rate: float = 1e-3
    momentum: float = 0.9
    weight_decay: float = 0.0
    batch_size: int = 32
    epochs: int = 10
    max_iter: int = 30
    loss: str = "binary_crossentropy"
    # None = not set: the article's studies keep their exact configuration.
    optimizer_args: dict | None = None  # static keyword arguments of the optimizer
    schedule: str | None = None  # learning-rate schedule (default constant)
    warmup_steps: int | None = None  # warmup_cosine: linear warmup from 0
    end_value: float | None = None  # cosine / linear: final share of the peak rate
    clip_norm: float | None = None  # clip gradients to this global norm first

    def __post_init__(self) -> None:
        if self.optimizer not in OPTIMIZERS and self.optimizer not in SOLVERS \
                and _optax_factory(self.optimizer) is None:
            import difflib

            import optax

            known = tuple(OPTIMIZERS) + SOLVERS + tuple(
                n for n in dir(optax) if _optax_factory(n) is not None)
            hint = difflib.get_close_matches(self.optimizer, known, n=1)
            fail("train.optimizer", f"unknown value {self.optimizer!r}, allowed: "
                 f"{', '.join(tuple(OPTIMIZERS) + SOLVERS)} or any optax optimizer by name"
                 + (f"; did you mean `{hint[0]}`?" if hint else ""))
        check_range("train.learning_rate", self.learning_rate, 0.0, 1e4, lo_open=True)
        check_range("train.momentum", self.momentum, 0.0, 1.0, hi_open=True)
        check_range("train.weight_decay", self.weight_decay, 0.0, 1e3)
        check_range("train.batch_size", self.batch_size, 1, 1_000_000)
        check_range("train.epochs", self.epochs, 1, 100_000)
        check_range("train.max_iter", self.max_iter, 1, 10_000)
        check_choice("train.loss", self.loss, LOSSES)
        if self.schedule is not None:
            check_choice("train.schedule", self.schedule, SCHEDULES)
        if self.warmup_steps is not None:
            check_range("train.warmup_steps", self.warmup_steps, 0, 10_000_000)
            if self.schedule != "warmup_cosine":
                fail("train.warmup_steps", "goes with schedule = \"warmup_cosine\"")
        if self.end_value is not None:
            check_range("train.end_value", self.end_value, 0.0, 1.0)
        if self.clip_norm is not None:
            check_range("train.clip_norm", self.clip_norm, 0.0, 1e9, lo_open=True)
        if self.optimizer_args is not None:
            self._check_args()

    def _check_args(self) -> None:
        if self.optimizer in SOLVERS:
            fail("train.optimizer_args", f"`{self.optimizer}` takes no arguments")
        object.__setattr__(self, "optimizer_args", FrozenArgs(self.optimizer_args))
        fn, traced = _factory(self.optimizer, ())
        params = inspect.signature(fn).parameters
        for k in self.optimizer_args:
            if k in ("learning_rate",) + traced:
                fail(f"train.optimizer_args.{k}", f"set `{k}` in [train] or as a factor "
                     f"(it is a swept hyperparameter)")
            if k not in params:
                check_choice(f"train.optimizer_args.{k}", k,
                             [p for p in params if p not in ("learning_rate",) + traced])

    def check_generic(self, factors: tuple[str, ...]) -> None:
        """[train] momentum / weight_decay configure the built-in optimizers; for an
        optax optimizer by name they would be silently ignored unless swept."""
        if self.optimizer in OPTIMIZERS or self.optimizer in SOLVERS:
            return
        for name, default in (("momentum", 0.9), ("weight_decay", 0.0)):
            if getattr(self, name) != default and name not in factors:
                fail(f"train.{name}", f"optax's `{self.optimizer}` takes it in "
                     f"optimizer_args (or as a factor), not in [train]")


def _schedule(cfg: TrainConfig, peak, total_steps: int):
    """The learning rate at each step (a function of the step count) for a traced peak:
    optax's schedule of shape at peak 1, times the peak (optax's own schedules test
    their values in Python, which a traced value cannot answer)."""
    import optax

    end = 0.0 if cfg.end_value is None else cfg.end_value
    total = max(total_steps, 1)
    if cfg.schedule == "warmup_cosine":
        warm = min(cfg.warmup_steps or 0, total - 1)
        shape = optax.warmup_cosine_decay_schedule(0.0, 1.0, warm, total, end_value=end)
    elif cfg.schedule == "cosine":
        shape = optax.cosine_decay_schedule(1.0, total, alpha=end)
    else:
        shape = optax.linear_schedule(1.0, end, total)
    return lambda count: peak * shape(count)


def make_optimizer(cfg: TrainConfig, hp: dict, total_steps: int = 1,
                   swept: tuple[str, ...] = CONTINUOUS) -> optax.GradientTransformation:
    """``hp`` values may be traced arrays: inject_hyperparams keeps them in the state.
    ``swept``: the continuous hyperparameters that are factors of the study."""
    import optax

    factory, names = _factory(cfg.optimizer, swept)
    kwargs = {n: hp[n] for n in names}
    if cfg.schedule not in (None, "constant"):
        kwargs["learning_rate"] = _schedule(cfg, hp["learning_rate"], total_steps)
    tx = optax.inject_hyperparams(factory)(**kwargs, **dict(cfg.optimizer_args or {}))
    if cfg.clip_norm is not None:
        tx = optax.chain(optax.clip_by_global_norm(cfg.clip_norm), tx)
    return tx
