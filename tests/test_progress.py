"""Progress while a sweep runs: a bar on a terminal, plain lines in a log (a line per
compiled group and one at least every interval), rates that leave compilation out, and
`jaxstab run` with stderr piped showing progress before it ends."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import threading
import time

import pytest

from jaxstab.progress import Progress, clock_text


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


class Clock:
    def __init__(self):
        self.t = 100.0

    def __call__(self) -> float:
        return self.t


def test_plain_lines_in_a_log_while_a_group_compiles():
    log = io.StringIO()
    p = Progress("lr-batch", log, interval=0.2)
    p.group(1, 2, "batch_size=32", 8)
    time.sleep(0.75)  # a long compile: the log still sees life
    p.update(4, 16)
    p.update(8, 16)
    p.group(2, 2, "batch_size=256", 8)
    p.update(16, 16)
    lines = log.getvalue().splitlines()
    assert lines[0] == "lr-batch: compiling 1/2: batch_size=32 (8 runs)"
    beats = [x for x in lines
             if "still running: compiling 1/2: batch_size=32 and its first chunk, 0:0" in x]
    assert len(beats) >= 2
    assert "lr-batch: compiling 2/2: batch_size=256 (8 runs)" in lines
    assert lines[-1].startswith("lr-batch: 16/16 runs (100%), ") and "runs/s" in lines[-1]
    assert "\r" not in log.getvalue() and "\x1b" not in log.getvalue()
    assert not p._thread.is_alive()  # finished: the timer stopped


def test_a_long_chunk_prints_a_line_with_the_eta():
    log = io.StringIO()
    p = Progress("s", log, interval=0.2)
    p.group(1, 1, "64 runs", 64)
    p.update(16, 64)
    p.update(32, 64)
    time.sleep(0.5)
    p.close()
    beats = [x for x in log.getvalue().splitlines() if "still running: training" in x]
    assert beats and "32/64 runs (50%)" in beats[0] and "ETA" in beats[0]


def test_rates_and_eta_leave_compilation_out():
    clock = Clock()
    p = Progress("s", io.StringIO(), interval=1e9, clock=clock)
    p.group(1, 1, "x", 40)
    clock.t += 30.0  # compile and the first chunk
    p.update(10, 40)
    clock.t += 1.0
    p.update(20, 40)
    clock.t += 1.0
    p.update(30, 40)
    assert p.rate() == pytest.approx(10.0)  # 20 runs in 2 s; the 30 s compile left out
    assert p.eta() == pytest.approx(1.0)
    p.close()


def test_bar_on_a_terminal():
    tty = Terminal()
    p = Progress("lr", tty)
    p.group(1, 1, "batch_size=32", 10)
    time.sleep(1.3)  # redrawn every second: the compile clock counts up
    assert "compiling 1/1: batch_size=32 (0:01)" in tty.getvalue()
    p.update(5, 10)
    p.update(8, 10)
    text = tty.getvalue()
    assert text.startswith("\rlr [") and "8/10 runs (80%)" in text and "ETA" in text
    assert "\n" not in text
    p.update(10, 10)
    assert tty.getvalue().endswith("\n") and "10/10 runs (100%)" in tty.getvalue()


def test_nothing_to_run_starts_nothing_and_a_broken_pipe_stops_nothing():
    before = threading.active_count()
    p = Progress("s", io.StringIO())
    p.close()  # no group, no update: no thread was started
    assert threading.active_count() == before

    class Broken(io.StringIO):
        def write(self, text):
            raise BrokenPipeError

    p = Progress("s", Broken(), interval=0.1)
    p.group(1, 1, "x", 2)
    p.update(2, 2)  # no exception: the sweep goes on
    p(2, 2)  # a plain f(done, total) too


def test_clock_text():
    assert [clock_text(s) for s in (0, 7.4, 65, 3723)] == ["0:00", "0:07", "1:05", "1:02:03"]


def test_jaxstab_run_with_stderr_piped_shows_progress_before_it_ends(tmp_path):
    """Under nohup or a batch scheduler stderr is a pipe: lines must come while the run
    goes on, not all at the end."""
    from jaxstab.report import to_toml
    from jaxstab.loader import load_study

    d = load_study("article/example2").to_dict()
    d.update(name="test/progress", seeds=4, claims=[])
    d["train"]["epochs"] = 2
    d["data"]["n_samples"] = 64
    toml = tmp_path / "progress.toml"
    toml.write_text(to_toml(d))
    env = {**os.environ, "JAXSTAB_PROGRESS_SECONDS": "0.5"}
    proc = subprocess.Popen(
        [sys.executable, "-m", "jaxstab.cli", "run", str(toml), "--store",
         str(tmp_path / "s.sqlite")], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, env=env, cwd=tmp_path)
    lines, alive = [], []
    for line in proc.stderr:
        lines.append(line.rstrip("\n"))
        alive.append(proc.poll() is None)
    out = proc.stdout.read()
    assert proc.wait(timeout=300) == 0, "\n".join(lines)
    progress = [x for x in lines if x.startswith("test/progress: ")]
    assert progress and alive[lines.index(progress[0])], lines  # seen before the end
    assert "test/progress: compiling 1/1: " in progress[0]
    assert any("8/8 runs (100%)" in x and "runs/s" in x for x in progress), progress
    assert "best: learning_rate=" in out and "std [95% interval]" in out


SLOW_TASK = '''
import time

import jax


def make_train(config):
    slow = config["group"] == "slow"

    def train(keys, hparams):
        if slow:
            time.sleep(1.5)  # at trace time: this group's compile is long
        return {"score": jax.random.normal(keys["init"]) + hparams["shift"]}

    return train
'''


def test_the_second_groups_compile_with_stderr_piped_still_prints_lines(tmp_path):
    """The end of the first group was taken for the end of the sweep (its total was the
    group's): the timer stopped and the second group's compile went silent."""
    (tmp_path / "slowtask.py").write_text(SLOW_TASK)
    (tmp_path / "slow.toml").write_text(
        'name = "test/slow"\ntask = "slowtask:make_train"\nseeds = 4\nvary = ["init"]\n'
        'main_metric = "score"\n[factors]\ngroup = ["fast", "slow"]\nshift = [0.0, 1.0]\n')
    env = {**os.environ, "JAXSTAB_PROGRESS_SECONDS": "0.3"}
    p = subprocess.run([sys.executable, "-m", "jaxstab.cli", "run", "slow.toml"],
                       cwd=tmp_path, capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr
    lines = p.stderr.splitlines()
    second = lines.index("test/slow: compiling 2/2: group=slow (8 runs)")
    beats = [x for x in lines[second:]
             if x.startswith("test/slow: still running: compiling 2/2: group=slow")]
    assert beats, lines
