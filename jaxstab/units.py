"""Work shared between processes on one store (two GPUs of a machine, two terminals).

A study's runs are cut into units: each compiled group's full plan (its settings in grid
order, seeds ``0..n-1`` each, before skipping anything stored) cut at the group's chunk
size, or at a whole number of chunks when the group has ``2 * MIN_UNITS`` chunks or
more (``unit_size``). Every process derives the same units, whenever it started,
because the chunk size is agreed in the store (the first process records it, the others
use it). A process leases a free unit (``Store.take_lease``), trains the unit's runs
that are not stored yet in calls of the chunk size, the last one padded (a run's
numbers depend on the chunk size alone, so this is bit-identical to an uninterrupted
sweep), commits each call's runs, and releases the lease in the transaction that
commits the last. A heartbeat renews the process's lease while it
trains; a process that dies leaves a lease that expires after ``timeout`` seconds, and
another process then takes the unit over. When the only units left are leased by live
processes, a process waits for them to be committed or to expire, so that it ends with
every run of the study stored. Under ``jax.distributed`` none of this is used (the
processes of one job share each chunk instead).
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Iterator

import numpy as np

from jaxstab.errors import UserError
from jaxstab.runs import Pairs
from jaxstab.study import Study

if TYPE_CHECKING:  # (the sweep imports JAX: imported when training starts)
    from jaxstab.sweep import Chunk, SweepStats

LEASE_TIMEOUT = 90.0  # seconds without a heartbeat before a unit is taken over
POLL = 0.5  # seconds between looks at units other processes hold, while waiting for them
# A group of many chunks is cut into units of several: each unit costs a lease
# transaction (3 ms with its fsync on a loaded 2-core machine, longer than a chunk of a
# trivial task trains: 0.8 s of 2 x 150,000 such runs in 293 units of one chunk), and
# MIN_UNITS units still spread a group over that many processes.
MIN_UNITS = 64


@dataclass(frozen=True)
class Unit:
    id: str
    pairs: Pairs  # every pair of the unit, stored or not
    ranges: tuple  # (setting key, first seed, end seed) per setting of the unit


def groups(study: Study, only=None) -> list[tuple[str, list]]:
    """(group name, settings) per compiled group, in grid order; a group is named by
    the key of its first setting in the whole grid (whatever ``only`` keeps), so that
    its chunk size is one record for every subset of it."""
    found: dict = {}
    for s in study.settings():
        g = found.setdefault(s.static, (s.key, []))
        if only is None or s.key in only:
            g[1].append(s)
    return [g for g in found.values() if g[1]]


def units(settings: list, n: int, size: int) -> list[Unit]:
    """The full plan of one group (``settings`` x seeds ``0..n-1``) cut every ``size``
    pairs."""
    tag = hashlib.sha1("\n".join(s.key for s in settings).encode()).hexdigest()[:12]
    out = []
    for i, a in enumerate(range(0, len(settings) * n, size)):
        pos = np.arange(a, min(a + size, len(settings) * n))
        which, seeds = pos // n, pos % n
        ranges = tuple((settings[j].key, int(seeds[which == j][0]),
                        int(seeds[which == j][-1]) + 1) for j in np.unique(which).tolist())
        out.append(Unit(f"{tag}:{n}:{size}:{i}", Pairs(tuple(settings), which, seeds),
                        ranges))
    return out


def unit_size(n_runs: int, chunk: int) -> int:
    """Runs per unit of a group of ``n_runs`` runs trained in chunks of ``chunk``: whole
    chunks, as many as leave at least ``MIN_UNITS`` units (one when the group has
    fewer chunks than that)."""
    return chunk * max(1, n_runs // (chunk * MIN_UNITS))


def left(unit: Unit, stored: dict) -> Pairs:
    """The unit's pairs whose seeds are not in ``stored`` (setting key -> seeds)."""
    keep = np.ones(len(unit.pairs), bool)
    for j, s in enumerate(unit.pairs.settings):
        have = stored.get(s.key)
        if have is not None and len(have):
            rows = unit.pairs.which == j
            keep[rows] = ~np.isin(unit.pairs.seeds[rows], have)
    return Pairs(unit.pairs.settings, unit.pairs.which[keep], unit.pairs.seeds[keep])


def count_left(unit: Unit, done: dict) -> int:
    """How many of the unit's pairs are not in ``done`` (setting key -> sorted seeds)."""
    n = 0
    for key, lo, hi in unit.ranges:
        have = done.get(key)
        n += hi - lo - (0 if have is None else int(np.searchsorted(have, hi) -
                                                   np.searchsorted(have, lo)))
    return n


def stored_count(study: Study, n: int, done: dict, only=None) -> int:
    """Runs of seed index below ``n`` (of the settings in ``only``) in ``done``."""
    return sum(int(np.count_nonzero(done.get(s.key, np.zeros(0)) < n))
               for s in study.settings() if only is None or s.key in only)


def chunk_size(db, fingerprint: str, group: str, settings: list, n_runs: int,
               given: int | None, study_seed: int) -> int:
    """The group's chunk size: ``given`` (recorded if none is), else the one recorded
    for the group, else that of the study's earlier chunks (a store from before sizes
    were recorded per group), else sized from memory and recorded."""
    if given:
        # The first process's size is the plan: another size would cut other units,
        # whose leases never meet (two workers with 8 and 16 trained 482 of 600 runs
        # twice), and other numbers (rounding depends on the batch size).
        agreed = db.group_chunk_size(fingerprint, group, given)
        if agreed != given:
            db.notify(f"--chunk-size {given}: this study's runs are cut in chunks of "
                      f"{agreed}, recorded in the store by the process that started "
                      f"them; using {agreed}")
        return agreed
    recorded = db.group_chunk_size(fingerprint, group)
    if recorded is not None and recorded > 0:
        return recorded
    if recorded == -1 and db.chunk_size(fingerprint):
        return db.chunk_size(fingerprint)
    import jax

    from jaxstab.sweep import auto_chunk, chunk_bounds

    size = auto_chunk(settings, study_seed, n_runs)
    size = chunk_bounds(n_runs, size, len(jax.local_devices()))[1]
    return db.group_chunk_size(fingerprint, group, size)


def train_study(study: Study, db, run, n: int, *, only, chunk_size, progress, should_stop,
                lease_timeout, stats: SweepStats) -> Iterator[Chunk]:
    """What ``api._train`` drives: train the runs of seed index below ``n`` (of the
    settings in ``only``) that the store does not hold, counting them in ``run``
    (``api.StudyRun``) once done. Yields each finished chunk (``sweep.Chunk``, with the
    lease its commit releases); the caller commits it (on process 0)."""
    import jax

    from jaxstab.sweep import sweep_chunks

    done = db.seeds_by_setting(run.fingerprint)
    prog = progress(study) if progress else None
    try:
        if jax.process_count() == 1:
            yield from train_units(
                study, db, run.fingerprint, n, only=only, chunk_size_given=chunk_size,
                done=done, stats=stats, progress=prog, should_stop=should_stop,
                timeout=lease_timeout)
        else:
            # One jax.distributed job shares each chunk instead (no leases). A resume
            # pads its calls to the size the earlier chunks used (bit-identical runs).
            size = chunk_size or db.chunk_size(run.fingerprint)
            yield from sweep_chunks(study, seeds=n, chunk_size=size, skip=done,
                                    progress=prog, fixed=size is not None, stats=stats,
                                    only=only)
    finally:
        if hasattr(prog, "close"):
            prog.close()
    run.trained += stats.runs
    # A sequential run's rounds cover the same seeds again: count what the store held
    # when this study's run began, once, up to the most seeds asked of each setting.
    if run.before is None:
        run.before = done
    for s in study.settings():
        if only is None or s.key in only:
            run.covered[s.key] = max(run.covered.get(s.key, 0), n)
    run.skipped = sum(stored_count(study, m, run.before, {k})
                      for k, m in run.covered.items())


def train_units(study: Study, db, fingerprint: str, n: int, *, only, chunk_size_given,
                done: dict, stats, progress=None, should_stop=None,
                timeout: float | None = None) -> Iterator[Chunk]:
    """Train the runs of seed index below ``n`` that the store does not hold, unit by
    leased unit, yielding each chunk with the lease to release in its commit (set on a
    unit's last chunk)."""
    from jaxstab.store._leases import new_owner
    from jaxstab.sweep import _notify, chunks, compiled, describe

    timeout = LEASE_TIMEOUT if timeout is None else float(timeout)
    owner, beat = new_owner(), None
    start = time.perf_counter()
    todo_groups = []
    for name, settings in groups(study, only):
        if not any(n - np.count_nonzero(done.get(s.key, np.zeros(0)) < n) for s in settings):
            continue  # all stored: no chunk size to agree on (no probe to compile)
        size = chunk_size(db, fingerprint, name, settings, len(settings) * n,
                          chunk_size_given, study.seed)
        cut = unit_size(len(settings) * n, size)
        mine = [(u, count_left(u, done)) for u in units(settings, n, cut)]
        todo_groups.append((settings, size, [(u, k) for u, k in mine if k]))
    todo_groups = [g for g in todo_groups if g[2]]
    stats.groups = len(todo_groups)
    # runs of the groups after each one: the progress total is the study's, so that the
    # end of one group is not taken for the end of the sweep (that stopped the timer
    # thread, and a later group's compile went silent)
    later = np.cumsum([sum(k for _, k in g[2]) for g in todo_groups][::-1])[::-1].tolist()
    later = later[1:] + [0]
    try:
        for gi, (settings, size, todo) in enumerate(todo_groups):
            remaining = sum(k for _, k in todo)
            _notify(progress, "group", gi + 1, len(todo_groups),
                    describe(settings[0], range(remaining)), remaining,
                    compiled(settings[0], size))
            while todo:
                got = db.take_lease(fingerprint, owner, [(u.id, u.ranges) for u, _ in todo],
                                    timeout)
                drop = set(got.finished) | ({got.index} if got.index is not None else set())
                unit = todo[got.index][0] if got.index is not None else None
                todo = [t for i, t in enumerate(todo) if i not in drop]
                if unit is None:
                    if todo:  # every unit left is being trained by a live process
                        _wait(min(got.wait or POLL, POLL), should_stop)
                    continue
                if beat is None:
                    beat = db.heartbeat(owner, timeout)
                pairs = left(unit, got.stored)
                n_left = len(pairs)
                for chunk in chunks(pairs, study_seed=study.seed, chunk_size=size,
                                    progress=progress, stats=stats, fixed=True,
                                    total=stats.runs + len(pairs) + sum(k for _, k in todo)
                                    + later[gi]):
                    n_left -= len(chunk.runs)
                    # the unit's last chunk gives its lease back in the same transaction
                    yield chunk._replace(lease=(unit.id, owner) if n_left <= 0 else None)
    finally:
        if beat is not None:
            beat.stop()
            try:
                db.release_leases(owner)  # what this process still holds (interrupted)
            except Exception:  # noqa: BLE001 - they expire anyway
                pass
    stats.seconds = time.perf_counter() - start


def _wait(seconds: float, should_stop) -> None:
    """Sleep, a stop request (Ctrl-C, SIGTERM) seen within a tenth of a second."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        if should_stop is not None and should_stop():
            raise KeyboardInterrupt
        time.sleep(min(0.1, max(0.0, end - time.monotonic())))


def check_timeout(timeout) -> None:
    if timeout is not None and not (isinstance(timeout, (int, float)) and
                                    0 < timeout <= 86400):
        raise UserError(f"lease_timeout: {timeout!r} is out of range, allowed more than "
                        f"0 and at most 86400 seconds")
