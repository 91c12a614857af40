"""The built-in classification task: the article's datasets, models, optimizers and
metrics, put together the way a user task is (``train.make_program(static)``). Each component
carries its own rules (``data._config``, ``model_config``, ``optim``); the rules that
span components are here."""

from __future__ import annotations

import copy
import dataclasses
from typing import Any

from jaxstab._check import check_type, is_trusted
from jaxstab.builtin.data import CONTINUOUS as DATA_CONTINUOUS
from jaxstab.builtin.data import DataConfig, get_dataset
from jaxstab.errors import UserError
from jaxstab.builtin.model_config import CONTINUOUS as MODEL_CONTINUOUS
from jaxstab.builtin.model_config import RECURRENT, ModelConfig
from jaxstab.builtin.optim import CONTINUOUS as TRAIN_CONTINUOUS
from jaxstab.builtin.optim import TrainConfig

SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}
CONTINUOUS = TRAIN_CONTINUOUS + MODEL_CONTINUOUS + DATA_CONTINUOUS
_CONTINUOUS_DEFAULTS = {"imbalance": 1.0, "lag": 0.0}  # lag 0: the whole sequence
# What every run records (see jaxstab.builtin.train): the names are a contract.
METRICS = (
    "epoch_accuracy", "train_accuracy", "train_loss", "test_accuracy", "test_loss",
    "balanced_accuracy", "f1", "roc_auc", "diverged",
    # curve shape, overfitting and unit health (see jaxstab.builtin.train)
    "loss_rises", "loss_variation", "train_test_gap", "dead_relu",
    # recurrent models: gradient norms w.r.t. the first and the last hidden state
    "grad_early", "grad_late", "grad_ratio",
)
# Where a bare factor name lives; `dataset` and `model` choose data.name / model.name.
FACTOR_FIELDS = {f.name: section for section, cls in SECTIONS.items()
                 for f in dataclasses.fields(cls)
                 if f.name not in ("name", "source", "digest")}
FACTOR_ALIASES = {"dataset": ("data", "name"), "model": ("model", "name")}


# Factors of float fields: their values are held as floats (1 and 1.0 are one value).
FLOAT_FIELDS = tuple(f.name for cls in SECTIONS.values() for f in dataclasses.fields(cls)
                     if str(f.type).replace(" ", "") in ("float", "float|None"))


def factor_target(name: str) -> tuple[str, str]:
    if name in FACTOR_ALIASES:
        return FACTOR_ALIASES[name]
    return FACTOR_FIELDS[name], name


def factor_names() -> tuple[str, ...]:
    return tuple(FACTOR_FIELDS) + tuple(FACTOR_ALIASES)


def _field_types(cls) -> dict[str, Any]:
    return {f.name: f.type for f in dataclasses.fields(cls)}


def _replace(section: str, cfg, values: dict):
    for name, v in values.items():
        check_type(f"{section}.{name}", v, _field_types(type(cfg))[name])
    return dataclasses.replace(cfg, **values) if values else cfg


def resolve(study, chosen: dict, where: str) -> tuple:
    """(data, model, train) of the grid point ``chosen`` (factor -> value)."""
    parts: dict[str, dict] = {s: {} for s in SECTIONS}
    for n, v in chosen.items():
        if n != "vary":
            section, field_name = factor_target(n)
            parts[section][field_name] = v
    try:
        data = _replace("data", study.data, parts["data"])
        model = _replace("model", study.model, parts["model"])
        train = _replace("train", study.train, parts["train"])
    except UserError as e:
        raise UserError(f"factors ({where}): {e}") from None
    if not is_trusted():
        check_compatible(data, model, train, where)
        train.check_generic(tuple(n for n, _ in study.factors))
    return data, model, train


def check_compatible(data: DataConfig, model: ModelConfig, train: TrainConfig,
                     where: str) -> None:
    prefix = f"setting ({where}): " if where else ""
    if train.optimizer == "newton" and model.name != "logistic":
        raise UserError(f"{prefix}train.optimizer: `newton` (scikit-learn's solver) goes "
                        f"with model `logistic` and only with it")
    k = data.n_classes
    if train.optimizer == "newton" and (k > 2 or model.head != "sigmoid"):
        raise UserError(f"{prefix}train.optimizer: `newton` fits binary logistic "
                        f"regression (a sigmoid head on 2 classes)")
    if k > 2 and model.head != "softmax":
        raise UserError(f"{prefix}model.head: {data.path or data.name} has {k} classes, "
                        f"use `softmax`")
    if train.optimizer != "newton" and train.batch_size > data.n_train:
        raise UserError(f"{prefix}train.batch_size: {train.batch_size} is larger than the "
                        f"{data.n_train} training examples")
    if model.name in RECURRENT + ("cnn",) and data.name in ("article_ex1",):
        raise UserError(f"{prefix}model.name: {model.name} reads a sequence; "
                        f"{data.name} has {data.n_features} unordered features")
    if model.name == "cnn" and data.n_inputs < 8:
        raise UserError(f"{prefix}model.name: cnn needs inputs of length >= 8, "
                        f"{data.name} has {data.n_inputs}")


def hparams(setting) -> dict[str, float]:
    vals = {name: setting.value(name) for name in CONTINUOUS}
    return {n: float(_CONTINUOUS_DEFAULTS[n] if v is None else v) for n, v in vals.items()}


def static(setting) -> tuple:
    """What fixes the compiled program: everything but the continuous values."""
    def strip(cfg):
        # Continuous values reach the program as arrays (the run's ``hp``), so they
        # are blanked here: settings differing only in them share one compile.
        out = copy.copy(cfg)
        for f in dataclasses.fields(cfg):
            if f.name in CONTINUOUS:
                object.__setattr__(out, f.name, None)
        if isinstance(cfg, DataConfig) and cfg.host and cfg.name != "article_ex1":
            # Host-drawn data is resampled and class-weighted outside the program and
            # padded to one size whatever the handling (see jaxstab.builtin.data._host), so
            # every handling shares one compile; `random_over` stands for them all.
            object.__setattr__(out, "resample", "random_over")
        return out

    names = dict(setting.factors)
    # Whether dropout / label noise / the L2 penalty are active at all changes the
    # program (an inactive one costs nothing per step).
    flags = (setting.model.dropout > 0 or "dropout" in names,
             setting.data.label_noise > 0 or "label_noise" in names,
             setting.model.l2 > 0 or "l2" in names,
             # the optimizer's hyperparameters that are factors (optax by name)
             tuple(n for n in ("momentum", "weight_decay") if n in names))
    return (strip(setting.data), strip(setting.model), strip(setting.train), flags)


def host_sample(setting, seeds_by_src: dict) -> dict:
    """One run's NumPy data for datasets drawn on the host."""
    cfg = setting.data
    # The article's script fixes scikit-learn's random_state; keep it while the
    # source is not varied, so seed index 0 is the script's own split.
    if "split" not in setting.vary and cfg.split_random_state is not None:
        seeds_by_src["split"] = cfg.split_random_state
    if "resample" not in setting.vary and cfg.resample_random_state is not None:
        seeds_by_src["resample"] = cfg.resample_random_state
    return get_dataset(cfg).sample(cfg, seeds_by_src, setting.hparams)


def recorded_metrics(setting) -> set[str]:
    """The metrics a run of this setting records (for checking claims before training)."""
    names = {"epoch_accuracy", "train_accuracy", "train_loss", "diverged", "loss_rises",
             "loss_variation"}
    if setting.train.optimizer == "newton":
        names = {"train_accuracy", "train_loss", "diverged"}
    if setting.data.n_test:
        names |= {"test_accuracy", "test_loss", "balanced_accuracy", "f1", "roc_auc",
                  "train_test_gap"}
    m = setting.model
    if m.name == "cnn" or (m.name == "mlp" and m.activation == "relu" and m.hidden):
        if setting.train.optimizer != "newton":
            names.add("dead_relu")
    if m.name in RECURRENT:
        names |= {"grad_early", "grad_late", "grad_ratio"}
    return names


def check_memory(setting) -> None:
    """One run must fit the memory a chunk may use: its parameters, gradients and two
    optimizer moments (float32), counted from the model's abstract initialization, so a
    `hidden = [1000000, 1000000]` is refused at load instead of failing in training."""
    import jax
    import jax.numpy as jnp
    import numpy as np

    from jaxstab.env import memory_budget
    from jaxstab.builtin.models import build_model

    model = build_model(setting.model, setting.data.n_classes)
    x = jax.ShapeDtypeStruct((1, setting.data.n_inputs), jnp.float32)
    shapes = jax.eval_shape(model.init, jax.random.PRNGKey(0), x)
    n = sum(int(np.prod(leaf.shape)) for leaf in jax.tree_util.tree_leaves(shapes))
    need, budget = 16 * n, memory_budget()
    if need > budget:
        raise UserError(f"model: one run of {setting.key} holds about {need / 2**30:.1f} GiB "
                        f"({n:,} parameters with gradients and optimizer state), more than "
                        f"the {budget / 2**30:.1f} GiB a chunk may use")
