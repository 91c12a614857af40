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
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, Iterable, Iterator, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np

from jaxstab.errors import UserError
from jaxstab.runs import RunRecord as RunRecord  # noqa: F401  (per-run view of Runs)
from jaxstab.runs import Pairs, Runs
from jaxstab.task import SOURCES

if TYPE_CHECKING:  # the sweep asks a setting's task (Setting.program), never a study module
    from jaxstab.study import Setting, Study

DEFAULT_CHUNK = 1024  # largest automatic chunk on the CPU
MAX_CHUNK_ACCEL = 65536  # largest automatic chunk on an accelerator


@dataclass
class SweepStats:
    runs: int = 0
    seconds: float = 0.0
    compiles: int = 0
    groups: int = 0
    chunks: int = 0
    per_chunk: list = field(default_factory=list)
    chunk_size: int = 0  # runs per call of the chunk in progress (recorded with it)


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


_PROGRAMS: dict = {}
_RAN: set = set()  # (static, runs per call) this process has run: compiled already


def compiled(setting: Setting, size: int) -> bool:
    """Whether ``setting``'s program ran in this process at ``size`` runs per call (a
    later round of a sequential run then starts without compiling)."""
    return (setting.static, size) in _RAN


def _program(setting: Setting, vmapped: bool = True):
    """The jitted program of ``setting``'s compiled group (one per static)."""
    cache_key = (setting.static, vmapped)
    if cache_key in _PROGRAMS:
        return _PROGRAMS[cache_key]
    run, host = setting.program()

    def one(study_seed, idx, hp, data):
        return run(_keys(study_seed, idx), hp, data)

    prog = jax.jit(one) if not vmapped else jax.jit(
        jax.vmap(one, in_axes=(None, 0, 0, 0 if host else None)))
    _PROGRAMS[cache_key] = prog
    return prog


@functools.lru_cache(maxsize=None)
def _host_seed_program():
    def one(study_seed, idx):
        keys = _keys(study_seed, idx)
        return jnp.stack([jax.random.bits(keys[s], (), jnp.uint32) for s in SOURCES])

    return jax.jit(jax.vmap(one, in_axes=(None, 0)))


def _host_data(pairs: Pairs, study_seed: int, idx: np.ndarray) -> dict:
    """Per-run NumPy data for datasets that are drawn on the host, stacked."""
    ints = np.asarray(_host_seed_program()(study_seed, idx))
    rows = [setting.host_sample({s: int(v) for s, v in zip(SOURCES, seed_ints)})
            for setting, seed_ints in zip(pairs.per_run(), ints)]
    return {k: np.stack([r[k] for r in rows]) for k in rows[0]}


def _mesh():
    """A 1-D mesh over this process's devices: the seed axis is split across them."""
    devs = jax.local_devices()
    if len(devs) < 2:
        return None
    return jax.sharding.Mesh(np.array(devs), ("runs",))


def _shard(tree, mesh):
    if mesh is None or tree is None:
        return tree
    sh = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec("runs"))
    return jax.tree_util.tree_map(lambda a: jax.device_put(a, sh), tree)


def _inputs(settings, seeds, study_seed: int):
    """Host arrays for one chunk (``settings``: a ``Pairs``, or a setting per run with
    ``seeds``), built per distinct setting with NumPy (a Python call per run costs more
    than a GPU spends training it at 100k runs a chunk)."""
    pairs = settings if isinstance(settings, Pairs) else Pairs.of(settings, seeds)
    first = pairs.settings[0]
    idx = np.zeros((len(pairs), len(SOURCES)), np.uint32)
    hp = {n: np.zeros(len(pairs), np.float32) for n in first.hparams}
    for j, setting in enumerate(pairs.settings):
        rows = pairs.which == j
        idx[rows] = source_indices(setting, pairs.seeds[rows])
        for n, v in setting.hparams.items():
            hp[n][rows] = v
    data = _host_data(pairs, study_seed, idx) if first.host else None
    return np.uint32(study_seed), idx, hp, data


def execute(settings, seeds, *, study_seed: int, vmapped: bool = True) -> dict:
    """Run ``(settings[i], seeds[i])`` for every i in one program; all share a static
    (``settings`` may be a ``Pairs``, then ``seeds`` is not used). With several local
    devices the run axis is sharded over them (no communication between runs);
    ``vmapped=False`` runs them one at a time (the reference)."""
    pairs = settings if isinstance(settings, Pairs) else Pairs.of(settings, seeds)
    first = pairs.settings[0]
    seed_arr, idx, hp, data = _inputs(pairs, None, study_seed)
    if vmapped:
        mesh = _mesh()
        out = _program(first)(seed_arr, *_shard((idx, hp, data), mesh))
        _RAN.add((first.static, len(pairs)))
        return jax.device_get(out)
    prog = _program(first, vmapped=False)
    outs = []
    for i in range(len(pairs)):
        pick = (lambda t: jax.tree_util.tree_map(lambda a: a[i], t))
        outs.append(jax.device_get(prog(seed_arr, idx[i], pick(hp),
                                        pick(data) if first.host else None)))
    return jax.tree_util.tree_map(lambda *xs: np.stack(xs), *outs)


def _budget_bytes() -> int:
    from jaxstab.env import memory_budget

    return memory_budget()


def bytes_per_run(settings, study_seed: int, probe: int = 8) -> float:
    """Device memory per run, from the compiled program's memory analysis at a small
    probe size (arguments, outputs and temporaries all grow with the run axis)."""
    n = probe * max(1, len(jax.local_devices()))
    settings = list(settings)
    few = min(n, 8 * max(1, len(jax.local_devices())))  # real inputs: host data costs
    seed, *args = _inputs(Pairs(tuple(settings), np.arange(few) % len(settings),
                                np.arange(few)), None, study_seed)
    args = jax.tree_util.tree_map(
        lambda a: jax.ShapeDtypeStruct((n,) + a.shape[1:], a.dtype), args)
    mem = _program(settings[0]).lower(seed, *args).compile().memory_analysis()
    if mem is None:
        return 0.0
    total = mem.temp_size_in_bytes + mem.argument_size_in_bytes + mem.output_size_in_bytes
    return total / n


def auto_chunk(settings: list[Setting], study_seed: int, n_runs: int) -> int:
    """Largest chunk that fits the memory budget, capped (bigger chunks stop paying off
    well before memory runs out, and a chunk is also the unit of resumption)."""
    on_cpu = jax.default_backend() == "cpu"
    cap = min(DEFAULT_CHUNK if on_cpu else MAX_CHUNK_ACCEL, output_cap(settings[0]))
    if on_cpu and n_runs <= cap:
        # The probe costs a compile; a CPU's RAM holds a default chunk of the small
        # networks jaxstab trains, and an out-of-memory error would halve it anyway.
        return n_runs
    if len(jax.local_devices()) == 1:
        # Probed at the size the chunks will have: when that fits (the usual case), the
        # probe's compile is the very one the sweep runs (JAX caches it), not one more.
        size = chunk_bounds(n_runs, cap, 1)[1]
        if bytes_per_run(settings, study_seed, probe=size) * size <= _budget_bytes():
            return size
    per_run = bytes_per_run(settings, study_seed)
    if per_run > 0:
        cap = min(cap, max(1, int(_budget_bytes() // per_run)))
    return max(1, min(n_runs, cap))


def output_cap(setting: Setting) -> int:
    """Most runs a call may hold for its outputs to fit the memory budget (a task with
    long curves says so; ``Task.chunk_cap``)."""
    cap = setting.study.tasked.chunk_cap(setting)
    return MAX_CHUNK_ACCEL if cap is None else cap


def check_chunk_size(setting: Setting, size: int) -> None:
    most = output_cap(setting)
    if size > most:
        raise UserError(f"--chunk-size: {size} runs a call would not fit the memory budget "
                        f"with this task's outputs (long curves); allowed at most {most}")


def _is_oom(err: Exception) -> bool:
    text = str(err)
    return "RESOURCE_EXHAUSTED" in text or "Out of memory" in text or "out of memory" in text


def records(settings, seeds, out) -> Runs:
    """A chunk's runs as columns (``jaxstab.runs``), from the engine's arrays with NumPy:
    at 100k runs a chunk, a Python object per run would cost more than the training
    itself. ``settings``: a ``Pairs`` (``seeds`` unused), or a setting per run."""
    pairs = settings if isinstance(settings, Pairs) else Pairs.of(settings, seeds)
    div = np.asarray(out["diverged"], bool)
    metrics = {k: np.where(div | ~np.isfinite(v), np.nan, np.asarray(v, np.float64))
               for k, v in out["metrics"].items()}
    metrics["diverged"] = div.astype(np.float64)
    return Runs.build(pairs.settings, pairs.which, pairs.seeds, div,
                      np.asarray(out["diverged_step"], np.int64), metrics, out["curves"])


def plan(study: Study, seeds: int, skip=frozenset(), only=None
         ) -> list[list[tuple[Setting, int]]]:
    """Groups of (setting, seed) still to run, one group per compiled program; ``skip``:
    (setting key, seed) pairs, or setting key -> seeds; ``only``: the keys of the
    settings to run (None: all)."""
    groups: dict[tuple, list] = {}
    for setting in study.settings():
        if only is not None and setting.key not in only:
            continue
        if isinstance(skip, Mapping):  # setting key -> stored seeds (NumPy)
            ks = np.arange(seeds)
            have = skip.get(setting.key)
            todo = [(setting, k) for k in (ks if have is None else
                                           ks[~np.isin(ks, have)]).tolist()]
        else:
            todo = [(setting, k) for k in range(seeds) if (setting.key, k) not in skip]
        if todo:
            groups.setdefault(setting.static, []).extend(todo)
    return list(groups.values())


def chunk_bounds(n: int, chunk_size: int, multiple: int = 1) -> tuple[int, int]:
    """(number of chunks, runs per chunk): equal chunks, so one compile serves them all;
    a multiple of the device count, so the run axis splits evenly over devices."""
    n_chunks = math.ceil(n / chunk_size)
    size = math.ceil(n / n_chunks)
    return n_chunks, math.ceil(size / multiple) * multiple


def _notify(progress, method: str, *args) -> None:
    """Progress is an object with ``group(i, n, description, runs)`` and ``update(done,
    total)`` (jaxstab.progress), or a plain ``f(done, total)``."""
    if progress is None:
        return
    if hasattr(progress, method):
        getattr(progress, method)(*args)
    elif method == "update":
        progress(*args)


class Chunk(NamedTuple):
    """One finished chunk, as ``chunks`` yields it: its runs (every process's, under
    jax.distributed), the seconds it trained, the chunk size it ran at (a resume pads
    to it), and the lease a commit of it releases (``jaxstab.units``; None here)."""

    runs: Runs
    seconds: float
    chunk_size: int
    lease: tuple | None = None


def chunks(pairs: list[tuple[Setting, int]] | Pairs, *, study_seed: int,
           chunk_size: int | None = None, progress=None, stats: SweepStats | None = None,
           total: int | None = None, fixed: bool = False) -> Iterator[Chunk]:
    """Train ``(setting, seed)`` pairs (a list, or a ``Pairs``) that share one compiled
    program, chunk by chunk: the one run loop (the sweep, the units of work shared
    between processes, the search and the sequential rounds drive it). Each finished
    chunk is yielded; the caller commits it (on process 0: ``jax.process_index()``)
    before asking for the next, so a chunk is saved whole before another trains.

    ``chunk_size=None`` sizes chunks from the compiled program's memory analysis. An
    out-of-memory error halves the chunk and carries on. Under ``jax.distributed`` with
    several processes, each process trains its share and every process receives every
    record. ``fixed``: every call has exactly ``chunk_size`` runs (padded), so that
    calls of any length share one compile (the search's calls, a resume).
    """
    stats = SweepStats() if stats is None else stats
    pairs = pairs if isinstance(pairs, Pairs) else Pairs.of([s for s, _ in pairs],
                                                            [k for _, k in pairs])
    total = len(pairs) if total is None else total
    n_proc, rank = jax.process_count(), jax.process_index()
    ndev = len(jax.local_devices())
    share = pairs[rank::n_proc]
    todo_max = math.ceil(len(pairs) / n_proc)
    size = chunk_size or auto_chunk(pairs.settings, study_seed, todo_max)
    pos = 0
    while pos < todo_max:
        _, size_now = chunk_bounds(todo_max - pos, size, ndev)
        if fixed:
            size_now = math.ceil(size / ndev) * ndev
        part = share[pos:pos + size_now]
        # every process runs a chunk of the same shape, padded with a repeated run
        padded = part.padded(size_now, part if len(part) else pairs[:1])
        t0 = time.perf_counter()
        stats.chunk_size = size_now
        try:
            out = execute(padded, padded.seeds, study_seed=study_seed)
        except Exception as err:  # noqa: BLE001 - only out-of-memory is handled
            if _is_oom(err) and size_now > ndev and n_proc == 1:
                size = max(ndev, size_now // 2)
                continue
            first = pairs.settings[0]
            mine = None if isinstance(err, UserError) else \
                first.study.tasked.run_error(first, err)
            if mine is not None:  # the user's code failed: the user's error
                raise mine from err
            raise
        if n_proc > 1:
            recs = _gather_records(pairs, n_proc, pos, size_now, out)
        else:
            recs = records(part, None, jax.tree_util.tree_map(lambda a: a[:len(part)], out))
        seconds = time.perf_counter() - t0
        pos += size_now
        yield Chunk(recs, seconds, size_now)  # the caller commits it here
        stats.runs += len(recs)
        stats.chunks += 1
        stats.per_chunk.append((len(recs), seconds))
        _notify(progress, "update", stats.runs, total)


def describe(setting: Setting, group: list) -> str:
    """What a compiled group is, in words: its static factor values."""
    names = [n for n, _ in setting.factors if n not in setting.hparams]
    shown = ", ".join(f"{n}={dict(setting.factors)[n]}" for n in names)
    return shown or f"{len(group)} runs"


def sweep_chunks(study: Study, *, seeds: int | None = None, chunk_size: int | None = None,
                 skip=frozenset(), progress=None, fixed: bool = False,
                 stats: SweepStats | None = None, only=None) -> Iterator[Chunk]:
    """Train every (setting, seed) not in ``skip``, group by group, yielding each
    finished chunk (``chunks``) for the caller to commit. ``fixed``: every call has
    exactly ``chunk_size`` runs (a resume does, so that its runs are bit-identical to an
    uninterrupted sweep's); ``stats`` is filled in as chunks finish; ``only``: the keys
    of the settings to train (None: every setting)."""
    seeds = study.seeds if seeds is None else seeds
    groups = plan(study, seeds, skip, only)
    stats = SweepStats() if stats is None else stats
    stats.groups = len(groups)
    total = sum(len(g) for g in groups)
    start = time.perf_counter()
    for i, group in enumerate(groups):
        _notify(progress, "group", i + 1, len(groups), describe(group[0][0], group),
                len(group))
        yield from chunks(group, study_seed=study.seed, chunk_size=chunk_size,
                          progress=progress, stats=stats, total=total,
                          fixed=fixed and chunk_size is not None)
    stats.seconds = time.perf_counter() - start


def sweep(study: Study, *, seeds: int | None = None, chunk_size: int | None = None,
          skip=frozenset(), on_chunk: Callable[[Runs, float], None] | None = None,
          progress=None, fixed: bool = False, stats: SweepStats | None = None,
          only=None) -> SweepStats:
    """``sweep_chunks`` driven to the end, each chunk given to ``on_chunk(runs,
    seconds)`` (on process 0); returns the sweep's counts."""
    stats = SweepStats() if stats is None else stats
    commits = on_chunk is not None and jax.process_index() == 0
    for chunk in sweep_chunks(study, seeds=seeds, chunk_size=chunk_size, skip=skip,
                              progress=progress, fixed=fixed, stats=stats, only=only):
        if commits:
            on_chunk(chunk.runs, chunk.seconds)
    return stats


def _gather_records(group, n_proc: int, pos: int, size: int, out) -> Runs:
    """All processes' results of this chunk step, on every process (stacked by rank)."""
    from jax.experimental import multihost_utils

    allout = multihost_utils.process_allgather(out)
    recs = []
    for r in range(n_proc):
        part = group[r::n_proc][pos:pos + size]
        mine = jax.tree_util.tree_map(lambda a: np.asarray(a)[r][:len(part)], allout)
        recs.append(records(part, None, mine))
    return Runs.concat(recs)
