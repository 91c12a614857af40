"""The dataset registry: adding a dataset is one entry here (and its rules, if any, in
``_config``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from jaxstab.builtin.data import _real, _synthetic

if TYPE_CHECKING:
    from jaxstab.builtin.data._config import DataConfig


@dataclass(frozen=True)
class Dataset:
    """``device``: ``sample(cfg, keys, hp) -> dict`` traced inside the run program.
    ``host``: ``sample(cfg, seeds, hp) -> dict`` of NumPy arrays, one run at a time
    (for transforms that only exist as NumPy code, such as imbalanced-learn)."""

    name: str
    host: bool
    sample: Callable
    n_classes: int = 2


# (rows, features, classes) of the fixed datasets; `classification` (scikit-learn's
# make_classification) and the synthetic ones are drawn per seed at the configured size.
FIXED_DATASETS = {"digits": (1797, 64, 10), "breast_cancer": (569, 30, 2),
                  "wine": (178, 13, 3), "mnist1d": (5000, 40, 10)}
_DATASETS = {
    "article_uniform": (False, _synthetic.uniform_coin),
    "article_ex1": (True, _synthetic.article_ex1),
    "classification": (True, _real.classification),
    "long_range": (False, _real.long_range),
    **{name: (False, _real.fixed_device) for name in FIXED_DATASETS},
    "file": (False, _real.fixed_device),  # a user's CSV / NPZ ([data] path = ...)
}
DATASETS = tuple(_DATASETS)


def get_dataset(cfg: "DataConfig") -> Dataset:
    """Depends on the static fields of ``cfg`` only (its name, file and resampler)."""
    host, sample = _DATASETS[cfg.name]
    if cfg.host and sample is _real.fixed_device:
        # The same fixed data when a setting resamples with imbalanced-learn (NumPy only).
        host, sample = True, _real.fixed_host
    return Dataset(cfg.name, host, sample, cfg.n_classes)


def registered() -> tuple[str, ...]:
    return DATASETS
