"""The `jaxstab report` subcommand; jaxstab.cli calls ``add_parser``."""

from __future__ import annotations


def add_parser(sub) -> None:
    p = sub.add_parser("report", help="HTML report (one page per study) of a results store")
    p.add_argument("--store", default="results.sqlite",
                   help="results store to read: an SQLite file or postgresql://user@host/db")
    p.add_argument("--out", default="reports", help="folder to write the pages to")
    p.add_argument("--jobs", type=int, default=None,
                   help="studies built at once (default: one per core)")
    p.add_argument("--smoothing", type=float, default=0.0, metavar="W",
                   help="smooth each run's learning curve by an exponential moving average "
                        "of weight W in [0, 1) before the bands are drawn (default 0: none)")
    p.add_argument("--lower-is-better", action="append", default=[], metavar="NAME",
                   help="a metric whose lower values are better (repeatable; overrides "
                        "a study's [metrics] and the guess from the name)")
    p.set_defaults(func=cmd_report)


def cmd_report(args) -> int:
    from jaxstab.store import open_store

    # a store that is not there is said before the statistics are imported (scipy.stats,
    # most of the command's start-up)
    open_store(args.store, create=False).close()
    from jaxstab.report._write import write_report

    paths = write_report(args.store, args.out, jobs=args.jobs, smoothing=args.smoothing,
                         lower_is_better=args.lower_is_better)
    pages = sum(1 for p in paths if p.suffix == ".html") - 1
    print(f"wrote {paths[0]} and {pages} study page{'s' if pages != 1 else ''} "
          f"(with JSON and per-seed CSV twins) to {paths[0].parent}")
    return 0
