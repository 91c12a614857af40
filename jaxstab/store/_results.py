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

    def to_pandas(self, *, wide: bool = False, curves: bool = False):
        """The runs as a pandas DataFrame: one column per factor, then ``setting`` (the
        export's JSON key), ``seed``, ``diverged``, ``diverged_step`` (NaN where the run
        did not diverge) and

        - long (default): ``metric`` and ``value``, one row per run and metric (the rows
          of ``jaxstab export``; NaN where a run diverged);
        - ``wide=True``: one column per metric, one row per run;
        - ``curves=True``: ``curve``, ``step`` and ``value``, one row per run, curve and
          step (the curve rows of ``jaxstab export --curves``).

        A factor whose values are lists (``vary``) holds tuples, so it can be grouped."""
        import pandas as pd

        names = [n for n, _ in self.study.factors]
        clash = {"setting", "seed", "metric", "value", "curve", "step", "diverged",
                 "diverged_step"} & set(names)
        if clash:
            raise UserError(f"to_pandas: factor `{sorted(clash)[0]}` has the name of a "
                            f"column of the frame; rename the factor")
        parts = []
        for s in self.settings:
            n = len(s.seeds)
            base = {k: [_hashable(s.factors[k])] * n for k in names}
            base.update(setting=[s.key] * n, seed=s.seeds.astype(np.int64),
                        diverged=s.diverged.astype(np.int64),
                        diverged_step=np.where(s.diverged, s.diverged_step, np.nan))
            frame = pd.DataFrame(base)
            if curves:
                for c in sorted(s.curves):
                    width = s.curves[c].shape[1]
                    rows = frame.iloc[np.repeat(np.arange(n), width)].reset_index(drop=True)
                    parts.append(rows.assign(curve=c, step=np.tile(np.arange(width), n),
                                             value=s.curves[c].reshape(-1)))
            elif wide:
                parts.append(frame.assign(**{m: s.metrics[m] for m in sorted(s.metrics)}))
            else:
                parts += [frame.assign(metric=m, value=s.metrics[m])
                          for m in sorted(s.metrics)]
        if not parts:
            return pd.DataFrame(columns=names + ["setting", "seed", "diverged",
                                                 "diverged_step"])
        order = (["curve", "step"] if curves else [] if wide else ["metric"])
        return (pd.concat(parts, ignore_index=True)
                .sort_values(["setting", "seed", *order], kind="stable")
                .reset_index(drop=True))


def _hashable(v):
    return tuple(_hashable(x) for x in v) if isinstance(v, (list, tuple)) else v
