"""A study's runs read back from the store: NumPy arrays per setting."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from jaxstab.errors import UserError

if TYPE_CHECKING:  # (the study layer imports JAX; exporting a store needs none of it)
    from jaxstab.study import Study


@dataclass(frozen=True)
class SettingResults:
    key: str
    factors: dict
    sources: tuple
    seeds: np.ndarray
    metrics: dict  # name -> (n,) float array, NaN where missing (a diverged run)
    diverged: np.ndarray
    diverged_step: np.ndarray  # -1 where the run did not diverge
    curves: dict  # name -> (n, epochs) float array


@dataclass(frozen=True)
class StudyResults:
    """A study's runs read back: ``settings`` in grid order, each with its factor values
    as a dict and its metrics as NumPy arrays over seeds."""

    study: Study
    fingerprint: str
    settings: list
    chunks: list  # dicts: finished, seconds, runs, env

    def values(self, metric: str) -> list[tuple[dict, np.ndarray]]:
        """``[(factors, values over seeds)]``, NaN where a run diverged."""
        out = []
        for s in self.settings:
            if metric not in s.metrics and len(s.seeds):
                known = sorted({m for x in self.settings for m in x.metrics})
                raise UserError(f"metric: `{metric}` is not recorded for {self.study.name}; "
                                f"it has: {', '.join(known)}")
            out.append((dict(s.factors), s.metrics.get(metric, np.full(len(s.seeds),
                                                                         np.nan))))
        return out

    def setting(self, **factors) -> "SettingResults":
        """The one setting with these factor values."""
        found = [s for s in self.settings
                 if all(k in s.factors and s.factors[k] == v for k, v in factors.items())]
        if len(found) != 1:
            raise UserError(f"setting: {factors} matches {len(found)} settings of "
                            f"{self.study.name}; it must match exactly one")
        return found[0]
