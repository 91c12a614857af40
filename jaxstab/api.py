"""The library's orchestration: what ``jaxstab run`` and ``compare`` do, as functions
(``cli.py`` is a thin shell over them; ``jaxstab.report(store, out)`` is the report).

    study = jaxstab.load_study("my_study.toml")       # or jaxstab.Study(...) in code
    run = jaxstab.run_study(study, store="results.sqlite", seeds=32)
    res = jaxstab.results("results.sqlite", study)    # NumPy arrays per setting
    for factors, acc in res.values("test_accuracy"): ...
"""

from __future__ import annotations

import os
import signal
import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable

from jaxstab.errors import UserError
from jaxstab.study import Study


@dataclass
class StudyRun:
    """What one study's run did: ``trained`` runs now, ``skipped`` already stored,
    ``late`` trained here but stored first by another process."""

    study: Study
    fingerprint: str
    trained: int = 0
    skipped: int = 0
    late: int = 0
    seconds: float = 0.0
    search: Any = None  # jaxstab.search.SearchResult of a study with [search]
    search_runs: int = 0
    sequential: Any = None  # jaxstab.sequential.SequentialRun (--until-decided)
    before: Any = field(default=None, repr=False)  # seeds per setting stored at the start
    covered: dict = field(default_factory=dict, repr=False)  # most seeds asked per setting


@dataclass
class RunReport:
    studies: list[StudyRun] = field(default_factory=list)
    saved: int = 0  # runs this call committed to the store
    seconds: float = 0.0

    @property
    def runs(self) -> int:
        return sum(r.trained + r.search_runs for r in self.studies)


def _as_study(study: Study | str) -> Study:
    if isinstance(study, Study):
        return study
    from jaxstab.loader import load_study

    return load_study(study)


def _open(store, **kwargs):
    from jaxstab.store import open_store

    return open_store(store, **kwargs)


def run_study(studies: Study | str | list, *, store: Any = "results.sqlite",
              seeds: int | None = None, chunk_size: int | None = None,
              progress: Callable[[Study], Any] | None = None,
              on_study: Callable[[StudyRun], None] | None = None,
              on_wait: Callable[[str], None] | None = None,
              report: RunReport | None = None,
              should_stop: Callable[[], bool] | None = None,
              checked: bool = False, until_decided: bool = False,
              max_seeds: int | None = None, lease_timeout: float | None = None
              ) -> RunReport:
    """Train every run of ``studies`` not yet in ``store`` (resumable: finished runs are
    skipped), then their searches. Everything is checked before anything is written.
    ``progress(study)`` makes a progress object for the sweep (jaxstab.progress);
    ``on_study(run)`` is called after each study (the CLI prints its summary). A first
    Ctrl-C lets a finished chunk commit, then raises KeyboardInterrupt; ``report.saved``
    counts what was committed. ``should_stop()`` is asked after every committed chunk;
    True stops there (KeyboardInterrupt): the CLI's Ctrl-C and SIGTERM set it, so a
    signal is never lost inside a library callback. ``checked``: the caller already ran
    ``Study.check()`` (a user task is traced once, not twice). ``lease_timeout``: after
    how many seconds the work of a process that died is taken over (jaxstab.units)."""
    studies = [_as_study(s) for s in (studies if isinstance(studies, list) else [studies])]
    if seeds is not None and not (isinstance(seeds, int) and 1 <= seeds <= 10_000_000):
        raise UserError(f"seeds: {seeds!r} is out of range, allowed 1..10000000")
    from jaxstab.units import check_timeout

    check_timeout(lease_timeout)
    from jaxstab.study import check_runs
    from jaxstab.sweep import check_chunk_size

    for s in studies:
        if not checked:
            s.check()
        check_runs(len(s.settings()), seeds or s.seeds, "--seeds")
        for first in {x.static: x for x in s.settings()}.values() if chunk_size else ():
            check_chunk_size(first, chunk_size)
    if max_seeds is not None and not until_decided:
        raise UserError("--max-seeds: only with --until-decided (the most seeds per setting "
                        "a sequential run may use)")
    if until_decided:
        _check_sequential(studies, seeds, max_seeds)
    from jaxstab.env import compile_cache, environment

    compile_cache()  # a rerun loads its programs (JAXSTAB_NO_COMPILE_CACHE=1: off)
    db = _open(store, on_wait=on_wait)
    report = RunReport() if report is None else report
    t0 = time.perf_counter()

    def train(study, db, run, n, only=None):
        _train(study, db, run, n, only=only, chunk_size=chunk_size, env=env,
               report=report, should_stop=should_stop, progress=progress,
               lease_timeout=lease_timeout)

    try:
        from jaxstab.sequential import check_resume

        for s in studies if until_decided else ():  # refused before anything is written
            if s.claims:  # (a resume keeps its stopping rule)
                check_resume(s, db, s.fingerprint, seeds, max_seeds)
        env = environment()
        for study in studies:
            if should_stop is not None and should_stop():
                raise KeyboardInterrupt  # asked to stop between two studies
            run = StudyRun(study, db.ensure_study(study))
            started = time.perf_counter()
            if until_decided and study.claims:
                from jaxstab.sequential import rounds

                fp = run.fingerprint
                todo = rounds(study, db=db, fingerprint=fp, max_seeds=max_seeds,
                              first=seeds, save=lambda look, rec: uninterrupted(
                                  lambda: db.write_look(fp, look, rec)))
                while True:
                    try:
                        n, only = next(todo)
                    except StopIteration as decided:
                        run.sequential = decided.value
                        break
                    train(study, db, run, n, only=only)
            else:
                train(study, db, run, seeds or study.seeds)
            if study.search is not None:
                _search(study, db, run, lambda recs, sec: _commit(
                    db, run, env, report, should_stop, recs, sec))
            run.seconds = time.perf_counter() - started
            report.studies.append(run)
            if on_study is not None:
                on_study(run)
    finally:
        report.seconds = time.perf_counter() - t0
        if db is not store:
            db.close()
    return report


def _check_sequential(studies: list[Study], seeds: int | None, max_seeds) -> None:
    """``--until-decided`` needs claims to decide (studies without any run their fixed
    seeds) and a valid look schedule for each study with claims."""
    from jaxstab.sequential import check
    from jaxstab.study import check_runs

    if max_seeds is not None and not (isinstance(max_seeds, int) and
                                      1 <= max_seeds <= 10_000_000):
        raise UserError(f"--max-seeds: {max_seeds!r} is out of range, allowed 1..10000000")
    with_claims = [s for s in studies if s.claims]
    if not with_claims:
        check(studies[0], seeds, max_seeds)  # raises: nothing to decide
    for s in with_claims:
        schedule = check(s, seeds, max_seeds)
        check_runs(len(s.settings()), schedule[-1], "--max-seeds")


def _commit(db, run: StudyRun, env: dict, report: RunReport, should_stop, recs, sec,
            chunk_size: int | None = None, lease=None) -> None:
    """Commit a finished chunk (whole, a first Ctrl-C held back), count it, then stop
    there if asked. ``chunk_size``: what a resume pads its calls to (the search's calls
    do not say it); ``lease``: the lease to give back in the same transaction
    (``jaxstab.units``), or None."""
    def write():  # counts before a held-back Ctrl-C is raised
        size = {} if chunk_size is None else {"chunk_size": chunk_size}
        added = db.write_chunk(run.fingerprint, recs, sec, {**env, **size}, release=lease)
        report.saved += added
        run.late += len(recs) - added

    uninterrupted(write)
    if should_stop is not None and should_stop():
        raise KeyboardInterrupt  # asked to stop: this chunk is saved


def _train(study: Study, db, run: StudyRun, n: int, *, only, chunk_size, env, report,
           should_stop, progress, lease_timeout=None) -> None:
    """Train the runs of ``study`` with seed indices below ``n`` (of the settings whose
    keys are in ``only``; None: all) that the store does not hold yet, sharing the work
    with any other process on the store (``jaxstab.units``): this loop drives the
    training and commits each chunk it yields."""
    from contextlib import closing

    import jax

    from jaxstab.sweep import SweepStats
    from jaxstab.units import train_study

    commits = jax.process_index() == 0  # under jax.distributed, process 0 writes
    # closing: an interrupted commit releases this process's leases at once
    with closing(train_study(study, db, run, n, only=only, chunk_size=chunk_size,
                             progress=progress, should_stop=should_stop,
                             lease_timeout=lease_timeout, stats=SweepStats())) as todo:
        for chunk in todo:
            if commits:
                _commit(db, run, env, report, should_stop, chunk.runs, chunk.seconds,
                        chunk.chunk_size, chunk.lease)


def _search(study: Study, db, run: StudyRun, commit) -> None:
    """The study's adaptive search ([search]): its trials and fresh re-runs are runs of
    the study like any other (seed indices apart from the study's own), committed a call
    at a time, so an interrupted search resumes; its picks are stored at the end. Under
    jax.distributed every process runs it (proposals follow from the gathered scores)."""
    import jax

    from jaxstab.search import picks_to_rows, run_search

    if jax.process_count() > 1:
        # Every process reads the grid's scores from the store: wait until process 0
        # has committed them (it commits each chunk before it goes on).
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(f"jaxstab search {run.fingerprint}")
    result = run_search(study, known=db.values(run.fingerprint, study.main_metric),
                        on_chunk=commit)
    if jax.process_index() == 0:
        uninterrupted(lambda: db.write_search_picks(run.fingerprint,
                                                    picks_to_rows(result.picks)))
    run.search, run.search_runs = result, result.runs


def uninterrupted(fn):
    """Call ``fn`` (a commit) with a first Ctrl-C held back until it returns, so a chunk
    that finished training is saved whole; a second Ctrl-C stops at once (the commit
    then rolls back: the store never holds part of a chunk)."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is signal.SIG_IGN):  # e.g. under nohup
        return fn()
    held = []

    def hold(signum, frame):
        import sys

        if held:
            raise KeyboardInterrupt
        held.append(signum)
        print("jaxstab: saving the finished chunk, then stopping (Ctrl-C again to stop "
              "at once)", file=sys.stderr, flush=True)

    previous = signal.signal(signal.SIGINT, hold)
    try:
        return fn()
    finally:
        signal.signal(signal.SIGINT, signal.SIG_DFL if previous is None else previous)
        if held:
            raise KeyboardInterrupt


def results(store: Any, study: Study | str, fingerprint: str | None = None):
    """A study's stored runs (``jaxstab.store.StudyResults``): the version of ``study``
    that is in the store when ``study`` is a Study or a TOML file / built-in name; the
    latest version of that name otherwise."""
    db = _open(store, create=False)
    return db.results(find(db, study, fingerprint))


def find(db, study: Study | str, fingerprint: str | None = None) -> str:
    """The fingerprint of the version of ``study`` a command shows: ``fingerprint`` when
    given; the version of the Study, study file or built-in given, when it is stored;
    for a name that is only in the store, its most recently run version."""
    if fingerprint is not None:
        if fingerprint not in {fp for _, fp, _ in db.studies()}:
            raise UserError(f"--fingerprint: no study {fingerprint} in {db.path}")
        return fingerprint
    if _stored_name(db, study) and not _is_builtin(study):
        return db.latest(study)
    s = _as_study(study)
    if s.fingerprint in {fp for _, fp, _ in db.studies()}:
        return s.fingerprint
    others = db.versions(s.name)
    if others and _is_builtin(study):
        return others[-1]  # a store of that name without the built-in's own version
    if others:
        raise UserError(f"study: this version of {s.name} ({s.fingerprint}) has no runs in "
                        f"{db.path}; it holds {len(others)} other version(s): "
                        f"{', '.join(others)} (pick one with --fingerprint, or run it)")
    return db.latest(s.name)  # raises: no results, listing what the store holds


def _is_builtin(ref) -> bool:
    from jaxstab.loader import builtin_names

    return isinstance(ref, str) and ref in builtin_names()


@dataclass(frozen=True)
class Comparison:
    """What ``jaxstab compare`` shows of a stored study: the statistics' ``Analysis``
    (comparisons, ranking, grid factors, verdicts, noise baselines) and the search."""

    study: str
    fingerprint: str
    analysis: Any  # jaxstab.stats.Analysis
    search: Any  # jaxstab.search.SearchResult, or None
    search_verdicts: list
    versions: tuple = ()  # the other stored versions of this name (fingerprints)
    sequential: Any = None  # jaxstab.sequential.SequentialRun of an --until-decided run
    looks: tuple = ()  # its recorded looks (dicts, as stored)

    @property
    def verdicts(self) -> list:
        """The claims' verdicts: sequential ones for a study run with --until-decided
        (a fixed-sample test of sequentially collected data would overstate them)."""
        if self.sequential is not None:
            return list(self.sequential.verdicts)
        return list(self.analysis.verdicts)

    def to_dict(self) -> dict:
        return {"study": self.study, "fingerprint": self.fingerprint,
                **self.analysis.to_dict(),
                "search": None if self.search is None else {
                    "picks": [p.to_dict() for p in self.search.picks],
                    "verdicts": [v.to_dict() for v in self.search_verdicts]},
                "other_versions": list(self.versions),
                "sequential": None if self.sequential is None else {
                    "schedule": list(self.sequential.schedule),
                    "looks_taken": self.sequential.looks,
                    "verdicts": [v.to_dict() for v in self.sequential.verdicts],
                    "looks": list(self.looks)}}

    def format(self) -> str:
        from jaxstab.stats import format_verdicts

        lines = [f"{self.study} ({self.fingerprint})"]
        if self.versions:
            lines.append(f"other versions in the store: {', '.join(self.versions)} "
                         f"(--fingerprint selects one)")
        lines.append(self.analysis.format())
        if self.sequential is not None:
            from jaxstab.summary import sequential_table

            lines += ["", *sequential_table(self.sequential)]
        if self.search is not None:
            lines += ["", f"{self.study} - search ({len(self.search.picks)} picks re-run on "
                      f"fresh seeds)", *self.search.table(), "",
                      format_verdicts(self.search_verdicts)]
        return "\n".join(lines)


def compare(store: Any, study: Study | str, *, metric: str | None = None,
            kind: str = "mean", correction: str = "holm",
            fingerprint: str | None = None, control: dict | None = None,
            lower_is_better: Any = ()) -> Comparison:
    """Comparisons, the ranking with the settings tied with the best, grid factors,
    claim verdicts and the search verdicts of a stored study (``.to_dict()`` is what
    ``jaxstab compare --json`` prints). The claims are those of ``study`` when it is a
    Study or a study file (claims are analysis: editing one never needs a run), else
    those stored with the runs. ``control``: factor values of a setting every other is
    compared with (Holm over k - 1). Strata, [metrics] come with the claims; ``lower_is_better``: names."""
    from jaxstab.reading import directions, read

    db = _open(store, create=False)
    got = read(db, find(db, study, fingerprint))
    res, search, seq, looks = got.results, got.search, got.sequential, got.looks
    given = res.study if _stored_name(db, study) or fingerprint else _as_study(study)
    claims, targets = given.claims, given.targets  # analysis: from the file when given
    if seq is not None:
        claims = ()  # decided sequentially: no fixed-sample verdict of these data
    metric = metric or res.study.main_metric
    have = {m for s in res.settings for m in s.metrics}
    if metric not in have:
        raise UserError(f"--metric: `{metric}` is not recorded for {res.study.name}; it "
                        f"has: {', '.join(sorted(have)) or 'nothing yet'}")
    # (scipy.stats, most of the command's start-up, only once the request is known good)
    from jaxstab.stats import EXPLORE_RESAMPLES, RNG_SEED, analyze

    # The statistics' resampling settings, so that compare and the report give one answer.
    analysis = analyze(res, claims, metric=metric, metric_kind=kind, correction=correction,
                       control=control, rng=RNG_SEED, n_resamples=EXPLORE_RESAMPLES,
                       targets=targets, strata=given.strata,
                       directions=directions(given, lower_is_better))
    search_ver = search.verdicts(correction=correction) if search else []
    others = tuple(fp for fp in db.versions(res.study.name) if fp != res.fingerprint)
    return Comparison(res.study.name, res.fingerprint, analysis, search, search_ver, others,
                      seq, tuple(looks))


def _stored_name(db, ref) -> bool:
    """Whether ``ref`` names a study of the store (not a study file or a Study)."""
    return isinstance(ref, str) and ref in {n for n, _, _ in db.studies()} \
        and not (ref.endswith(".toml") or os.path.exists(ref))
