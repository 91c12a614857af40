"""A chunk's runs as columns: what the sweep hands the store after every chunk, and the
(setting, seed) pairs it trains as columns too.

One ``Runs`` holds NumPy arrays over the chunk's runs (``len(runs)`` is their number):
at 100k runs a chunk a Python object per run would cost more than training them on a
GPU, so the sweep builds these arrays with NumPy and the store writes them as they are.
Iterating gives one ``RunRecord`` per run, for the few callers that want objects (tests,
small searches).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterable

import numpy as np


@dataclass(frozen=True)
class RunRecord:
    setting: str  # the setting's key (canonical JSON of its factor values)
    seed: int
    metrics: dict  # name -> float, or None when the run diverged
    curves: dict  # name -> list of per-epoch floats
    diverged: bool
    diverged_step: int | None


@dataclass(frozen=True, eq=False)
class Runs:
    """``keys``: the distinct setting keys; ``setting``: (n,) index into ``keys``;
    ``seeds`` (n,) int64; ``diverged`` (n,) bool; ``steps`` (n,) int64, -1 where the run
    did not diverge; ``metrics``: name -> (n,) float64, NaN for a diverged run (the
    ``diverged`` metric is 0.0 / 1.0); ``curves``: name -> (n, width) float64."""

    keys: tuple
    setting: np.ndarray
    seeds: np.ndarray
    diverged: np.ndarray
    steps: np.ndarray
    metrics: dict
    curves: dict

    def __len__(self) -> int:
        return len(self.seeds)

    def __iter__(self):
        return (self.record(i) for i in range(len(self)))

    def record(self, i: int) -> RunRecord:
        d = bool(self.diverged[i])
        return RunRecord(
            self.keys[int(self.setting[i])], int(self.seeds[i]),
            {k: (None if v[i] != v[i] else float(v[i])) for k, v in self.metrics.items()},
            {k: v[i].tolist() for k, v in self.curves.items()}, d,
            int(self.steps[i]) if d else None)

    def pairs(self) -> list[tuple[str, int]]:
        """``(setting key, seed)`` of each run."""
        return list(zip([self.keys[i] for i in self.setting.tolist()], self.seeds.tolist()))

    def take(self, rows) -> Runs:
        """The runs at ``rows`` (indices or a boolean mask), with the same keys."""
        return Runs(self.keys, self.setting[rows], self.seeds[rows], self.diverged[rows],
                    self.steps[rows], {k: v[rows] for k, v in self.metrics.items()},
                    {k: v[rows] for k, v in self.curves.items()})

    @staticmethod
    def build(settings, which, seeds, diverged, steps, metrics: dict, curves: dict
              ) -> Runs:
        """From the distinct settings (keys, or objects with ``.key``: a key is computed
        once per distinct setting, not per run), ``which`` (n,) the index of each run's
        setting among them, and the runs' arrays."""
        keys = [s if isinstance(s, str) else s.key for s in settings]
        which = np.asarray(which, np.int32)
        if len(set(keys)) < len(keys):  # distinct objects of one setting
            uniq, inv = np.unique(np.array(keys, object), return_inverse=True)
            keys, which = list(uniq), inv.astype(np.int32)[which]
        div = np.asarray(diverged, bool).reshape(-1)
        return Runs(tuple(keys), which, np.asarray(seeds, np.int64).reshape(-1), div,
                    np.where(div, np.asarray(steps, np.int64), -1),
                    {k: np.asarray(v, np.float64) for k, v in metrics.items()},
                    {k: np.asarray(v, np.float64).reshape(len(div), -1)
                     for k, v in curves.items()})

    @staticmethod
    def concat(parts: list[Runs]) -> Runs:
        parts = [p for p in parts if len(p)]
        if not parts:
            return empty()
        keys = list(dict.fromkeys(k for p in parts for k in p.keys))
        pos = {k: i for i, k in enumerate(keys)}
        setting = np.concatenate([np.array([pos[k] for k in p.keys], np.int32)[p.setting]
                                  for p in parts])
        names = set(parts[0].metrics)
        if any(set(p.metrics) != names or set(p.curves) != set(parts[0].curves)
               for p in parts):
            raise ValueError("Runs.concat: the parts record different metrics or curves")
        return Runs(tuple(keys), setting, *(np.concatenate([getattr(p, f) for p in parts])
                                            for f in ("seeds", "diverged", "steps")),
                    {k: np.concatenate([p.metrics[k] for p in parts]) for k in names},
                    {k: np.concatenate([p.curves[k] for p in parts])
                     for k in parts[0].curves})


def empty() -> Runs:
    return Runs((), np.zeros(0, np.int32), np.zeros(0, np.int64), np.zeros(0, bool),
                np.zeros(0, np.int64), {}, {})


def _index(objs) -> tuple[np.ndarray, list]:
    """Index of each item among the distinct items (strings by value, other objects by
    identity), and those items."""
    pos: dict = {}
    firsts: list = []
    which = np.empty(len(objs), np.int32)
    for i, o in enumerate(objs):
        ident = o if isinstance(o, str) else id(o)
        j = pos.get(ident)
        if j is None:
            j = pos[ident] = len(firsts)
            firsts.append(o)
        which[i] = j
    return which, firsts


def from_records(records: Iterable) -> list[Runs]:
    """Per-run objects (``setting, seed, metrics, curves, diverged, diverged_step``, a
    metric None where missing) as ``Runs``, one per set of metric and curve names (a
    run stores the metrics it has, no more), in first-seen order."""
    groups: dict[tuple, list] = {}
    for r in records:
        sig = (tuple(r.metrics), tuple((k, len(v)) for k, v in r.curves.items()))
        groups.setdefault(sig, []).append(r)
    out = []
    for (names, curves), recs in groups.items():
        def col(name):
            return np.array([np.nan if r.metrics[name] is None else r.metrics[name]
                             for r in recs], np.float64)

        which, firsts = _index([r.setting for r in recs])
        out.append(Runs.build(
            firsts, which, [r.seed for r in recs],
            [bool(r.diverged) for r in recs],
            [-1 if r.diverged_step is None else r.diverged_step for r in recs],
            {k: col(k) for k in names},
            {k: np.array([r.curves[k] for r in recs], np.float64).reshape(len(recs), w)
             for k, w in curves}))
    return out


@dataclass(frozen=True, eq=False)
class Pairs:
    """(setting, seed) pairs as columns: ``settings`` the distinct settings, ``which``
    (n,) the index of each pair's setting among them, ``seeds`` (n,) int64. Slicing
    gives the pairs of a chunk without touching each pair in Python."""

    settings: tuple
    which: np.ndarray
    seeds: np.ndarray

    def __len__(self) -> int:
        return len(self.seeds)

    def __getitem__(self, s: slice) -> Pairs:
        return Pairs(self.settings, self.which[s], self.seeds[s])

    def padded(self, size: int, filler: Pairs) -> Pairs:
        """These pairs then the last of ``filler`` repeated, ``size`` in all."""
        extra = size - len(self)
        if extra <= 0:
            return self
        both = Pairs.concat([self, filler[len(filler) - 1:]])
        rep = np.r_[np.arange(len(self)), np.full(extra, len(self))]
        return Pairs(both.settings, both.which[rep], both.seeds[rep])

    def per_run(self) -> list:
        """The setting of each pair (a list as long as the pairs)."""
        return [self.settings[i] for i in self.which.tolist()]

    @staticmethod
    def of(settings, seeds) -> Pairs:
        """From a setting per pair and the seeds."""
        which, firsts = _index(settings)
        return Pairs(tuple(firsts), which, np.asarray(seeds, np.int64).reshape(-1))

    @staticmethod
    def concat(parts: list[Pairs]) -> Pairs:
        # by identity: a Setting's hash would hash its study (claims hold dicts)
        settings = list({id(s): s for p in parts for s in p.settings}.values())
        pos = {id(s): i for i, s in enumerate(settings)}
        return Pairs(tuple(settings),
                     np.concatenate([np.array([pos[id(s)] for s in p.settings],
                                              np.int32)[p.which] for p in parts]),
                     np.concatenate([p.seeds for p in parts]))
