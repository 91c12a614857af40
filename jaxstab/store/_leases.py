"""Leases: how processes on one store share a study's work.

A study's runs are cut into units (``jaxstab.units``: a compiled group's full plan cut at
the chunk size, or at several chunks, so that every process derives the same units). A
process leases a unit in a short write transaction, trains the unit's runs that are not
stored yet and releases the lease in the transaction that commits the last of them. A
lease names its owner and expires ``timeout`` seconds after it was taken or last
renewed; a ``Heartbeat`` thread renews its process's leases every ``timeout / 4``, so a
long chunk keeps its lease while its process lives, and the lease of a process that
died is taken over once expired (at once when that process ran on this machine:
``gone``). An owner is ``host:pid:token``: on another host (a cluster's node) a pid
says nothing, so there only the expiry frees a lease. Expiry times are the database's
clock, not each host's.
"""

from __future__ import annotations

import os
import secrets
import socket
import threading
from dataclasses import dataclass, field

import numpy as np

from jaxstab.store._blocks import setting_ids, stored_seeds
from jaxstab.store._schema import dialect


def new_owner() -> str:
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


def gone(owner: str) -> bool:
    """Whether ``owner`` was a process of this machine that no longer runs: its lease is
    taken over at once instead of after the timeout (a rerun after a kill does not wait).
    A process elsewhere, or a pid in use again, counts as alive: then only the timeout
    frees its lease. A zombie (killed, not yet reaped by its parent) is dead: it
    answers ``kill(pid, 0)`` but will never renew its lease."""
    host, _, rest = owner.partition(":")
    pid = rest.partition(":")[0]
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return True
    except OSError:  # another user's process: alive
        return False
    return _zombie(int(pid))


def _zombie(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:  # no /proc (macOS): only the timeout tells
        return False
    # "pid (comm) state ...": comm may hold spaces and parentheses, so from the last ")"
    return stat[stat.rfind(b")") + 2:stat.rfind(b")") + 3] in (b"Z", b"X")


@dataclass
class Taken:
    """What one try to lease a unit found: ``index`` of the unit leased (None: none
    free), the seeds of its ranges already stored (setting key -> seeds), the units
    found complete, and the seconds until the soonest other owner's lease expires
    (None: no unit is held by another process)."""

    index: int | None = None
    stored: dict = field(default_factory=dict)
    finished: list = field(default_factory=list)
    wait: float | None = None


def take(db, study_id: int, fingerprint: str, owner: str, units: list, timeout: float
         ) -> Taken:
    """In the caller's write transaction: lease the first of ``units`` ((unit id,
    [(setting key, first seed, end seed)]) each) that no live owner holds and that still
    has runs to store."""
    now = db.execute(f"SELECT {dialect(db).now}").fetchone()[0]
    held = {u: (o, e) for u, o, e in db.execute(
        "SELECT unit, owner, expires FROM leases WHERE fingerprint=?", (fingerprint,))}
    out = Taken()
    for i, (unit, ranges) in enumerate(units):
        other = held.get(unit)
        if other is not None and other[0] != owner and other[1] > now and \
                not gone(other[0]):
            left = other[1] - now
            out.wait = left if out.wait is None else min(out.wait, left)
            continue
        ids = setting_ids(db, study_id, [k for k, _, _ in ranges])
        have = stored_seeds(db, [(ids[k], lo, hi - 1) for k, lo, hi in ranges])
        stored = {k: have.get(ids[k], np.zeros(0, np.int64)) for k, _, _ in ranges}
        if all(len(stored[k]) >= hi - lo for k, lo, hi in ranges):
            out.finished.append(i)
            if other is not None:  # stored meanwhile by a process whose lease expired
                db.execute("DELETE FROM leases WHERE fingerprint=? AND unit=?",
                           (fingerprint, unit))
            continue
        db.execute("INSERT INTO leases VALUES (?, ?, ?, ?) ON CONFLICT (fingerprint, unit) "
                   "DO UPDATE SET owner=excluded.owner, expires=excluded.expires",
                   (fingerprint, unit, owner, now + timeout))
        out.index, out.stored = i, stored
        return out
    return out


class Heartbeat:
    """Renews ``owner``'s leases every ``timeout / 4`` seconds from a daemon thread with
    its own connection (``connect()``, in autocommit), until ``stop()``."""

    def __init__(self, connect, owner: str, timeout: float):
        self.connect, self.owner, self.timeout = connect, owner, float(timeout)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="jaxstab-lease-heartbeat",
                                        daemon=True)
        self._thread.start()

    def _run(self) -> None:
        db = None
        try:
            while not self._stop.wait(self.timeout / 4):
                try:
                    db = db or self.connect()
                    db.execute(f"UPDATE leases SET expires={dialect(db).now} + ? WHERE "
                               f"owner=?", (self.timeout, self.owner))
                except Exception:  # noqa: BLE001 - busy or the server away for a beat:
                    db = _close(db)  # the next beat reconnects and renews
        finally:
            _close(db)

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=self.timeout)


def _close(db) -> None:
    try:
        if db is not None:
            db.close()
    except Exception:  # noqa: BLE001 - a connection already broken
        pass
