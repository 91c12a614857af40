"""Progress of a sweep while it runs: runs done, runs per second, time left.

The sweep calls ``group(i, n, description, runs)`` just before the first chunk of each
compiled group (so while that group compiles) and ``update(done, total)`` after every
finished chunk. On a terminal a one-line bar is redrawn (once a second, so the time
spent compiling counts up); otherwise (``nohup``, batch schedulers, ``2> log``) plain
lines are written: one per group start and at least one every ``interval`` seconds,
from a daemon thread while a long chunk or a compilation gives no other sign of life.
"""

from __future__ import annotations

import os
import sys
import threading
import time
from typing import TextIO

# Seconds between plain lines when the output is not a terminal; the environment
# variable changes it (tests use a short one).
INTERVAL = float(os.environ.get("JAXSTAB_PROGRESS_SECONDS", "10") or 10)
BAR = 24


def clock_text(seconds: float) -> str:
    """``0:07``, ``12:34``, ``1:02:03``."""
    s = int(max(seconds, 0) + 0.5)
    h, rest = divmod(s, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m}:{s:02d}"


def _isatty(stream) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):
        return False


class Progress:
    """Progress of one study's sweep, written to ``stream`` (stderr by default).

    Rates and the ETA count the chunks after the first of each group, whose time is
    mostly compilation: a 30 s compile does not make the rest look 30 s slower.
    """

    def __init__(self, label: str, stream: TextIO | None = None, *,
                 interval: float | None = None, clock=time.monotonic):
        self.label = label
        self.stream = sys.stderr if stream is None else stream
        self.tty = _isatty(self.stream)
        self.interval = INTERVAL if interval is None else float(interval)
        self.clock = clock
        self.done = self.total = 0
        self.phase = ""  # "compiling 2/3: batch_size=256" until that group's first chunk
        self.t0: float | None = None
        self._phase_t0 = 0.0
        self._last = 0.0  # when the last chunk ended (or the group started)
        self._last_line = 0.0
        self._first_chunk = True
        self._steady_runs = 0
        self._steady_seconds = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._open_line = False  # a tty bar is drawn and not yet ended with a newline

    # ------------------------------------------------------------ the sweep's calls

    def group(self, index: int, n_groups: int, description: str, runs: int,
              compiled: bool = False) -> None:
        """Group ``index`` of ``n_groups`` (from 1) starts: it compiles now, unless
        ``compiled`` (its program already ran in this process: a later round)."""
        with self._lock:
            now = self._start()
            what = "starting" if compiled else "compiling"
            self.phase = f"{what} {index}/{n_groups}: {description}"
            self._phase_t0 = self._last = now
            self._first_chunk = True
            if self.tty:
                self._draw(now)
            else:
                self._line(f"{self.phase} ({runs:,} run{'s' if runs != 1 else ''})", now)

    def update(self, done: int, total: int) -> None:
        """``done`` of ``total`` runs finished (after a chunk)."""
        with self._lock:
            now = self._start()
            if self._first_chunk:
                self._first_chunk = False
            elif done > self.done:
                self._steady_runs += done - self.done
                self._steady_seconds += now - self._last
            self.done, self.total, self._last, self.phase = done, total, now, ""
            finished = total > 0 and done >= total
            if self.tty:
                self._draw(now)
                if finished:
                    self._end_line()
            elif finished or now - self._last_line >= self.interval:
                self._line(self._status(now), now)
        if finished:
            self.close()

    def __call__(self, done: int, total: int) -> None:  # a plain f(done, total) too
        self.update(done, total)

    def close(self) -> None:
        """Stop the timer thread and end the bar's line (idempotent)."""
        self._stop.set()
        thread = self._thread
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout=2)
        with self._lock:
            self._end_line()

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ------------------------------------------------------------ numbers

    def rate(self) -> float | None:
        """Runs per second in steady chunks (all chunks while there are no others)."""
        if self._steady_seconds > 0:
            return self._steady_runs / self._steady_seconds
        if self.t0 is not None and self.done and self._last > self.t0:
            return self.done / (self._last - self.t0)
        return None

    def eta(self) -> float | None:
        rate = self.rate()
        if not rate or self.total <= 0:
            return None
        return max(self.total - self.done, 0) / rate

    def _status(self, now: float) -> str:
        parts = [f"{self.done:,}/{self.total:,} runs"]
        if self.total:
            parts[0] += f" ({100 * self.done / self.total:.0f}%)"
        rate, eta = self.rate(), self.eta()
        if rate:
            parts.append(f"{rate:,.1f} runs/s")
        parts.append(f"elapsed {clock_text(now - (self.t0 or now))}")
        if eta is not None and self.done < self.total:
            parts.append(f"ETA {clock_text(eta)}")
        return ", ".join(parts)

    # ------------------------------------------------------------ output

    def _start(self) -> float:
        now = self.clock()
        if self.t0 is None:
            self.t0 = self._last_line = now
        if self._thread is None or not self._thread.is_alive():
            # also after a close(): a caller that reports a later group on the same
            # object gets its heartbeat back rather than silence
            self._stop.clear()
            self._thread = threading.Thread(target=self._beat, daemon=True,
                                            name=f"jaxstab-progress-{self.label}")
            self._thread.start()
        return now

    def _beat(self) -> None:
        # A terminal redraws every second (the compile clock counts up); a log gets a
        # line once nothing was written for `interval` seconds.
        step = 1.0 if self.tty else min(1.0, self.interval / 2)
        while not self._stop.wait(step):
            with self._lock:
                if self._stop.is_set():
                    return
                now = self.clock()
                if self.tty:
                    self._draw(now)
                elif now - self._last_line >= self.interval:
                    what = (f"{self.phase} and its first chunk, "
                            f"{clock_text(now - self._phase_t0)}"
                            if self.phase else f"training, {self._status(now)}")
                    self._line(f"still running: {what}", now)

    def _line(self, text: str, now: float) -> None:
        self._write(f"{self.label}: {text}\n")
        self._last_line = now

    def _draw(self, now: float) -> None:
        fill = int(BAR * self.done / self.total) if self.total else 0
        bar = f"[{'#' * fill}{'.' * (BAR - fill)}]"
        text = f"{self.label} {bar} {self._status(now)}"
        if self.phase:
            text += f" · {self.phase} ({clock_text(now - self._phase_t0)})"
        self._write(f"\r{text}\x1b[K")
        self._open_line = True

    def _end_line(self) -> None:
        if self._open_line:
            self._write("\n")
            self._open_line = False

    def _write(self, text: str) -> None:
        try:
            self.stream.write(text)
            self.stream.flush()
        except (OSError, ValueError):  # a closed pipe must not stop the sweep
            pass
