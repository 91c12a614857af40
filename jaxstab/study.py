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
CONTINUOUS = ("learning_rate", "momentum", "weight_decay", "l2", "dropout", "label_noise")
METRICS = (
    "epoch_accuracy", "train_accuracy", "train_loss", "test_accuracy", "test_loss",
    "balanced_accuracy", "f1", "roc_auc", "diverged",
)
# Bumped whenever a change to the engine changes what a run computes, so old results
# are never mixed with new ones in a store.
ENGINE_VERSION = 1

DATASETS = ("article_ex1", "article_uniform")
RESAMPLERS = ("none", "random_over")
MODELS = ("mlp", "logistic")
ACTIVATIONS = ("relu", "tanh", "sigmoid", "linear")
HEADS = ("sigmoid", "softmax")
OPTIMIZERS = ("sgd", "momentum", "adam", "adamw", "keras_adam", "newton")
LOSSES = ("binary_crossentropy",)


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


@dataclass(frozen=True)
class ModelConfig:
    name: str = "mlp"
    hidden: tuple[int, ...] = (128,)
    activation: str = "relu"
    head: str = "sigmoid"
    l2: float = 0.0
    dropout: float = 0.0
    C: float = 1.0

    def __post_init__(self) -> None:
        _check_choice("model.name", self.name, MODELS)
        object.__setattr__(self, "hidden", tuple(self.hidden))
        if len(self.hidden) > 64:
            _fail("model.hidden", f"{len(self.hidden)} layers, allowed at most 64")
        for i, h in enumerate(self.hidden):
            _check_range(f"model.hidden[{i}]", h, 1, 1_000_000)
        _check_choice("model.activation", self.activation, ACTIVATIONS)
        _check_choice("model.head", self.head, HEADS)
        _check_range("model.l2", self.l2, 0.0, 1e3)
        _check_range("model.dropout", self.dropout, 0.0, 1.0, hi_open=True)
        _check_range("model.C", self.C, 0.0, 1e12, lo_open=True)


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


_SECTIONS = {"data": DataConfig, "model": ModelConfig, "train": TrainConfig}
# Where a bare factor name lives; `vary` is special: the list of varied seed sources.
FACTOR_FIELDS = {
    f.name: section
    for section, cls in _SECTIONS.items()
    for f in dataclasses.fields(cls)
    if f.name not in ("name",)
}


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
        return {name: float(self.value(name)) for name in CONTINUOUS}

    def value(self, name: str) -> Any:
        return getattr(getattr(self, FACTOR_FIELDS[name]), name)

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
            return out

        # Whether dropout / label noise are active at all changes the program.
        flags = (self.model.dropout > 0 or "dropout" in dict(self.factors),
                 self.data.label_noise > 0 or "label_noise" in dict(self.factors))
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
            if name != "vary" and name not in FACTOR_FIELDS:
                _check_choice("factors", name, tuple(FACTOR_FIELDS) + ("vary",))
            if len(values) == 0:
                _fail(f"factors.{name}", "empty list, give at least one value")
        for claim in self.claims:
            for side in ("a", "b"):
                for k in getattr(claim, side):
                    if k not in names:
                        _fail(f"claims.{side}", f"`{k}` is not a factor of this study")
        self.settings()  # validates every grid point

    def settings(self) -> list[Setting]:
        names = [n for n, _ in self.factors]
        out = []
        for values in itertools.product(*(v for _, v in self.factors)):
            chosen = dict(zip(names, values))
            parts = {s: {} for s in _SECTIONS}
            for n, v in chosen.items():
                if n != "vary":
                    parts[FACTOR_FIELDS[n]][n] = v
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
        return {
            "name": self.name, "description": self.description, "question": self.question,
            "seeds": self.seeds, "seed": self.seed, "vary": list(self.vary),
            "main_metric": self.main_metric,
            "data": _section_dict(self.data), "model": _section_dict(self.model),
            "train": _section_dict(self.train),
            "factors": {n: list(v) for n, v in self.factors},
            "claims": [c.to_dict() for c in self.claims],
        }

    @property
    def fingerprint(self) -> str:
        """Hash of what decides the runs' numbers (not the seed count, not the prose)."""
        d = self.to_dict()
        keep = {k: d[k] for k in ("seed", "vary", "data", "model", "train", "factors")}
        keep["engine"] = ENGINE_VERSION
        blob = json.dumps(keep, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


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
    if (model.name == "logistic") != (train.optimizer == "newton"):
        raise UserError(f"{prefix}train.optimizer: `newton` (scikit-learn's solver) goes "
                        f"with model `logistic` and only with it")
    if train.optimizer != "newton" and train.batch_size > data.n_train:
        raise UserError(f"{prefix}train.batch_size: {train.batch_size} is larger than the "
                        f"{data.n_train} training examples")
    if data.resample != "none" and data.name != "article_ex1":
        raise UserError(f"{prefix}data.resample: resampling needs a dataset with a test "
                        f"split run on the host (article_ex1)")


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
        "tuple[int,...]": isinstance(value, (list, tuple)) and all(
            isinstance(x, int) and not isinstance(x, bool) for x in value),
    }.get(typ, True)
    if not ok:
        want = {"tuple[int,...]": "a list of integers", "int|None": "an integer",
                "float": "a number", "int": "an integer", "str": "a string"}[typ]
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
        if name in _SECTIONS:
            if not isinstance(v, Mapping):
                _fail(f"{origin}: [{name}]", "expected a table")
            cls = _SECTIONS[name]
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


def load_study(ref: str) -> Study:
    """A built-in study name or the path of a TOML file."""
    if ref in builtin_names():
        text = (_STUDIES / f"{ref}.toml").read_text()
        return study_from_dict(_parse_toml(text, ref), ref)
    path = Path(ref)
    if ref.endswith(".toml") or path.exists():
        try:
            text = path.read_text()
        except OSError as e:
            raise UserError(f"{ref}: cannot read study file ({e.strerror})") from None
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
