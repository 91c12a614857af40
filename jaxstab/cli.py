"""Command line: thin; builds a request, calls the library, prints."""

from __future__ import annotations

import argparse
import csv
import io
import json
import os
import re
import shlex
import signal
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path

from jaxstab.errors import UserError
from jaxstab.report._cli import add_parser as add_report_parser


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line, exit 2, as for every other user error
        raise UserError(message)


def _positive(name, most=None):
    def parse(text):
        try:
            v = int(text)
        except ValueError:
            raise UserError(f"{name}: expected a positive integer, got {text!r}") from None
        if v < 1:
            raise UserError(f"{name}: expected a positive integer, got {v}")
        if most is not None and v > most:
            raise UserError(f"{name}: {v} is out of range, allowed 1..{most}")
        return v
    return parse


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="jaxstab", description="Seed sweeps with honest statistics.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("list", help="built-in studies, one line each").set_defaults(func=cmd_list)
    r = sub.add_parser("run", help="train every seed of every setting of studies")
    r.add_argument("study", nargs="+", help="built-in name, `article`, or a TOML path")
    r.add_argument("--seeds", type=_positive("--seeds", 10_000_000), help="seeds per setting")
    r.add_argument("--store", default="results.sqlite")
    r.add_argument("--chunk-size", type=_positive("--chunk-size"), default=None,
                   help="runs per compiled call (default: sized from the compiled "
                        "program's memory analysis)")
    r.add_argument("--coordinator", metavar="HOST:PORT",
                   help="multi-process run through jax.distributed: process 0's address")
    r.add_argument("--num-processes", type=_positive("--num-processes"))
    r.add_argument("--process-id", type=int)
    r.set_defaults(func=cmd_run)
    e = sub.add_parser("export", help="CSV, one row per (run, metric)")
    e.add_argument("--store", default="results.sqlite")
    e.add_argument("--out", default="-", help="file to write (default: standard output)")
    e.set_defaults(func=cmd_export)
    c = sub.add_parser("compare", help="pairwise comparisons and claim verdicts of a study")
    c.add_argument("study", help="a study name in the store (or a built-in / TOML path)")
    c.add_argument("--store", default="results.sqlite")
    c.add_argument("--metric", help="metric to compare (default: the study's main metric)")
    c.add_argument("--kind", choices=("mean", "spread"), default="mean",
                   help="compare means or seed-to-seed spread")
    c.add_argument("--correction", choices=("holm", "fdr_bh"), default="holm")
    c.add_argument("--json", action="store_true", help="print the same as JSON")
    c.set_defaults(func=cmd_compare)
    add_report_parser(sub)
    return p


def _one_line(text: str) -> str:
    # A user's key or value can hold a newline; the contract is one line on stderr.
    return re.sub(r"[\x00-\x1f\x7f\x85\u2028\u2029]",
                  lambda m: ascii(m.group())[1:-1], text)


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else [str(a) for a in argv]
    try:
        args = build_parser().parse_args(argv)
        args.argv = argv
        return args.func(args)
    except UserError as err:
        print(f"jaxstab: error: {_one_line(str(err))}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # `jaxstab export | head`: the reader left, not an error
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:  # before `run` opened its store, or another command
        print("jaxstab: interrupted; nothing was being written, run the same command again",
              file=sys.stderr)
        return 130
    except Exception as err:  # noqa: BLE001 - the CLI boundary
        if type(err) is sqlite3.DatabaseError:
            # Damage that shows only when a page is read (opening checks what it can);
            # OperationalError (locked, I/O, disk full) is not the input's fault.
            print(f"jaxstab: error: --store: the results store is damaged "
                  f"({_one_line(str(err))})", file=sys.stderr)
            return 2
        if os.environ.get("JAXSTAB_DEBUG") == "1":
            raise
        print(f"jaxstab: internal error: {type(err).__name__}: {_one_line(str(err))} "
              f"(set JAXSTAB_DEBUG=1 for a traceback)", file=sys.stderr)
        return 1


def cmd_list(args) -> int:
    from jaxstab.study import builtin_names, load_study

    for name in builtin_names():
        print(f"{name:28s} {load_study(name).description}")
    return 0


class _Progress:
    def __init__(self, label: str):
        self.label, self.tty, self.t0 = label, sys.stderr.isatty(), time.perf_counter()

    def __call__(self, done: int, total: int) -> None:
        if not self.tty:
            return
        width = 30
        fill = int(width * done / max(total, 1))
        rate = done / max(time.perf_counter() - self.t0, 1e-9)
        sys.stderr.write(f"\r{self.label} [{'#' * fill}{'.' * (width - fill)}] "
                         f"{done}/{total} runs {rate:,.0f} runs/s")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()


def _init_distributed(args) -> None:
    """Join a jax.distributed job: each process trains its share of the runs and process
    0 writes them all to the store (which every process must be able to read)."""
    given = [args.coordinator is not None, args.num_processes is not None,
             args.process_id is not None]
    if not any(given):
        return
    if not all(given):
        raise UserError("--coordinator, --num-processes and --process-id go together")
    if not 0 <= args.process_id < args.num_processes:
        raise UserError(f"--process-id: {args.process_id} is out of range, allowed "
                        f"0..{args.num_processes - 1}")
    import jax

    # the CPU backend needs a collectives implementation to gather across processes
    jax.config.update("jax_cpu_collectives_implementation", "gloo")
    jax.distributed.initialize(coordinator_address=args.coordinator,
                               num_processes=args.num_processes, process_id=args.process_id)


def cmd_run(args) -> int:
    from jaxstab.study import expand_refs

    studies = expand_refs(args.study)  # validates every study before anything is written
    _init_distributed(args)
    from jaxstab.env import environment
    from jaxstab.store import Store
    from jaxstab.summary import summary_lines
    from jaxstab.sweep import sweep

    store = Store(args.store, on_wait=lambda msg: print(f"jaxstab: {msg}", file=sys.stderr,
                                                        flush=True))
    saved = 0
    try:
        env = environment()
        total_runs, t0 = 0, time.perf_counter()
        for study in studies:
            fp = store.ensure_study(study)
            seeds = args.seeds or study.seeds
            done = store.done(fp)
            late = 0  # runs another process running the same study stored first

            def commit(recs, sec, fp=fp):
                def write():  # counts before a held-back Ctrl-C is raised
                    nonlocal saved, late
                    added = store.write_chunk(fp, recs, sec, env)
                    saved, late = saved + added, late + len(recs) - added

                _uninterrupted(write)

            stats = sweep(study, seeds=seeds, chunk_size=args.chunk_size,
                          skip=done, on_chunk=commit, progress=_Progress(study.name))
            total_runs += stats.runs
            skipped = sum(1 for s in study.settings() for k in range(seeds)
                          if (s.key, k) in done)
            also = f", {late} of them stored first by another process" if late else ""
            print(f"{study.name}: {stats.runs} runs trained{also}, {skipped} already in the "
                  f"store")
            for line in summary_lines(store.results(fp), seeds):
                print("  " + line)
            if study.search is not None:
                total_runs += _run_search(study, store, fp, commit)
    except KeyboardInterrupt:
        if sys.stderr.isatty():
            sys.stderr.write("\n")  # off the progress bar's line
        print(_one_line(f"jaxstab: interrupted; {saved} finished runs of this session are "
                        f"saved in {args.store}; resume with: jaxstab "
                        f"{shlex.join(args.argv)}"), file=sys.stderr)
        return 130
    finally:
        store.close()
    seconds = time.perf_counter() - t0
    print(f"{total_runs} runs in {seconds:.1f} s, {total_runs / max(seconds, 1e-9):.1f} runs/s")
    return 0


def _run_search(study, store, fp, commit) -> int:
    """The study's adaptive search ([search]): its trials and fresh re-runs are runs of
    the study like any other (seed indices apart from the study's own), committed a call
    at a time, so an interrupted search resumes; prints the picks and verdicts."""
    import jax

    from jaxstab.search import run_search
    from jaxstab.stats import format_verdicts

    if jax.process_index() != 0:
        # Under jax.distributed the search runs on process 0 alone: its calls are small
        # and sequential (each batch of proposals depends on the scores before it).
        return 0
    say = (lambda line: print(f"{study.name} search: {line}", file=sys.stderr, flush=True)) \
        if sys.stderr.isatty() else None
    result = run_search(study, known=store.values(fp, study.main_metric), on_chunk=commit,
                        progress=say)
    print(f"{study.name} search: {result.runs} runs trained, {result.stored} already in "
          f"the store")
    for line in result.table() + [""] + format_verdicts(result.verdicts()).splitlines():
        print("  " + line)
    return result.runs


def _uninterrupted(fn):
    """Call ``fn`` (a commit) with a first Ctrl-C held back until it returns, so a chunk
    that finished training is saved whole; a second Ctrl-C stops at once (the commit
    then rolls back: the store never holds part of a chunk)."""
    if (threading.current_thread() is not threading.main_thread()
            or signal.getsignal(signal.SIGINT) is signal.SIG_IGN):  # e.g. under nohup
        return fn()
    held = []

    def hold(signum, frame):
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


def cmd_compare(args) -> int:
    from jaxstab.stats import (format_comparison_table, format_verdicts, omnibus, pairwise,
                               verdicts)
    from jaxstab.store import Store

    store = Store(args.store, create=False)
    name = args.study
    if name not in {n for n, _, _ in store.studies()}:
        from jaxstab.study import load_study

        name = load_study(name).name  # a TOML path or built-in names its study
    results = store.results(store.latest(name))
    metric = args.metric or results.study.main_metric
    have = {m for s in results.settings for m in s.metrics}
    if metric not in have:
        raise UserError(f"--metric: `{metric}` is not recorded for {name}; it has: "
                        f"{', '.join(sorted(have))}")
    pw = pairwise(results, metric=metric, metric_kind=args.kind, correction=args.correction)
    omni = omnibus(results, metric=metric, metric_kind=args.kind) \
        if len(results.settings) > 2 else None
    ver = verdicts(results, results.study.claims, correction=args.correction)
    from jaxstab.search import stored_search

    search = stored_search(store, results.fingerprint, results.study)
    search_ver = search.verdicts(correction=args.correction) if search else []
    if args.json:
        print(json.dumps({"study": name, "fingerprint": results.fingerprint,
                          "metric": metric, "kind": args.kind,
                          "pairwise": pw.to_dict(),
                          "omnibus": omni.to_dict() if omni else None,
                          "verdicts": [v.to_dict() for v in ver],
                          "search": None if search is None else {
                              "picks": [p.to_dict() for p in search.picks],
                              "verdicts": [v.to_dict() for v in search_ver]}},
                         indent=2, allow_nan=False))
        return 0
    print(f"{name} - {metric} ({args.kind})")
    print(format_comparison_table(pw))
    if omni is not None:
        print(", ".join(f"{t.name}: p={t.p_value:.3g}" for t in omni.tests))
    if ver:
        print()
        print(format_verdicts(ver))
    if search is not None:
        print()
        print(f"{name} - search ({len(search.picks)} picks re-run on fresh seeds)")
        print("\n".join(search.table()))
        print()
        print(format_verdicts(search_ver))
    return 0


def cmd_export(args) -> int:
    from jaxstab.store import Store

    store = Store(args.store, create=False)
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(["study", "fingerprint", "setting", "seed", "metric", "value", "diverged",
                "diverged_step"])
    for name, fp, setting, seed, metric, value, div, step in store.export_rows():
        w.writerow([name, fp, setting, seed, metric, "" if value is None else repr(value),
                    div, "" if step is None else step])
    if args.out == "-":
        sys.stdout.write(buf.getvalue())
        return 0
    out = Path(args.out)
    if not out.parent.exists():
        raise UserError(f"--out: folder {out.parent} does not exist")
    if out.is_dir():
        raise UserError(f"--out: {out} is a folder, expected a file")
    # Write beside the target and rename, so a failure never leaves half a file.
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.")
        with os.fdopen(fd, "w") as f:
            f.write(buf.getvalue())
        os.replace(tmp, out)
    except OSError as e:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
        raise UserError(f"--out: cannot write {out} ({e.strerror or e})") from None
    return 0


if __name__ == "__main__":
    sys.exit(main())
