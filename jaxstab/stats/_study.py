"""Reading a study's results (duck-typed, see jaxstab.store) into per-seed arrays.

Contract used here: ``results.settings`` is a sequence of objects with ``key`` (canonical
JSON of the factor values), ``factors`` (dict), ``seeds`` (int array, seed indices),
``metrics`` (dict of float arrays, NaN where the run diverged), ``diverged`` (bool
array) and ``sources`` (the seed sources that vary in that setting).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
import math
from typing import Any

import numpy as np

from jaxstab.errors import UserError
from jaxstab.stats import _check
from jaxstab.stats._direction import guess_direction


@dataclass(frozen=True)
class SimpleResults:
    """A subset of a study's settings, in the shape the functions here read."""

    settings: list[Any]


@dataclass(frozen=True)
class Group:
    """One setting's values of one metric; NaN where the run diverged."""

    name: str
    key: str
    values: np.ndarray
    seeds: np.ndarray | None = None
    sources: frozenset[str] | None = None

    @property
    def n_diverged(self) -> int:
        return int((~np.isfinite(self.values)).sum())

    @property
    def n_total(self) -> int:
        return int(self.values.size)

    @property
    def n_finished(self) -> int:
        return int(np.isfinite(self.values).sum())

    def runs(self) -> str:
        """"1 of 10 finished, 9 diverged"."""
        text = f"{self.n_finished} of {self.n_total} finished"
        return text + (f", {self.n_diverged} diverged" if self.n_diverged else "")


def _plain(value: Any) -> Any:
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v) for v in value]
    return value


# The seed of every resampling compare, the summary and a report make: same store,
# same numbers.
RNG_SEED = 0
# Resamples of every bootstrap and permutation compare, the summary and a report make.
# The mean p-values that decide verdicts, ties and matrices come from t tests, which do
# not resample; spread p-values come from the permutation of the std ratio (every split
# at small n), and 2,000 draws put a permutation p-value of 0.05 within +-0.005
# (one sd) while costing under half of 10,000 (the article suite's report: 7.3 s of CPU
# in stats.analyze against 17.5 s; 10 s in all is the target).
EXPLORE_RESAMPLES = 1999


def higher_is_better(metric: str) -> bool:
    """Whether larger values of ``metric`` are better, guessed from its name when no
    direction is declared (``guess_direction``); the guess is named in the ranking's
    note."""
    return guess_direction(metric)


# One spelling of a setting for every reader (compare, the end-of-run summary, the
# report), so a learning rate of 1e-4 reads ``1e-4`` in a table, a heatmap, a legend
# and a verdict sentence alike (a fixed-decimals format once wrote it as ``0.000``).
def value_text(v: Any) -> str:
    """A factor value, exactly: the shortest text that reads back as the same number
    (``1e-4``, ``3e-4``, ``0.001``, ``19``), lists joined with ``+``."""
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, np.ndarray):
        v = v.tolist()
    if isinstance(v, (list, tuple)):
        return "+".join(value_text(x) for x in v)
    if isinstance(v, bool) or not isinstance(v, float):
        return str(v)
    if not math.isfinite(v):
        return str(v)
    if v != 0 and (abs(v) < 1e-3 or abs(v) >= 1e6):
        for digits in range(17):  # the shortest mantissa that round-trips
            text = f"{v:.{digits}e}"
            if float(text) == v:
                break
        mantissa, exponent = text.split("e")
        return f"{mantissa}e{int(exponent)}"
    text = repr(v)
    return text[:-2] if text.endswith(".0") else text


def label(factors: Mapping[str, Any]) -> str:
    """A setting's name: ``learning_rate=1e-4, batch_size=256`` ("" without factors)."""
    return ", ".join(f"{k}={value_text(v)}" for k, v in factors.items())


def settings_of(results: Any, name: str = "results") -> list[Any]:
    settings = getattr(results, "settings", None)
    if settings is None:
        raise UserError(f"{name}: need study results with `.settings`, got "
                        f"{type(results).__name__}")
    settings = list(settings)
    if not settings:
        raise UserError(f"{name}: the study has no settings with results")
    return settings


def metric_values(setting: Any, metric: str) -> np.ndarray:
    if metric not in setting.metrics and len(np.atleast_1d(setting.seeds)) == 0:
        return np.zeros(0)  # a setting with no runs yet records no metric
    if metric not in setting.metrics:
        known = ", ".join(sorted(setting.metrics)) or "none"
        raise UserError(f"metric: {metric!r} not recorded for setting {setting.key} "
                        f"(known: {known})")
    values = np.asarray(setting.metrics[metric], dtype=float).copy()
    diverged = np.asarray(getattr(setting, "diverged", np.zeros(values.shape, bool)), bool)
    values[diverged] = np.nan
    return values


def group(setting: Any, metric: str) -> Group:
    seeds = np.asarray(setting.seeds)
    # Stored seeds come ascending: a linear check first, the sort only when they do not
    # (np.unique on every call was most of compare's time at 300,000 runs a setting).
    if not np.all(seeds[1:] > seeds[:-1]) and np.unique(seeds).size != seeds.size:
        raise UserError(f"results: setting {setting.key} repeats a seed index")
    return Group(label(setting.factors) or setting.key, setting.key,
                 metric_values(setting, metric), seeds, frozenset(setting.sources))


def groups(data: Any, metric: str | None) -> list[Group]:
    """Groups from study results (needs ``metric``) or from ``{name: values}``."""
    if isinstance(data, Mapping):
        if len(data) < 2:
            raise UserError(f"data: need at least 2 settings, got {len(data)}")
        return [Group(str(k), str(k), _check.array(v, str(k))) for k, v in data.items()]
    if metric is None:
        raise UserError("metric: required when comparing study results")
    out = [group(s, metric) for s in settings_of(data, "data")]
    if len(out) < 2:
        raise UserError(f"data: need at least 2 settings, got {len(out)}")
    return out


def can_pair(a: Group, b: Group) -> bool:
    """Runs with one seed index share every source's key, so two settings that vary
    the same sources are paired seed by seed, when they have seeds in common."""
    return (a.seeds is not None and b.seeds is not None and a.sources == b.sources
            and share_seeds(a.seeds, b.seeds))


def share_seeds(a: np.ndarray, b: np.ndarray) -> bool:
    """Whether two settings ran at least 2 seeds in common (the fewest pairs a paired
    test takes). Imported scores may number each setting's seeds apart (A: 0..n-1,
    B: n..2n-1): then there is nothing to pair and the runs are compared unpaired."""
    if a.shape == b.shape and np.array_equal(a, b):  # jaxstab's own runs: O(n)
        return a.size >= 2
    return np.intersect1d(a, b, assume_unique=True).size >= 2


def aligned(a: Group, b: Group) -> tuple[np.ndarray, np.ndarray]:
    """Values of the seeds both settings ran, in the same order."""
    _, ia, ib = np.intersect1d(a.seeds, b.seeds, return_indices=True)
    return a.values[ia], b.values[ib]


def pairing_note(a: Group, b: Group) -> str:
    """What pairing by seed index leaves out, so that no seed is dropped silently."""
    x, y = aligned(a, b)
    notes = []
    for g, other in ((a, b), (b, a)):
        extra = g.n_total - x.size
        if extra:
            notes.append(f"{extra} of {g.n_total} runs of {g.name} have no seed partner "
                         f"in {other.name} and are left out")
    broken = int((np.isfinite(x) != np.isfinite(y)).sum())
    if broken:
        notes.append(f"{broken} pair(s) dropped because one side diverged")
    if not notes:
        return ""
    return f"paired on {x.size} shared seed indices: " + "; ".join(notes)


def shortfall(a: Group, b: Group, *, paired: bool, min_n: int) -> str:
    """Why two settings cannot be compared ("" when they can): too few finished runs
    (or complete pairs) on a side, with the counts."""
    if paired:
        x, y = aligned(a, b)
        n = int((np.isfinite(x) & np.isfinite(y)).sum())
        if n < min_n:
            return (f"too few finished runs to pair: {n} complete pair(s), {min_n} needed; "
                    f"{a.name}: {a.runs()}; {b.name}: {b.runs()}")
        return ""
    short = [g for g in (a, b) if g.n_finished < min_n]
    if short:
        return "too few finished runs: " + "; ".join(
            f"{g.name}: {g.runs()}" for g in short) + f" ({min_n} needed a side)"
    return ""


def _same(x: Any, y: Any) -> bool:
    x, y = _plain(x), _plain(y)
    if isinstance(x, list) and isinstance(y, list):
        return len(x) == len(y) and all(_same(u, v) for u, v in zip(x, y, strict=True))
    return x == y


def matches(factors: Mapping[str, Any], selector: Mapping[str, Any]) -> bool:
    return all(k in factors and _same(factors[k], v) for k, v in selector.items())


def find(settings: list[Any], selector: Mapping[str, Any], where: str) -> Any:
    found = [s for s in settings if matches(s.factors, selector)]
    if len(found) != 1:
        which = "no setting" if not found else f"{len(found)} settings"
        raise UserError(f"{where}: {dict(selector)} matches {which}; it must select "
                        f"exactly one")
    return found[0]
