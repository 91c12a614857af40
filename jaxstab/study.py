"""Studies: frozen, validated configuration, TOML loading, grid expansion.

A study is everything needed to train its runs; a setting is one point of its factor
grid. Fields that fix array shapes are static (they key the compile cache); the
continuous ones (``CONTINUOUS``) become array leaves vmapped with the seeds.
"""

from __future__ import annotations

import copy
import dataclasses
import difflib
import hashlib
import itertools
import json
import math
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping

from jaxstab.errors import UserError

SOURCES = ("init", "order", "dropout", "split", "resample", "data")
CONTINUOUS = ("learning_rate", "momentum", "weight_decay", "l2", "dropout", "label_noise",
              "imbalance", "lag")
METRICS = (
    "epoch_accuracy", "train_accuracy", "train_loss", "test_accuracy", "test_loss",
    "balanced_accuracy", "f1", "roc_auc", "diverged",
    # curve shape, overfitting and unit health (see jaxstab.train)
    "loss_rises", "loss_variation", "train_test_gap", "dead_relu",
    # recurrent models: gradient norms w.r.t. the first and the last hidden state
    "grad_early", "grad_late", "grad_ratio",
)
# Bumped whenever a change to the engine changes what a run computes, so old results
# are never mixed with new ones in a store. 2: runs also record loss_rises,
# loss_variation, train_test_gap and dead_relu (the numbers of version 1 are unchanged).
# 3: recurrent kernels' orthogonal start and the logistic Newton step are computed
# without LAPACK (jaxstab._linalg), and the CNN's convolutions as matrix products
# (models.Conv1D), which changes their last bits.
ENGINE_VERSION = 3
MAX_SETTINGS = 100_000

DATASETS = ("article_ex1", "article_uniform", "classification", "digits", "breast_cancer",
            "wine", "mnist1d", "long_range")
# (rows, features, classes) of the fixed datasets; `classification` (scikit-learn's
# make_classification) and the synthetic ones are drawn per seed at the configured size.
FIXED_DATASETS = {"digits": (1797, 64, 10), "breast_cancer": (569, 30, 2),
                  "wine": (178, 13, 3), "mnist1d": (5000, 40, 10)}
RESAMPLERS = ("none", "random_over", "smote", "random_under", "class_weight")
# Resamplers that exist only as NumPy code (imbalanced-learn): their datasets run on the host.
HOST_RESAMPLERS = ("random_over", "smote", "random_under")
MODELS = ("mlp", "logistic", "cnn", "rnn", "lstm", "gru")
RECURRENT = ("rnn", "lstm", "gru")
ACTIVATIONS = ("relu", "tanh", "sigmoid", "linear")
HEADS = ("sigmoid", "softmax")
READOUTS = ("last", "flatten")
OPTIMIZERS = ("sgd", "momentum", "adam", "adamw", "keras_adam", "newton")
LOSSES = ("binary_crossentropy",)


def n_classes(name: str) -> int:
    return FIXED_DATASETS[name][2] if name in FIXED_DATASETS else 2


def _fail(where: str, msg: str) -> None:
    raise UserError(f"{where}: {msg}")


def _check_choice(where: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        hint = difflib.get_close_matches(str(value), allowed, n=1)
        extra = f"; did you mean `{hint[0]}`?" if hint else ""
        _fail(where, f"unknown value {value!r}, allowed: {', '.join(allowed)}{extra}")


def _check_range(where: str, value: float, lo: float, hi: float, *,
                 lo_open: bool = False, hi_open: bool = False) -> None:
    ok = math.isfinite(value) and (value > lo if lo_open else value >= lo) and (
        value < hi if hi_open else value <= hi)
    if not ok:
        left = "(" if lo_open else "["
        right = ")" if hi_open else "]"
        _fail(where, f"{value!r} is out of range, allowed {left}{lo}, {hi}{right}")


@dataclass(frozen=True)
class DataConfig:
    name: str = "article_uniform"
    n_samples: int = 1000
    n_features: int = 10
    test_size: float = 0.0
    # A fixed scikit-learn ``random_state`` for the split / the resampler, used while the
    # `split` / `resample` source is not varied: the article's script fixes both at 42.
    split_random_state: int | None = None
    resample: str = "none"
    resample_random_state: int | None = None
    label_noise: float = 0.0
    # Fields added after the article's three examples default to None ("not set") so
    # that those studies' configurations, and the TOML files written for them, keep
    # their exact form; the properties below give the effective values.
    # Majority : minority class ratio of `classification` (1 = balanced), e.g. 19 = 1:19.
    imbalance: float | None = None
    # make_classification's n_informative (default 2) and class_sep (default 1.0).
    n_informative: int | None = None
    class_sep: float | None = None
    # `long_range`: how many steps before the end the label's evidence sits (default: at
    # the first step). Continuous, so all lags share one compiled program.
    lag: int | None = None

    def __post_init__(self) -> None:
        _check_choice("data.name", self.name, DATASETS)
        _check_range("data.n_samples", self.n_samples, 4, 10_000_000)
        _check_range("data.n_features", self.n_features, 1, 100_000)
        _check_range("data.test_size", self.test_size, 0.0, 1.0, hi_open=True)
        _check_choice("data.resample", self.resample, RESAMPLERS)
        _check_range("data.label_noise", self.label_noise, 0.0, 0.5)
        for name in ("split_random_state", "resample_random_state"):
            v = getattr(self, name)
            if v is not None:
                _check_range(f"data.{name}", v, 0, 2**32 - 1)
        if self.imbalance is not None:
            _check_range("data.imbalance", self.imbalance, 1.0, 1000.0)
            if self.name != "classification" and self.imbalance != 1.0:
                _fail("data.imbalance", f"only the `classification` dataset draws "
                      f"imbalanced classes, not {self.name!r}")
        if self.n_informative is not None:
            _check_range("data.n_informative", self.n_informative, 1, self.n_features)
        if self.lag is not None:
            if self.name != "long_range":
                _fail("data.lag", f"only `long_range` has a lag, not {self.name!r}")
            _check_range("data.lag", self.lag, 1, self.n_features)
        if self.class_sep is not None:
            _check_range("data.class_sep", self.class_sep, 0.0, 100.0)
        if self.name in FIXED_DATASETS:
            rows = FIXED_DATASETS[self.name][0]
            if self.n_samples > rows:
                _fail("data.n_samples", f"{self.n_samples} is more than the {rows} "
                      f"examples of {self.name}")
        if self.name == "article_ex1" and self.test_size <= 0:
            _fail("data.test_size", "article_ex1 needs a test split, allowed (0, 1)")
        n_test = math.ceil(self.test_size * self.n_samples)
        if self.test_size > 0 and not 1 <= n_test <= self.n_samples - 2:
            _fail("data.test_size", f"{self.test_size} leaves no train or test examples "
                  f"of {self.n_samples}")

    @property
    def n_test(self) -> int:
        # scikit-learn's train_test_split rounds the test share up.
        return math.ceil(self.test_size * self.n_samples) if self.test_size > 0 else 0

    @property
    def n_train(self) -> int:
        return self.n_samples - self.n_test

    @property
    def n_inputs(self) -> int:
        """Features per example as the model sees them (fixed datasets bring their own)."""
        return FIXED_DATASETS[self.name][1] if self.name in FIXED_DATASETS else self.n_features

    @property
    def host(self) -> bool:
        """Whether runs draw this data on the host (NumPy, one run at a time)."""
        return (self.name in ("article_ex1", "classification")
                or self.resample in HOST_RESAMPLERS)


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

    def __post_init__(self) -> None:
        _check_choice("model.name", self.name, MODELS)
        if (self.depth is None) != (self.width is None):
            _fail("model.depth", "`depth` and `width` go together (they replace `hidden`)")
        if self.depth is not None:
            _check_range("model.depth", self.depth, 1, 64)
            _check_range("model.width", self.width, 1, 1_000_000)
            object.__setattr__(self, "hidden", (self.width,) * self.depth)
        object.__setattr__(self, "hidden", tuple(self.hidden))
        if self.channels is not None:
            _check_range("model.channels", self.channels, 1, 100_000)
        if self.state_size is not None:
            _check_range("model.state_size", self.state_size, 1, 100_000)
        if self.readout is not None:
            _check_choice("model.readout", self.readout, READOUTS)
        if len(self.hidden) > 64:
            _fail("model.hidden", f"{len(self.hidden)} layers, allowed at most 64")
        for i, h in enumerate(self.hidden):
            _check_range(f"model.hidden[{i}]", h, 1, 1_000_000)
        _check_choice("model.activation", self.activation, ACTIVATIONS)
        _check_choice("model.head", self.head, HEADS)
        _check_range("model.l2", self.l2, 0.0, 1e3)
        _check_range("model.dropout", self.dropout, 0.0, 1.0, hi_open=True)
        _check_range("model.C", self.C, 0.0, 1e12, lo_open=True)

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

    def __post_init__(self) -> None:
        _check_choice("train.optimizer", self.optimizer, OPTIMIZERS)
        _check_range("train.learning_rate", self.learning_rate, 0.0, 1e4, lo_open=True)
        _check_range("train.momentum", self.momentum, 0.0, 1.0, hi_open=True)
        _check_range("train.weight_decay", self.weight_decay, 0.0, 1e3)
        _check_range("train.batch_size", self.batch_size, 1, 1_000_000)
        _check_range("train.epochs", self.epochs, 1, 100_000)
        _check_range("train.max_iter", self.max_iter, 1, 10_000)
        _check_choice("train.loss", self.loss, LOSSES)


@dataclass(frozen=True)
class Claim:
    """Setting ``a`` has a greater/smaller mean/spread of ``metric`` than setting ``b``."""

    text: str
    metric: str
    kind: str
    direction: str
    a: Mapping[str, Any]
    b: Mapping[str, Any]

    def __post_init__(self) -> None:
        _check_choice("claims.metric", self.metric, METRICS)
        _check_choice("claims.kind", self.kind, ("mean", "spread"))
        _check_choice("claims.direction", self.direction, ("greater", "less"))
        if not self.text.strip():
            _fail("claims.text", "must not be empty")

    def to_dict(self) -> dict:
        return {"text": self.text, "metric": self.metric, "kind": self.kind,
                "direction": self.direction, "a": dict(self.a), "b": dict(self.b)}


@dataclass(frozen=True)
class SearchConfig:
    """Hyperparameter search over learning rate x weight decay (``jaxstab.search``).

    Each method proposes ``trials`` points, ``batch`` at a time; every trial is scored
    over ``seeds`` seeds (trials x seeds train as one vmapped program); the point each
    selection rule picks is re-run on ``fresh_seeds`` unseen seeds. The whole search is
    repeated ``replicates`` times on disjoint seeds, the unit the statistics count."""

    methods: tuple[str, ...] = ("grid", "random", "bayes")
    trials: int = 16
    batch: int = 8
    seeds: int = 2
    fresh_seeds: int = 8
    replicates: int = 8
    lcb_z: float = 1.0
    learning_rate: tuple[float, ...] = (1e-4, 1.0)
    weight_decay: tuple[float, ...] = (1e-5, 1e-1)

    def __post_init__(self) -> None:
        object.__setattr__(self, "methods", tuple(self.methods))
        if not self.methods:
            _fail("search.methods", "give at least one method")
        for m in self.methods:
            _check_choice("search.methods", m, SEARCH_METHODS)
        _check_range("search.trials", self.trials, 1, 100_000)
        _check_range("search.batch", self.batch, 1, 100_000)
        _check_range("search.seeds", self.seeds, 1, 100_000)
        _check_range("search.fresh_seeds", self.fresh_seeds, 2, 100_000)
        _check_range("search.replicates", self.replicates, 1, 100_000)
        _check_range("search.lcb_z", self.lcb_z, 0.0, 10.0)
        for name in ("learning_rate", "weight_decay"):
            v = tuple(getattr(self, name))
            object.__setattr__(self, name, v)
            if len(v) != 2 or not 0 < v[0] < v[1]:
                _fail(f"search.{name}", f"expected [low, high] with 0 < low < high, got "
                      f"{list(v)}")


SEARCH_METHODS = ("grid", "random", "bayes")
_SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}
# Where a bare factor name lives; `vary` is special: the list of varied seed sources.
FACTOR_FIELDS = {
    f.name: section
    for section, cls in _SECTIONS.items()
    for f in dataclasses.fields(cls)
    if f.name not in ("name",)
}
# `dataset` and `model` as factors choose data.name / model.name (e.g. model families).
FACTOR_ALIASES = {"dataset": ("data", "name"), "model": ("model", "name")}
_CONTINUOUS_DEFAULTS = {"imbalance": 1.0, "lag": 0.0}  # lag 0: the whole sequence


def _factor_target(name: str) -> tuple[str, str]:
    if name in FACTOR_ALIASES:
        return FACTOR_ALIASES[name]
    return FACTOR_FIELDS[name], name


@dataclass(frozen=True)
class Setting:
    """One point of the factor grid, with the configuration it resolves to."""

    study: "Study"
    factors: tuple[tuple[str, Any], ...]
    data: DataConfig
    model: ModelConfig
    train: TrainConfig
    vary: tuple[str, ...]

    @property
    def key(self) -> str:
        return setting_key(dict(self.factors))

    @property
    def hparams(self) -> dict[str, float]:
        vals = {name: self.value(name) for name in CONTINUOUS}
        return {n: float(_CONTINUOUS_DEFAULTS[n] if v is None else v) for n, v in vals.items()}

    def value(self, name: str) -> Any:
        section, field_name = _factor_target(name)
        return getattr(getattr(self, section), field_name)

    @property
    def static(self) -> tuple:
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
                # padded to one size whatever the handling (see jaxstab.data._host), so
                # every handling shares one compile; `random_over` stands for them all.
                object.__setattr__(out, "resample", "random_over")
            return out

        # Whether dropout / label noise / the L2 penalty are active at all changes the
        # program (an inactive one costs nothing per step).
        flags = (self.model.dropout > 0 or "dropout" in dict(self.factors),
                 self.data.label_noise > 0 or "label_noise" in dict(self.factors),
                 self.model.l2 > 0 or "l2" in dict(self.factors))
        return (strip(self.data), strip(self.model), strip(self.train), flags)


def setting_key(factors: Mapping[str, Any]) -> str:
    return json.dumps(dict(factors), sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class Study:
    name: str
    description: str = ""
    question: str = ""
    seeds: int = 64
    seed: int = 0
    vary: tuple[str, ...] = ("data", "init", "order")
    main_metric: str = "test_accuracy"
    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=TrainConfig)
    factors: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    claims: tuple[Claim, ...] = ()
    search: SearchConfig | None = None

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name.strip():
            _fail("name", "must be a non-empty string")
        _check_range("seeds", self.seeds, 1, 10_000_000)
        _check_range("seed", self.seed, 0, 2**31 - 1)
        object.__setattr__(self, "vary", _check_sources("vary", self.vary))
        _check_choice("main_metric", self.main_metric, METRICS)
        names = [n for n, _ in self.factors]
        if len(set(names)) != len(names):
            _fail("factors", "a factor is listed twice")
        for name, values in self.factors:
            if name != "vary" and name not in FACTOR_FIELDS and name not in FACTOR_ALIASES:
                _check_choice("factors", name,
                              tuple(FACTOR_FIELDS) + tuple(FACTOR_ALIASES) + ("vary",))
            if len(values) == 0:
                _fail(f"factors.{name}", "empty list, give at least one value")
        for claim in self.claims:
            for side in ("a", "b"):
                for k, v in getattr(claim, side).items():
                    if k not in names:
                        _fail(f"claims.{side}", f"`{k}` is not a factor of this study")
                    if not any(_plain(v) == _plain(x) for x in dict(self.factors)[k]):
                        _fail(f"claims.{side}", f"{k} = {v!r} is not one of the factor's "
                              f"values")
        size = math.prod(len(v) for _, v in self.factors)
        if size > MAX_SETTINGS:  # checked before expanding: a typo must not hang the loader
            _fail("factors", f"{size} settings, allowed at most {MAX_SETTINGS:,}")
        keys = [s.key for s in self.settings()]  # validates every grid point
        if len(set(keys)) != len(keys):
            # Two settings with one key would share (and overwrite) their runs in a store.
            twice = next(k for k in keys if keys.count(k) > 1)
            _fail("factors", f"the setting {twice} is listed twice")

    def settings(self) -> list[Setting]:
        names = [n for n, _ in self.factors]
        out = []
        for values in itertools.product(*(v for _, v in self.factors)):
            chosen = dict(zip(names, values))
            parts = {s: {} for s in _SECTIONS}
            for n, v in chosen.items():
                if n != "vary":
                    section, field_name = _factor_target(n)
                    parts[section][field_name] = v
            where = ", ".join(f"{k}={v!r}" for k, v in chosen.items())
            try:
                data = _replace("data", self.data, parts["data"])
                model = _replace("model", self.model, parts["model"])
                train = _replace("train", self.train, parts["train"])
            except UserError as e:
                raise UserError(f"factors ({where}): {e}") from None
            vary = self.vary
            if "vary" in chosen:
                vary = _check_sources("factors.vary", chosen["vary"])
                chosen["vary"] = list(vary)
            factors = tuple((k, chosen[k]) for k in names)
            _check_compatible(data, model, train, where)
            out.append(Setting(self, factors, data, model, train, vary))
        return out

    def to_dict(self) -> dict:
        d = {
            "name": self.name, "description": self.description, "question": self.question,
            "seeds": self.seeds, "seed": self.seed, "vary": list(self.vary),
            "main_metric": self.main_metric,
            "data": _section_dict(self.data), "model": _section_dict(self.model),
            "train": _section_dict(self.train),
            "factors": {n: [list(x) if isinstance(x, tuple) else x for x in v]
                        for n, v in self.factors},
            "claims": [c.to_dict() for c in self.claims],
        }
        if self.search is not None:
            d["search"] = _section_dict(self.search)
        return d

    @property
    def fingerprint(self) -> str:
        """Hash of what decides the runs' numbers (not the seed count, not the prose)."""
        d = self.to_dict()
        keep = {k: d[k] for k in ("seed", "vary", "data", "model", "train", "factors")
                if k in d}
        keep["engine"] = ENGINE_VERSION
        blob = json.dumps(keep, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _plain(v: Any) -> Any:
    return tuple(_plain(x) for x in v) if isinstance(v, (list, tuple)) else v


def _section_dict(cfg) -> dict:
    d = dataclasses.asdict(cfg)
    return {k: (list(v) if isinstance(v, tuple) else v) for k, v in d.items() if v is not None}


def _check_sources(where: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        _fail(where, f"expected a list of seed sources from {', '.join(SOURCES)}")
    for s in value:
        if s == "all":
            return SOURCES
        _check_choice(where, s, SOURCES + ("all",))
    return tuple(s for s in SOURCES if s in value)


def _replace(section: str, cfg, values: dict):
    for name, v in values.items():
        _check_type(f"{section}.{name}", v, _field_types(type(cfg))[name])
    return dataclasses.replace(cfg, **values) if values else cfg


def _check_compatible(data: DataConfig, model: ModelConfig, train: TrainConfig,
                      where: str) -> None:
    prefix = f"setting ({where}): " if where else ""
    if train.optimizer == "newton" and model.name != "logistic":
        raise UserError(f"{prefix}train.optimizer: `newton` (scikit-learn's solver) goes "
                        f"with model `logistic` and only with it")
    k = n_classes(data.name)
    if train.optimizer == "newton" and (k > 2 or model.head != "sigmoid"):
        raise UserError(f"{prefix}train.optimizer: `newton` fits binary logistic "
                        f"regression (a sigmoid head on 2 classes)")
    if k > 2 and model.head != "softmax":
        raise UserError(f"{prefix}model.head: {data.name} has {k} classes, use `softmax`")
    if train.optimizer != "newton" and train.batch_size > data.n_train:
        raise UserError(f"{prefix}train.batch_size: {train.batch_size} is larger than the "
                        f"{data.n_train} training examples")
    if data.resample in HOST_RESAMPLERS and data.name in ("article_uniform", "long_range"):
        raise UserError(f"{prefix}data.resample: {data.resample} (imbalanced-learn) needs "
                        f"a dataset drawn on the host, not {data.name}")
    if model.name in RECURRENT + ("cnn",) and data.name in ("article_ex1",):
        raise UserError(f"{prefix}model.name: {model.name} reads a sequence; "
                        f"{data.name} has {data.n_features} unordered features")
    if model.name == "cnn" and data.n_inputs < 8:
        raise UserError(f"{prefix}model.name: cnn needs inputs of length >= 8, "
                        f"{data.name} has {data.n_inputs}")


# ---------------------------------------------------------------- TOML loading

_TOP = {f.name for f in dataclasses.fields(Study)}
_STUDIES = Path(__file__).resolve().parent / "studies"


def _field_types(cls) -> dict[str, Any]:
    return {f.name: f.type for f in dataclasses.fields(cls)}


def _check_type(where: str, value: Any, typ: str) -> Any:
    typ = str(typ).replace(" ", "")
    ok = {
        "str": isinstance(value, str),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "float": isinstance(value, (int, float)) and not isinstance(value, bool),
        "int|None": isinstance(value, int) and not isinstance(value, bool),
        "float|None": isinstance(value, (int, float)) and not isinstance(value, bool),
        "bool|None": isinstance(value, bool),
        "str|None": isinstance(value, str),
        "tuple[int,...]": isinstance(value, (list, tuple)) and all(
            isinstance(x, int) and not isinstance(x, bool) for x in value),
        "tuple[float,...]": isinstance(value, (list, tuple)) and all(
            isinstance(x, (int, float)) and not isinstance(x, bool) for x in value),
        "tuple[str,...]": isinstance(value, (list, tuple)) and all(
            isinstance(x, str) for x in value),
    }.get(typ, True)
    if not ok:
        want = {"tuple[int,...]": "a list of integers", "int|None": "an integer",
                "float": "a number", "int": "an integer", "str": "a string",
                "float|None": "a number", "bool|None": "true or false",
                "str|None": "a string", "tuple[float,...]": "a list of numbers",
                "tuple[str,...]": "a list of strings"}[typ]
        _fail(where, f"expected {want}, got {value!r}")
    return value


def _unknown(where: str, key: str, allowed) -> None:
    hint = difflib.get_close_matches(key, list(allowed), n=1)
    extra = f"; did you mean `{hint[0]}`?" if hint else ""
    _fail(where, f"unknown key `{key}`{extra}")


def study_from_dict(d: Mapping[str, Any], origin: str = "study") -> Study:
    """Build a study from parsed TOML, rejecting unknown keys and bad values."""
    if not isinstance(d, Mapping):
        _fail(origin, "expected a table")
    for k in d:
        if k not in _TOP:
            _unknown(origin, k, _TOP)
    kwargs: dict[str, Any] = {}
    for name, typ in _field_types(Study).items():
        if name not in d:
            continue
        v = d[name]
        if name in _SECTIONS or name == "search":
            if not isinstance(v, Mapping):
                _fail(f"{origin}: [{name}]", "expected a table")
            cls = _SECTIONS.get(name, SearchConfig)
            types = _field_types(cls)
            for k, x in v.items():
                if k not in types:
                    _unknown(f"{origin}: [{name}]", k, types)
                _check_type(f"{name}.{k}", x, types[k])
            kwargs[name] = cls(**v)
        elif name == "factors":
            if not isinstance(v, Mapping):
                _fail("factors", "expected a table of lists")
            facs = []
            for k, vals in v.items():
                if not isinstance(vals, list):
                    _fail(f"factors.{k}", f"expected a list of values, got {vals!r}")
                facs.append((k, tuple(tuple(x) if isinstance(x, list) and k != "vary"
                                      else x for x in vals)))
            kwargs[name] = tuple(facs)
        elif name == "claims":
            if not isinstance(v, list):
                _fail("claims", "expected an array of tables ([[claims]])")
            claims = []
            for i, c in enumerate(v):
                if not isinstance(c, Mapping):
                    _fail(f"claims[{i}]", "expected a table")
                fields = _field_types(Claim)
                for k in c:
                    if k not in fields:
                        _unknown(f"{origin}: [[claims]]", k, fields)
                missing = [k for k in fields if k not in c]
                if missing:
                    _fail(f"claims[{i}]", f"missing key `{missing[0]}`")
                for side in ("a", "b"):
                    if not isinstance(c[side], Mapping):
                        _fail(f"claims[{i}].{side}", "expected a table of factor values")
                for k, typ in fields.items():
                    if typ == "str":
                        _check_type(f"claims[{i}].{k}", c[k], typ)
                claims.append(Claim(**{k: c[k] for k in fields}))
            kwargs[name] = tuple(claims)
        elif name == "vary":
            kwargs[name] = _check_sources("vary", v)
        else:
            kwargs[name] = _check_type(name, v, typ)
    if "name" not in kwargs:
        _fail(origin, "missing key `name`")
    return Study(**kwargs)


def builtin_names() -> list[str]:
    root = _STUDIES
    names = []

    def walk(node, prefix):
        for child in sorted(node.iterdir(), key=lambda c: c.name):
            if child.is_dir():
                walk(child, f"{prefix}{child.name}/")
            elif child.name.endswith(".toml"):
                names.append(prefix + child.name[: -len(".toml")])

    walk(root, "")
    return names


def _parse_toml(text: str, origin: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UserError(f"{origin}: invalid TOML: {e}") from None
    except RecursionError:  # tomllib parses nested arrays and tables recursively
        raise UserError(f"{origin}: invalid TOML: arrays or tables nested too deeply") \
            from None


def load_study(ref: str) -> Study:
    """A built-in study name or the path of a TOML file."""
    if ref in builtin_names():
        text = (_STUDIES / f"{ref}.toml").read_text()
        return study_from_dict(_parse_toml(text, ref), ref)
    path = Path(ref)
    if ref.endswith(".toml") or path.exists():
        try:
            text = path.read_text(encoding="utf-8")  # what TOML files are
        except OSError as e:
            raise UserError(f"{ref}: cannot read study file ({e.strerror})") from None
        except UnicodeDecodeError as e:
            raise UserError(f"{ref}: invalid TOML: not UTF-8 (byte {e.start})") from None
        return study_from_dict(_parse_toml(text, ref), ref)
    hint = difflib.get_close_matches(ref, builtin_names(), n=1)
    extra = f"; did you mean `{hint[0]}`?" if hint else "; see `jaxstab list`"
    raise UserError(f"study: unknown study `{ref}`{extra}")


def expand_refs(refs: list[str]) -> list[Study]:
    """`article` names the whole article suite; load (and so validate) every study."""
    out = []
    for ref in refs:
        if ref == "article":
            out.extend(load_study(n) for n in builtin_names() if n.startswith("article/"))
        else:
            out.append(load_study(ref))
    return out
