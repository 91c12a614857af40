"""Ctrl-C and SIGTERM during ``jaxstab run``: the first stops after the chunk in
progress is saved, the second at once, whatever the main thread is doing."""

from __future__ import annotations

import os
import signal
import sys
import threading

from jaxstab._check import terminal_text


class StopOnSignal:
    """Ctrl-C (SIGINT) and SIGTERM during a run: the first asks the run to stop after the
    chunk in progress is saved (a flag read between chunks, so the signal cannot be lost
    in a callback of JAX's, where a raised KeyboardInterrupt is swallowed); a second
    stops at once (the chunk being written then rolls back), printing ``last_words()``.

    Python runs a signal handler only when the main thread is back in the interpreter,
    never while it waits on a compiled program (an endless ``lax.while_loop`` ignored
    every Ctrl-C). So the signals are also read from ``signal.set_wakeup_fd``, which the
    C-level handler writes at once, by a thread: it says the first stop is coming and
    ends the process on the second."""

    def __init__(self):
        self.signum = None
        self._previous = {}
        self._seen = 0
        self._pipe = None
        self._old_fd = -1
        self._ending = threading.Lock()
        self.last_words = lambda: "jaxstab: stopped at once"

    def requested(self) -> bool:
        return self.signum is not None

    def _handle(self, signum, frame):
        if self._pipe is not None:
            # The thread reading the wakeup fd counts the signals (one byte each, seen
            # whatever the main thread is doing) and ends the process on the second; the
            # handler runs later for the same signal, so counting here too made one
            # Ctrl-C look like two. Not a KeyboardInterrupt either: on the CPU a task's
            # callback runs on the main thread, and it would land in the user's code.
            self.signum = self.signum or signum
            return
        if self.signum is not None:
            raise KeyboardInterrupt
        self.signum = signum
        self._first()

    def _first(self) -> None:
        print("jaxstab: stopping after the chunk in progress is saved (Ctrl-C again to "
              "stop at once)", file=sys.stderr, flush=True)

    def _watch(self, fd: int) -> None:
        while True:
            try:
                got = os.read(fd, 64)
            except OSError:
                return
            if not got:
                return
            for signum in got:
                if signum not in (signal.SIGINT, signal.SIGTERM):
                    continue
                self._seen += 1
                if self._seen == 1:
                    self.signum = self.signum or signum
                    self._first()
                else:
                    self._end(signum)

    def _end(self, signum) -> None:
        """The second signal, seen by the handler or the thread: the first of them ends
        the process, the other waits here for that."""
        self._ending.acquire()
        try:
            print(terminal_text(self.last_words()), file=sys.stderr, flush=True)
        finally:
            first = self.signum or signum
            os._exit(143 if first == signal.SIGTERM else 130)

    def __enter__(self):
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                if signal.getsignal(sig) is not signal.SIG_IGN:  # nohup keeps its own
                    self._previous[sig] = signal.signal(sig, self._handle)
            if self._previous:
                r, w = os.pipe()
                os.set_blocking(w, False)
                try:
                    self._old_fd = signal.set_wakeup_fd(w, warn_on_full_buffer=False)
                except (ValueError, OSError):
                    os.close(r)
                    os.close(w)
                else:
                    self._pipe = (r, w)
                    threading.Thread(target=self._watch, args=(r,), daemon=True,
                                     name="jaxstab-signals").start()
        return self

    def __exit__(self, *exc):
        if self._pipe is not None:
            signal.set_wakeup_fd(self._old_fd)
            os.close(self._pipe[1])  # the thread reads the end of the pipe and returns
            self._pipe = None
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
