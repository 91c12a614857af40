"""The ``[search]`` section: a hyperparameter search over learning rate x weight decay
(``jaxstab.search``)."""

from __future__ import annotations

from dataclasses import dataclass

from jaxstab._check import check_choice as _check_choice
from jaxstab._check import check_range as _check_range
from jaxstab._check import fail as _fail

SEARCH_METHODS = ("grid", "random", "bayes")


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


