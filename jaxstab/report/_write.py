"""Writing a store's report: every study built and rendered (in parallel where that is
safe), then every file written beside its target and renamed into place."""

from __future__ import annotations

import os
import shutil
import sys
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from jaxstab.errors import UserError
from jaxstab.report._model import (IndexReport, check_smoothing, index_entry, plan,
                                   study_report, timestamp)
from jaxstab.report._render import _environment, render_index, study_files
from jaxstab.store import open_store

MAX_JOBS = 8


def _one(task: tuple):
    """A worker's unit: one study read, built and rendered; returns its index entry
    and its files. Opens the store itself (a database connection must not cross
    a fork)."""
    store_path, name, fingerprint, slug, generated, smoothing, lower = task
    store = open_store(store_path, create=False)
    try:
        r = study_report(store, name, fingerprint, slug, generated, smoothing,
                         lower)
    except UserError as e:  # one study the report cannot read: the others still are
        return name, str(e)
    finally:
        store.close()
    return index_entry(r), study_files(r, _environment())


def _jax_started() -> bool:
    # A process whose JAX backend runs threads must not fork (JAX warns it may
    # deadlock); the report itself never starts one, a test process may have.
    bridge = sys.modules.get("jax._src.xla_bridge")
    return bool(getattr(bridge, "_backends", None))


def _jobs(jobs: int | None, n: int) -> int:
    if jobs is not None:
        if jobs < 1:
            raise UserError(f"--jobs: must be at least 1, got {jobs}")
    else:  # the cores this process may run on (a container may allow fewer than exist)
        cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else None
        jobs = min(cores or os.cpu_count() or 1, MAX_JOBS)
    forkable = hasattr(os, "fork") and sys.platform.startswith("linux")
    return 1 if not forkable or _jax_started() else max(1, min(jobs, n))


def _build_all(tasks: list, cost: list[int], jobs: int) -> list:
    if jobs == 1:
        return [_one(t) for t in tasks]
    import multiprocessing

    # Studies are independent and each page depends only on its own data (fixed rng),
    # so the pages are the same bytes whichever process made them. The costliest go
    # first (comparisons grow with settings squared), so no worker is left with a big
    # study at the end while the others idle.
    order = sorted(range(len(tasks)), key=lambda i: -cost[i])
    with multiprocessing.get_context("fork").Pool(jobs) as pool:
        done = pool.map(_one, [tasks[i] for i in order], chunksize=1)
    out: list = [None] * len(tasks)
    for i, result in zip(order, done):
        out[i] = result
    return out


def _write(path: Path, text: str) -> None:
    # Beside the target, then rename: a failure never leaves half a page.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        os.chmod(tmp, 0o666 & ~_UMASK)  # mkstemp makes 0600; a page is for sharing
        with os.fdopen(fd, "w", encoding="utf-8", newline="") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _umask() -> int:
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


_UMASK = _umask()


def write_report(store_path: str | os.PathLike, out_dir: str | os.PathLike, *,
                 now: datetime | None = None, jobs: int | None = None,
                 smoothing: float = 0.0, lower_is_better=()) -> list[Path]:
    """Write ``out_dir/index.html`` and, per study, ``<slug>.html``, ``<slug>.json`` and
    ``<slug>.csv`` (slug: the name with ``/`` as ``-``). ``now`` fixes the "generated"
    timestamp, so that the same store gives byte-identical files. ``jobs``: processes
    building pages at once (default: one per core, up to MAX_JOBS; one where forking is
    unsafe). ``smoothing``: EMA weight of the learning curves (0: none, below 1).
    Everything is rendered before the first file is written."""
    smoothing = check_smoothing(smoothing)
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UserError(f"--out: {out} is a file, expected a folder")
    store = open_store(store_path, create=False)
    try:
        todo, store_name, where = plan(store), store.name, store.where
        n_jobs = _jobs(jobs, len(todo))
        cost = []
        for _, fp, _ in todo if n_jobs > 1 else ():
            seeds = store.seeds_by_setting(fp)  # arrays: no Python set of every run
            cost.append(sum(len(v) for v in seeds.values()) * len(seeds))
    finally:
        store.close()
    generated = timestamp(now or datetime.now(UTC))
    tasks = [(where, n, fp, slug, generated, smoothing, tuple(lower_is_better))
             for n, fp, slug in todo]
    built = []
    for entry, files_or_why in _build_all(tasks, cost, n_jobs):
        if isinstance(files_or_why, str):
            print(f"jaxstab: report: {entry} is left out ({files_or_why})",
                  file=sys.stderr)
        else:
            built.append((entry, files_or_why))
    index = IndexReport(store_name, generated, tuple(entry for entry, _ in built))
    files = [("index.html", render_index(index))] + [f for _, fs in built for f in fs]
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise UserError(f"--out: cannot create folder {out} ({e.strerror})") from None
    return _write_all(out, files)


def _write_all(out: Path, files: list[tuple[str, str]]) -> list[Path]:
    """All pages or none: every file is written into a temporary folder inside ``out``
    first (a full disk or a read-only folder fails there, before any page is replaced),
    then each is moved into place (a rename: atomic per file)."""
    try:
        tmp = Path(tempfile.mkdtemp(dir=out, prefix=".jaxstab-report-"))
    except OSError as e:
        raise UserError(f"--out: cannot write into {out} ({e.strerror})") from None
    try:
        for name, text in files:
            _write(tmp / name, text)
        for name, _ in files:
            os.replace(tmp / name, out / name)
    except OSError as e:
        raise UserError(f"--out: cannot write the report into {out} ({e.strerror or e})"
                        ) from None
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return [out / name for name, _ in files]
