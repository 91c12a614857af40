"""The sweep: the only module with ``jax.vmap``.

Settings are grouped by what fixes the compiled program (``Setting.static``); inside a
group, seeds and continuous hyperparameters are one flat axis of runs, vmapped in one
jitted program and cut into equal chunks (the last one padded) so that every chunk of a
group reuses one compile. A run's keys depend only on (study seed, source, seed index),
so chunking and the seed count never change a run.
"""

from __future__ import annotations

import functools
import math
import time
from dataclasses import dataclass, field
from typing import Callable, Iterable

import jax
import jax.numpy as jnp
import numpy as np

from jaxstab.data import get_dataset
from jaxstab.study import CONTINUOUS, SOURCES, Setting, Study
from jaxstab.train import make_run

DEFAULT_CHUNK = 1024


@dataclass(frozen=True)
class RunRecord:
    setting: str  # the setting's key (canonical JSON of its factor values)
    seed: int
    metrics: dict  # name -> float, or None when the run diverged
    curves: dict  # name -> list of per-epoch floats
    diverged: bool
    diverged_step: int | None


@dataclass
class SweepStats:
    runs: int = 0
    seconds: float = 0.0
    compiles: int = 0
    groups: int = 0
    chunks: int = 0
    per_chunk: list = field(default_factory=list)


def source_indices(setting: Setting, seeds: Iterable[int]) -> np.ndarray:
    """(n, 6) seed index per source: the seed index where the source varies, else 0."""
    seeds = np.asarray(list(seeds), np.int64)
    cols = [seeds if s in setting.vary else np.zeros_like(seeds) for s in SOURCES]
    return np.stack(cols, axis=1).astype(np.uint32)


def _keys(study_seed, idx):
    """``fold_in(fold_in(key(study_seed), source_id), seed_index)`` for each source."""
    root = jax.random.PRNGKey(study_seed)
    return {s: jax.random.fold_in(jax.random.fold_in(root, i), idx[i])
            for i, s in enumerate(SOURCES)}


@functools.lru_cache(maxsize=None)
def _program(static: tuple, host: bool, vmapped: bool = True):
    run = make_run(static)
    data_cfg = static[0]
    dataset = get_dataset(data_cfg)

    def one(study_seed, idx, hp, data):
        keys = _keys(study_seed, idx)
        if not host:
            data = dataset.sample(data_cfg, keys, hp)
        return run(keys, hp, data)

    if not vmapped:
        return jax.jit(one)
    return jax.jit(jax.vmap(one, in_axes=(None, 0, 0, 0 if host else None)))


@functools.lru_cache(maxsize=None)
def _host_seed_program():
    def one(study_seed, idx):
        keys = _keys(study_seed, idx)
        return jnp.stack([jax.random.bits(keys[s], (), jnp.uint32) for s in SOURCES])

    return jax.jit(jax.vmap(one, in_axes=(None, 0)))


def _host_data(settings: list[Setting], seeds: list[int], study_seed: int) -> dict:
    """Per-run NumPy data for datasets that are drawn on the host, stacked."""
    idx = np.concatenate([source_indices(s, [k]) for s, k in zip(settings, seeds)])
    ints = np.asarray(_host_seed_program()(study_seed, idx))
    rows = []
    for setting, seed_ints in zip(settings, ints):
        seeds_by_src = {s: int(v) for s, v in zip(SOURCES, seed_ints)}
        cfg = setting.data
        # The article's script fixes scikit-learn's random_state; keep it while the
        # source is not varied, so seed index 0 is the script's own split.
        if "split" not in setting.vary and cfg.split_random_state is not None:
            seeds_by_src["split"] = cfg.split_random_state
        if "resample" not in setting.vary and cfg.resample_random_state is not None:
            seeds_by_src["resample"] = cfg.resample_random_state
        rows.append(get_dataset(cfg).sample(cfg, seeds_by_src, setting.hparams))
    return {k: np.stack([r[k] for r in rows]) for k in rows[0]}


def _hparams(settings: list[Setting]) -> dict:
    return {n: np.asarray([s.hparams[n] for s in settings], np.float32) for n in CONTINUOUS}


def execute(settings: list[Setting], seeds: list[int], *, study_seed: int,
            vmapped: bool = True) -> dict:
    """Run ``(settings[i], seeds[i])`` for every i in one program; all share a static."""
    static = settings[0].static
    host = get_dataset(settings[0].data).host
    idx = np.concatenate([source_indices(s, [k]) for s, k in zip(settings, seeds)])
    hp = _hparams(settings)
    data = _host_data(settings, seeds, study_seed) if host else None
    seed_arr = np.uint32(study_seed)
    if vmapped:
        out = _program(static, host)(seed_arr, idx, hp, data)
        return jax.device_get(out)
    prog = _program(static, host, vmapped=False)
    outs = []
    for i in range(len(settings)):
        pick = (lambda t: jax.tree_util.tree_map(lambda a: a[i], t))
        outs.append(jax.device_get(prog(seed_arr, idx[i], pick(hp),
                                        pick(data) if host else None)))
    return jax.tree_util.tree_map(lambda *xs: np.stack(xs), *outs)


def _records(settings, seeds, out) -> list[RunRecord]:
    recs = []
    for i, (setting, seed) in enumerate(zip(settings, seeds)):
        div = bool(out["diverged"][i])
        metrics = {k: (None if div or not np.isfinite(v[i]) else float(v[i]))
                   for k, v in out["metrics"].items()}
        metrics["diverged"] = float(div)
        curves = {k: [float(x) for x in v[i]] for k, v in out["curves"].items()}
        step = int(out["diverged_step"][i])
        recs.append(RunRecord(setting.key, int(seed), metrics, curves, div,
                              step if div else None))
    return recs


def plan(study: Study, seeds: int, skip=frozenset()) -> list[list[tuple[Setting, int]]]:
    """Groups of (setting, seed) still to run, one group per compiled program."""
    groups: dict[tuple, list] = {}
    for setting in study.settings():
        todo = [(setting, k) for k in range(seeds) if (setting.key, k) not in skip]
        if todo:
            groups.setdefault(setting.static, []).extend(todo)
    return list(groups.values())


def chunk_bounds(n: int, chunk_size: int) -> tuple[int, int]:
    """(number of chunks, runs per chunk): equal chunks, so one compile serves them all."""
    n_chunks = math.ceil(n / chunk_size)
    return n_chunks, math.ceil(n / n_chunks)


def sweep(study: Study, *, seeds: int | None = None, chunk_size: int = DEFAULT_CHUNK,
          skip=frozenset(), on_chunk: Callable[[list[RunRecord], float], None] | None = None,
          progress: Callable[[int, int], None] | None = None) -> SweepStats:
    """Train every (setting, seed) not in ``skip``; hand each finished chunk's records to
    ``on_chunk`` (the store commits them) before starting the next."""
    seeds = study.seeds if seeds is None else seeds
    groups = plan(study, seeds, skip)
    stats = SweepStats(groups=len(groups))
    total = sum(len(g) for g in groups)
    start = time.perf_counter()
    for group in groups:
        n_chunks, size = chunk_bounds(len(group), chunk_size)
        for c in range(n_chunks):
            part = group[c * size:(c + 1) * size]
            padded = part + [part[-1]] * (size - len(part))
            t0 = time.perf_counter()
            out = execute([s for s, _ in padded], [k for _, k in padded],
                          study_seed=study.seed)
            recs = _records([s for s, _ in part], [k for _, k in part],
                            jax.tree_util.tree_map(lambda a: a[:len(part)], out))
            seconds = time.perf_counter() - t0
            if on_chunk is not None:
                on_chunk(recs, seconds)
            stats.runs += len(part)
            stats.chunks += 1
            stats.per_chunk.append((len(part), seconds))
            if progress is not None:
                progress(stats.runs, total)
    stats.seconds = time.perf_counter() - start
    return stats
