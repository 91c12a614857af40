"""What the page shows of a built-in study's configuration: only what applies.

A study's dictionary lists every field of the built-in task's sections, also those its
model or optimizer never reads (``C`` and ``max_iter`` belong to the logistic model's
Newton solver, ``momentum`` to SGD with momentum). A field is left out when it is at its
default *and* does not apply, or when a factor sets it in every setting; loading the
TOML then fills the same default back, so the page's TOML still trains the same runs
(tests/test_report.py checks that for every built-in study). Adding a model or an
optimizer that reads only some fields: add its rule here.
"""

from __future__ import annotations

import dataclasses
from typing import Any

# Fields of a section that only some choices read: (section, field) -> (the field that
# decides, the values it applies for). Read off jaxstab.models / jaxstab.train: `C` and
# `max_iter` are the logistic model's Newton solver's; the MLP alone has hidden layers
# and a choice of activation; `momentum` and `weight_decay` are read by their optimizers.
_GRADIENT = ("sgd", "momentum", "adam", "adamw", "keras_adam")
_APPLIES = {
    ("model", "C"): (("model", "name"), ("logistic",)),
    ("train", "max_iter"): (("train", "optimizer"), ("newton",)),
    ("train", "momentum"): (("train", "optimizer"), ("momentum",)),
    ("train", "weight_decay"): (("train", "optimizer"), ("adamw",)),
    ("model", "hidden"): (("model", "name"), ("mlp",)),
    ("model", "activation"): (("model", "name"), ("mlp",)),
    ("model", "dropout"): (("model", "name"), ("mlp", "cnn", "rnn", "lstm", "gru")),
    ("model", "l2"): (("model", "name"), ("mlp", "cnn", "rnn", "lstm", "gru")),
    ("train", "batch_size"): (("train", "optimizer"), _GRADIENT),
    ("train", "epochs"): (("train", "optimizer"), _GRADIENT),
    ("train", "learning_rate"): (("train", "optimizer"), _GRADIENT),
}
# The choices the table knows; any other (a user's model, an optax optimizer by name)
# may read every field, so all of them are kept.
_KNOWN = {("model", "name"): ("mlp", "logistic", "cnn", "rnn", "lstm", "gru"),
          ("train", "optimizer"): ("sgd", "momentum", "adam", "adamw", "keras_adam",
                                   "newton")}
_FACTOR_OF = {("model", "name"): "model", ("data", "name"): "dataset"}


def _defaults(section: Any) -> dict[str, Any]:
    if not dataclasses.is_dataclass(section):
        return {}
    out = {}
    for f in dataclasses.fields(section):
        if f.default is not dataclasses.MISSING:
            out[f.name] = f.default
        elif f.default_factory is not dataclasses.MISSING:
            out[f.name] = f.default_factory()
    return out


def _same(a: Any, b: Any) -> bool:
    norm = (lambda v: list(v) if isinstance(v, tuple) else v)
    return norm(a) == norm(b)


def _applies(d: dict, section: str, name: str) -> bool:
    rule = _APPLIES.get((section, name))
    if rule is None:
        return True
    (where, field), values = rule
    choices = {d.get(where, {}).get(field)}
    choices |= set(d.get("factors", {}).get(_FACTOR_OF.get((where, field), field), ()))
    choices = {c for c in choices if isinstance(c, str)}
    if not choices or any(c not in _KNOWN[(where, field)] for c in choices):
        return True
    return any(c in values for c in choices)


def applicable(study: Any) -> dict:
    """``study.to_dict()`` without the built-in sections' fields that are at their
    default and unused, or set by a factor in every setting (at their default)."""
    d = study.to_dict()
    factors = set(d.get("factors", {}))
    for section in ("data", "model", "train"):
        cfg, part = getattr(study, section, None), d.get(section)
        if not isinstance(part, dict) or cfg is None:
            continue
        defaults = _defaults(cfg)
        keep = {}
        for name, value in part.items():
            at_default = name in defaults and _same(value, defaults[name])
            if at_default and (name in factors or not _applies(d, section, name)):
                continue
            keep[name] = value
        d[section] = keep
    return d
