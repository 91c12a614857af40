"""`jaxstab export`: every stored run as CSV rows, to standard output or a file."""

from __future__ import annotations

import csv
import os
import sys
import tempfile
from pathlib import Path

from jaxstab._check import csv_text
from jaxstab.errors import UserError


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
    if out.exists() and not out.is_file():
        # /dev/null, /dev/stdout, a named pipe: written in place. Renaming over it would
        # put a plain file where the device was (seen: `--out /dev/null` run as root).
        try:
            with open(out, "w") as f:
                _write_csv(store.export_rows(args.curves), f, args.curves)
        except OSError as e:
            raise UserError(f"--out: cannot write {out} ({e.strerror or e})") from None
        return 0
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
