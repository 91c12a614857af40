from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from jaxstab.data import _synthetic
from jaxstab.study import DataConfig


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
}


def get_dataset(cfg: DataConfig) -> Dataset:
    return _DATASETS[cfg.name]
