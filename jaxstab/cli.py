"""Command line: thin; builds a request, calls the library, prints."""

from __future__ import annotations

import argparse
import csv
import json
import logging
import os
import shlex
import signal
import sqlite3
import sys
import tempfile
from pathlib import Path

from jaxstab._check import csv_text, terminal_text
from jaxstab._signals import StopOnSignal as _StopOnSignal
from jaxstab.errors import TaskError, UserError
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


def _seconds(name):
    def parse(text):
        try:
            v = float(text)
        except ValueError:
            raise UserError(f"{name}: expected a number of seconds, got {text!r}") from None
        if not 0 < v <= 86400:
            raise UserError(f"{name}: {text} is out of range, allowed more than 0 and at "
                            f"most 86400 seconds")
        return v
    return parse


def _json_table(name):
    def parse(text):
        try:
            v = json.loads(text)
        except json.JSONDecodeError:
            raise UserError(f"{name}: expected a JSON object of factor values, got "
                            f"{text!r}") from None
        if not isinstance(v, dict) or not v:
            raise UserError(f"{name}: expected a JSON object of factor values, got {text!r}")
        return v
    return parse


STORE_HELP = ("an SQLite file (default results.sqlite) or a database URL, "
              "postgresql://user@host:port/db, for workers on many hosts")


def build_parser() -> argparse.ArgumentParser:
    p = _Parser(prog="jaxstab", description="Seed sweeps with honest statistics.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=_Parser)
    sub.add_parser("list", help="built-in studies, one line each").set_defaults(func=cmd_list)
    r = sub.add_parser("run", help="train every seed of every setting of studies")
    r.add_argument("study", nargs="+", help="built-in name, `article`, `suite`, or a TOML path")
    r.add_argument("--seeds", type=_positive("--seeds", 10_000_000), help="seeds per setting")
    r.add_argument("--store", default="results.sqlite", help=STORE_HELP)
    r.add_argument("--chunk-size", type=_positive("--chunk-size"), default=None,
                   help="runs per compiled call (default: sized from the compiled "
                        "program's memory analysis)")
    r.add_argument("--until-decided", action="store_true",
                   help="seeds in rounds (the first of --seeds) until every claim holds, is "
                        "refuted or cannot be decided (group-sequential tests)")
    r.add_argument("--max-seeds", type=_positive("--max-seeds", 10_000_000),
                   help="with --until-decided: most seeds per setting (default 512)")
    r.add_argument("--lease-timeout", type=_seconds("--lease-timeout"), metavar="SECONDS",
                   help="processes on one store share the work; a process that holds "
                        "work and gives no sign of life this long is taken over "
                        "(default 90)")
    r.add_argument("--coordinator", metavar="HOST:PORT",
                   help="multi-process run through jax.distributed: process 0's address")
    r.add_argument("--num-processes", type=_positive("--num-processes"))
    r.add_argument("--process-id", type=int)
    r.set_defaults(func=cmd_run)
    e = sub.add_parser("export", help="CSV, one row per (run, metric)")
    e.add_argument("--store", default="results.sqlite", help=STORE_HELP)
    e.add_argument("--out", default="-", help="file to write (default: standard output)")
    e.add_argument("--curves", action="store_true",
                   help="also the curves: a `step` column, a row per (run, curve, step)")
    e.set_defaults(func=cmd_export)
    c = sub.add_parser("compare", help="pairwise comparisons and claim verdicts of a study")
    c.add_argument("study", help="a study name in the store (or a built-in / TOML path)")
    c.add_argument("--store", default="results.sqlite", help=STORE_HELP)
    c.add_argument("--metric", help="metric to compare (default: the study's main metric)")
    c.add_argument("--kind", choices=("mean", "spread"), default="mean",
                   help="compare means or seed-to-seed spread")
    c.add_argument("--correction", choices=("holm", "fdr_bh"), default="holm")
    c.add_argument("--json", action="store_true", help="print the same as JSON")
    c.add_argument("--control", type=_json_table("--control"),
                   help='a setting to compare every other with, e.g. \'{"learning_rate": 0.001}\'')
    c.add_argument("--fingerprint", help="which stored version of the study (default: "
                                         "the one given, else the most recently run)")
    c.add_argument("--lower-is-better", action="append", default=[], metavar="NAME",
                   help="a metric whose lower values are better (repeatable; overrides "
                        "the study's [metrics] and the guess from the name)")
    c.set_defaults(func=cmd_compare)
    i = sub.add_parser("import", help="scores made elsewhere (CSV) into the store")
    i.add_argument("file", help="CSV: setting, seed, metric, value (the export's columns) "
                                "or setting, seed and one column per metric")
    i.add_argument("--study", required=True, help="the study name to store them under")
    i.add_argument("--claims", help="a TOML file whose [[claims]] (and main_metric) apply")
    i.add_argument("--store", default="results.sqlite", help=STORE_HELP)
    i.add_argument("--strata", action="append", default=[], metavar="FACTOR",
                   help="a factor whose values are tasks (datasets), not treatments "
                        "(repeatable, or comma-separated)")
    i.add_argument("--lower-is-better", action="append", default=[], metavar="NAME",
                   help="a metric whose lower values are better (repeatable)")
    i.set_defaults(func=cmd_import)
    add_report_parser(sub)
    return p


def _one_line(text: str) -> str:
    # A user's key or value can hold a newline or an ANSI escape; the contract is one
    # plain line on stderr.
    return terminal_text(text)


def _text(text: str) -> str:
    # Labels (a user's setting names, metrics) are printed: never their control
    # characters (an ANSI escape would drive the terminal), line breaks kept.
    return terminal_text(text, keep="\n")


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
        if type(err).__module__.startswith("psycopg"):
            # The server went away or failed mid-command: not the input's fault (exit 1);
            # what was committed stays, a rerun goes on from there.
            print(f"jaxstab: error: --store: the database server failed "
                  f"({type(err).__name__}: {_one_line(str(err))})", file=sys.stderr)
            return 1
        print(f"jaxstab: internal error: {type(err).__name__}: {_one_line(str(err))} "
              f"(set JAXSTAB_DEBUG=1 for a traceback)", file=sys.stderr)
        return 1


def cmd_list(args) -> int:
    from jaxstab.loader import GROUPS, builtin_names, load_study

    for name in builtin_names():
        print(f"{name:28s} {load_study(name).description}")
    for group, what in GROUPS.items():
        members = [n for n in builtin_names() if n.startswith(group + "/")]
        print(f"{group:28s} (group) {what}: {', '.join(members)}")
    return 0


def _progress(study):
    from jaxstab.progress import Progress

    return Progress(study.name)


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
    # Signals are caught from here on, before JAX is even imported: a Ctrl-C that
    # lands in one of JAX's callbacks (while it imports, or in its garbage collection)
    # would otherwise be swallowed there and training would go on.
    stop = _StopOnSignal().__enter__()
    try:
        return _run(args, stop)
    finally:
        stop.__exit__()


def _run(args, stop) -> int:
    from jaxstab.api import RunReport, run_study
    from jaxstab.env import compile_cache

    compile_cache()  # before anything compiles (the memory probe included)
    report = RunReport()
    if os.environ.get("JAXSTAB_DEBUG") != "1":
        # A user callback's exception is also logged by JAX, traceback and all; the
        # error line says it (JAXSTAB_DEBUG=1 keeps the log).
        logging.getLogger("jax._src.callback").setLevel(logging.CRITICAL)
    stop.last_words = lambda: (
        f"jaxstab: stopped at once; {report.saved} finished runs of this session are "
        f"saved in {args.store} (the chunk in progress is lost); resume with: jaxstab "
        f"{shlex.join(args.argv)}")

    def show(run) -> None:
        from jaxstab.api import results
        from jaxstab.summary import summary_lines

        also = f", {run.late} of them stored first by another process" if run.late else ""
        print(f"{run.study.name}: {run.trained} runs trained{also}, {run.skipped} already "
              f"in the store")
        seq = run.sequential
        seeds = seq.schedule[seq.looks - 1] if seq else args.seeds or run.study.seeds
        for line in summary_lines(results(args.store, run.study), seeds):
            print(_text("  " + line))
        if seq is not None:
            from jaxstab.summary import sequential_lines

            for line in sequential_lines(seq):
                print(_text("  " + line))
        if run.search is not None:
            _show_search(run)

    try:
        studies = _load_and_check(args)
        if stop.requested():
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        print("jaxstab: interrupted; nothing was being written, run the same command "
              "again", file=sys.stderr)
        return 143 if stop.signum == signal.SIGTERM else 130
    try:
        run_study(studies, store=args.store, seeds=args.seeds,
                  chunk_size=args.chunk_size, progress=_progress, on_study=show,
                  report=report, should_stop=stop.requested, checked=True,
                  until_decided=args.until_decided, max_seeds=args.max_seeds,
                  lease_timeout=args.lease_timeout,
                  on_wait=lambda msg: print(f"jaxstab: {msg}", file=sys.stderr,
                                            flush=True))
        if stop.requested():  # a signal after the last chunk: still a stop
            raise KeyboardInterrupt
    except KeyboardInterrupt:
        return _interrupted(args, report, stop)
    except TaskError as err:  # the user's code failed: what it finished is saved
        if sys.stderr.isatty():
            sys.stderr.write("\n")
        print(_one_line(f"jaxstab: error: {err}; {report.saved} finished runs of this "
                        f"session are saved in {args.store}; resume with: jaxstab "
                        f"{shlex.join(args.argv)}"), file=sys.stderr)
        return 2
    print(f"{report.runs} runs in {report.seconds:.1f} s, "
          f"{report.runs / max(report.seconds, 1e-9):.1f} runs/s")
    return 0


def _load_and_check(args):
    from jaxstab.loader import expand_refs

    studies = expand_refs(args.study)
    # jax.distributed must start before anything touches a JAX backend (the checks do)
    _init_distributed(args)
    for study in studies:  # everything is checked before anything is written
        study.check()
    return studies


def _interrupted(args, report, stop) -> int:
    if sys.stderr.isatty():
        sys.stderr.write("\n")  # off the progress bar's line
    print(_one_line(f"jaxstab: interrupted; {report.saved} finished runs of this "
                    f"session are saved in {args.store}; resume with: jaxstab "
                    f"{shlex.join(args.argv)}"), file=sys.stderr)
    return 143 if stop.signum == signal.SIGTERM else 130


def _show_search(run) -> None:
    from jaxstab.stats import format_verdicts

    result = run.search
    print(f"{run.study.name} search: {result.runs} runs trained, {result.stored} already "
          f"in the store")
    for line in result.table() + [""] + format_verdicts(result.verdicts()).splitlines():
        print(_text("  " + line))


def cmd_compare(args) -> int:
    from jaxstab.api import compare

    cmp = compare(args.store, args.study, metric=args.metric, kind=args.kind,
                  correction=args.correction, fingerprint=args.fingerprint,
                  control=args.control, lower_is_better=args.lower_is_better)
    if args.json:
        print(json.dumps(cmp.to_dict(), indent=2, allow_nan=False))
    else:
        print(_text(cmp.format()))
    return 0


def cmd_import(args) -> int:
    from jaxstab.importer import import_scores

    strata = [f.strip() for x in args.strata for f in x.split(",") if f.strip()]
    study, added = import_scores(args.file, args.study, store=args.store,
                                 claims_file=args.claims, strata=strata,
                                 lower_is_better=args.lower_is_better)
    print(f"{study.name}: {added} runs imported into {args.store} "
          f"({len(study.settings())} settings)")
    return 0


def cmd_export(args) -> int:
    from jaxstab.store import open_store

    store = open_store(args.store, create=False)
    if args.out == "-":
        _write_csv(store.export_rows(args.curves), sys.stdout, args.curves)
        return 0
    out = Path(args.out)
    if not out.parent.exists():
        raise UserError(f"--out: folder {out.parent} does not exist")
    if out.is_dir():
        raise UserError(f"--out: {out} is a folder, expected a file")
    # Written beside the target as rows arrive (memory stays flat however many runs),
    # then renamed: a failure never leaves half a file.
    tmp = None
    try:
        fd, tmp = tempfile.mkstemp(dir=out.parent, prefix=f".{out.name}.")
        mask = os.umask(0o022)
        os.umask(mask)
        os.fchmod(fd, 0o666 & ~mask)  # mkstemp makes 0600; the user's umask decides
        with os.fdopen(fd, "w") as f:
            _write_csv(store.export_rows(args.curves), f, args.curves)
        os.replace(tmp, out)
    except OSError as e:
        raise UserError(f"--out: cannot write {out} ({e.strerror or e})") from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)
    return 0


def _write_csv(rows, f, curves: bool = False) -> None:
    w = csv.writer(f, lineterminator="\n")
    w.writerow(["study", "fingerprint", "setting", "seed", "metric", "value", "diverged",
                "diverged_step"] + (["step"] if curves else []))
    w.writerows((csv_text(name), fp, setting, seed, csv_text(metric),
                 "" if value is None else repr(value),
                 div, "" if step is None else step, *("" if x is None else x for x in more))
                for name, fp, setting, seed, metric, value, div, step, *more in rows)


if __name__ == "__main__":
    sys.exit(main())
