"""Duck-typed study results and claims for the jaxstab.stats tests (no tests here).

Stand-ins for jaxstab.store / jaxstab.study objects, in the contract jaxstab.stats reads:
settings with ``key``, ``factors``, ``seeds``, ``metrics``, ``diverged``, ``sources``
and ``curves``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import numpy as np


@dataclass(frozen=True)
class Claim:
    text: str
    metric: str
    kind: str
    direction: str
    a: dict = field(default_factory=dict)
    b: dict = field(default_factory=dict)


def claim(text: str, a: dict, b: dict, *, metric: str = "test_acc", kind: str = "mean",
          direction: str = "greater") -> Claim:
    return Claim(text, metric, kind, direction, a, b)


def setting(factors: dict[str, Any], values, sources=("init",), *, metric="test_acc",
            diverged=None, seeds=None, curves=None) -> SimpleNamespace:
    values = np.asarray(values, float).copy()
    flags = (~np.isfinite(values)) if diverged is None else np.asarray(diverged, bool)
    values[flags] = np.nan
    return SimpleNamespace(
        key=json.dumps(factors, sort_keys=True), factors=factors,
        seeds=np.arange(values.size) if seeds is None else np.asarray(seeds),
        metrics={metric: values}, diverged=flags, sources=tuple(sources),
        curves=curves or {})


def results(*settings, study=None) -> SimpleNamespace:
    out = SimpleNamespace(settings=list(settings))
    if study is not None:
        out.study = study
    return out
