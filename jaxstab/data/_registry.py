from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from jaxstab.data import _real, _synthetic
from jaxstab.study import FIXED_DATASETS, DataConfig, n_classes


@dataclass(frozen=True)
class Dataset:
    """``device``: ``sample(cfg, keys, hp) -> dict`` traced inside the run program.
    ``host``: ``sample(cfg, seeds, hp) -> dict`` of NumPy arrays, one run at a time
    (for transforms that only exist as NumPy code, such as imbalanced-learn)."""

    name: str
    host: bool
    sample: Callable
    n_classes: int = 2


_DATASETS = {
    "article_uniform": Dataset("article_uniform", False, _synthetic.uniform_coin),
    "article_ex1": Dataset("article_ex1", True, _synthetic.article_ex1),
    "classification": Dataset("classification", True, _real.classification),
    "long_range": Dataset("long_range", False, _real.long_range),
    **{name: Dataset(name, False, _real.fixed_device, n_classes(name))
       for name in FIXED_DATASETS},
}
# The same fixed datasets when a setting resamples with imbalanced-learn (NumPy only).
_HOST_VARIANTS = {name: Dataset(name, True, _real.fixed_host, n_classes(name))
                  for name in FIXED_DATASETS}


def get_dataset(cfg: DataConfig) -> Dataset:
    """Depends on the static fields of ``cfg`` only (its name and resampler)."""
    if cfg.host and cfg.name in _HOST_VARIANTS:
        return _HOST_VARIANTS[cfg.name]
    return _DATASETS[cfg.name]


def registered() -> tuple[str, ...]:
    return tuple(_DATASETS)
