"""The library's orchestration: what ``jaxstab run``, ``compare`` and ``report`` do, as
functions (``cli.py`` is a thin shell over them).

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
    from jaxstab.store import Store

    return store if isinstance(store, Store) else Store(store, **kwargs)


def run_study(studies: Study | str | list, *, store: Any = "results.sqlite",
              seeds: int | None = None, chunk_size: int | None = None,
              progress: Callable[[Study], Any] | None = None,
              on_study: Callable[[StudyRun], None] | None = None,
              on_wait: Callable[[str], None] | None = None,
              report: RunReport | None = None) -> RunReport:
    """Train every run of ``studies`` not yet in ``store`` (resumable: finished runs are
    skipped), then their searches. Everything is checked before anything is written.
    ``progress(study)`` makes a progress object for the sweep (jaxstab.progress);
    ``on_study(run)`` is called after each study (the CLI prints its summary). A first
    Ctrl-C lets a finished chunk commit, then raises KeyboardInterrupt; ``report.saved``
    counts what was committed."""
    studies = [_as_study(s) for s in (studies if isinstance(studies, list) else [studies])]
    if seeds is not None and not (isinstance(seeds, int) and 1 <= seeds <= 10_000_000):
        raise UserError(f"seeds: {seeds!r} is out of range, allowed 1..10000000")
    for s in studies:
        s.check()
    from jaxstab.env import environment
    from jaxstab.sweep import sweep

    db = _open(store, on_wait=on_wait)
    report = RunReport() if report is None else report
    t0 = time.perf_counter()
    try:
        env = environment()
        for study in studies:
            fp = db.ensure_study(study)
            n = seeds or study.seeds
            done = db.done(fp)
            run = StudyRun(study, fp)

            def commit(recs, sec, fp=fp, run=run):
                def write():  # counts before a held-back Ctrl-C is raised
                    added = db.write_chunk(fp, recs, sec, env)
                    report.saved += added
                    run.late += len(recs) - added

                uninterrupted(write)

            started = time.perf_counter()
            stats = sweep(study, seeds=n, chunk_size=chunk_size, skip=done,
                          on_chunk=commit, progress=progress(study) if progress else None)
            run.trained = stats.runs
            run.skipped = sum(1 for st in study.settings() for k in range(n)
                              if (st.key, k) in done)
            if study.search is not None:
                _search(study, db, run, commit)
            run.seconds = time.perf_counter() - started
            report.studies.append(run)
            if on_study is not None:
                on_study(run)
    finally:
        report.seconds = time.perf_counter() - t0
        if db is not store:
            db.close()
    return report


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


def results(store: Any, study: Study | str):
    """A study's stored runs (``jaxstab.store.StudyResults``): the version of ``study``
    that is in the store when ``study`` is a Study or a TOML file / built-in name; the
    latest version of that name otherwise."""
    db = _open(store, create=False)
    return db.results(find(db, study))


def find(db, study: Study | str) -> str:
    """The fingerprint ``study`` names in the store ``db``."""
    names = {n for n, _, _ in db.studies()}
    if isinstance(study, str) and study in names:
        return db.latest(study)
    s = _as_study(study)
    fps = {fp for _, fp, _ in db.studies()}
    if s.fingerprint in fps:
        return s.fingerprint
    return db.latest(s.name)


@dataclass(frozen=True)
class Comparison:
    """What ``jaxstab compare`` shows of a stored study."""

    study: str
    fingerprint: str
    metric: str
    kind: str
    pairwise: Any
    omnibus: Any
    verdicts: list
    search: Any  # jaxstab.search.SearchResult, or None
    search_verdicts: list

    def to_dict(self) -> dict:
        return {"study": self.study, "fingerprint": self.fingerprint,
                "metric": self.metric, "kind": self.kind,
                "pairwise": self.pairwise.to_dict(),
                "omnibus": self.omnibus.to_dict() if self.omnibus else None,
                "verdicts": [v.to_dict() for v in self.verdicts],
                "search": None if self.search is None else {
                    "picks": [p.to_dict() for p in self.search.picks],
                    "verdicts": [v.to_dict() for v in self.search_verdicts]}}

    def format(self) -> str:
        from jaxstab.stats import format_comparison_table, format_verdicts

        lines = [f"{self.study} - {self.metric} ({self.kind})",
                 format_comparison_table(self.pairwise)]
        if self.omnibus is not None:
            lines.append(", ".join(f"{t.name}: p={t.p_value:.3g}"
                                   for t in self.omnibus.tests))
        if self.verdicts:
            lines += ["", format_verdicts(self.verdicts)]
        if self.search is not None:
            lines += ["", f"{self.study} - search ({len(self.search.picks)} picks re-run on "
                      f"fresh seeds)", *self.search.table(), "",
                      format_verdicts(self.search_verdicts)]
        return "\n".join(lines)


def compare(store: Any, study: Study | str, *, metric: str | None = None,
            kind: str = "mean", correction: str = "holm") -> Comparison:
    """Pairwise comparisons, the omnibus test, claim verdicts and the search verdicts of
    a stored study (``.to_dict()`` is what ``jaxstab compare --json`` prints). The claims
    are those of ``study`` when it is a Study or a study file (claims are analysis:
    editing one never needs a run), else those stored with the runs."""
    from jaxstab.search import stored_search
    from jaxstab.stats import omnibus, pairwise, verdicts

    db = _open(store, create=False)
    res = db.results(find(db, study))
    claims = res.study.claims if _stored_name(db, study) else _as_study(study).claims
    metric = metric or res.study.main_metric
    have = {m for s in res.settings for m in s.metrics}
    if metric not in have:
        raise UserError(f"--metric: `{metric}` is not recorded for {res.study.name}; it "
                        f"has: {', '.join(sorted(have)) or 'nothing yet'}")
    pw = pairwise(res, metric=metric, metric_kind=kind, correction=correction)
    omni = omnibus(res, metric=metric, metric_kind=kind) if len(res.settings) > 2 else None
    ver = verdicts(res, claims, correction=correction)
    search = stored_search(db, res.fingerprint, res.study)
    search_ver = search.verdicts(correction=correction) if search else []
    return Comparison(res.study.name, res.fingerprint, metric, kind, pw, omni, ver, search,
                      search_ver)


def _stored_name(db, ref) -> bool:
    """Whether ``ref`` names a study of the store (not a study file or a Study)."""
    return isinstance(ref, str) and ref in {n for n, _, _ in db.studies()} \
        and not (ref.endswith(".toml") or os.path.exists(ref))


def report(store: Any = "results.sqlite", out: str = "reports"):
    """Write ``out/index.html`` and one self-contained page per study; the paths."""
    from jaxstab.report import write_report

    return write_report(store, out)
