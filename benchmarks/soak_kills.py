"""Soak test of stopping and resuming (issue 14): a three-study `jaxstab run` is stopped
20 times at random moments by SIGKILL, SIGINT or SIGTERM, resumed each time, and finally
completed; its export must be byte-identical to an uninterrupted run's, the store must
pass `PRAGMA integrity_check`, and every signal must be answered with its exit code
(SIGINT 130, SIGTERM 143, SIGKILL -9).

    python benchmarks/soak_kills.py [--kills 20] [--seed 0] [--out /tmp/soak]

Then (issue 28) workers share one store: `jaxstab run` of one study started four times
at once with different `--chunk-size` (3, 5, 7; the first records the plan, the others
must follow it), one of them SIGKILLed while it holds a lease and left unreaped (a
zombie: its lease must be taken over at once, not after `--lease-timeout 600`). It
states how many runs were trained twice (stored first by another process) and compares
the export with a one-process run's, byte for byte.

    python benchmarks/soak_kills.py --phase workers --worker-seeds 1500

Prints one line per stop and a summary; exits 1 if any check fails. Slow (minutes): not
part of the default test run.
"""

from __future__ import annotations

import argparse
import json
import random
import re
import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path

STUDY = """
name = "soak/{name}"
seeds = 400
vary = ["data", "init", "order"]
main_metric = "train_accuracy"
[data]
name = "article_uniform"
n_samples = 1000
[model]
name = "mlp"
hidden = [16, 16]
[train]
optimizer = "sgd"
epochs = 10
batch_size = 16
[factors]
learning_rate = [0.01, {lr}]
"""
EXIT = {signal.SIGINT: 130, signal.SIGTERM: 143, signal.SIGKILL: -9}


def _cmd(out: Path, store: Path) -> list[str]:
    return [sys.executable, "-m", "jaxstab.cli", "run",
            *(str(out / f"{n}.toml") for n in "abc"), "--store", str(store),
            "--chunk-size", "3"]


def _runs(store: Path) -> int:
    try:
        with sqlite3.connect(store, timeout=1) as db:
            return db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    except sqlite3.Error:
        return 0


def _export(out: Path, store: Path) -> bytes:
    return subprocess.run([sys.executable, "-m", "jaxstab.cli", "export", "--store",
                           str(store)], cwd=out, check=True, capture_output=True).stdout


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--kills", type=int, default=20)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=None)
    p.add_argument("--phase", choices=("stops", "workers", "all"), default="all")
    p.add_argument("--worker-seeds", type=int, default=1500)
    args = p.parse_args(argv)
    out = Path(args.out or tempfile.mkdtemp(prefix="jaxstab-soak-"))
    out.mkdir(parents=True, exist_ok=True)
    for name, lr in zip("abc", (0.1, 10.0, 1000.0)):
        (out / f"{name}.toml").write_text(STUDY.format(name=name, lr=lr))
    env = {"JAX_COMPILATION_CACHE_DIR": str(out / "jax-cache")}
    import os

    env = {**os.environ, **env}
    failures = []
    if args.phase in ("stops", "all"):
        failures += _stops(args, out, env)
    if args.phase in ("workers", "all"):
        failures += _workers(args, out, env)
    for f in failures:
        print("FAIL:", f)
    return 1 if failures else 0


def _stops(args, out: Path, env: dict) -> list[str]:
    ref, soak = out / "ref.sqlite", out / "soak.sqlite"
    for f in (ref, soak):
        f.unlink(missing_ok=True)
    t0 = time.time()
    subprocess.run(_cmd(out, ref), cwd=out, env=env, check=True, capture_output=True)
    total = _runs(ref)
    print(f"reference: {total} runs in {time.time() - t0:.1f} s")
    rng = random.Random(args.seed)
    failures, stops = [], 0
    while stops < args.kills:
        before = _runs(soak)
        if before >= total:
            failures.append(f"the run finished after {stops} stops; use more seeds")
            break
        sig = rng.choice([signal.SIGKILL, signal.SIGINT, signal.SIGTERM])
        # A shell's background job ignores SIGINT, and a child inherits that: restore
        # the default so the run sees Ctrl-C as a terminal would send it.
        proc = subprocess.Popen(_cmd(out, soak), cwd=out, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                preexec_fn=lambda: signal.signal(signal.SIGINT,
                                                                 signal.SIG_DFL))
        # a random moment: while starting or compiling, or after some commits
        wait = rng.uniform(0.5, 6.0)
        deadline = time.time() + wait
        while time.time() < deadline and proc.poll() is None:
            time.sleep(0.02)
        if proc.poll() is not None:
            failures.append(f"stop {stops + 1}: the process ended before the signal")
            continue
        proc.send_signal(sig)
        _, err = proc.communicate(timeout=300)
        stops += 1
        after = _runs(soak)
        with sqlite3.connect(soak) as db:
            ok = db.execute("PRAGMA integrity_check").fetchone()[0]
        expect = EXIT[sig]
        # a signal that lands before `jaxstab run` installed its handlers (the first
        # tenths of a second: the interpreter starting) meets Python's defaults
        # (SIGTERM: killed, -15; SIGINT: a KeyboardInterrupt traceback, exit 1)
        early = {signal.SIGTERM: {-15}, signal.SIGINT: {1, -2}}.get(sig, set())
        allowed = {expect} | (early if after == before else set())
        good = proc.returncode in allowed and ok == "ok"
        print(f"stop {stops:2d}: {sig.name:7s} after {wait:4.1f} s -> exit "
              f"{proc.returncode:4d} (expected {expect}), runs {before} -> {after}, "
              f"integrity {ok}")
        if not good:
            failures.append(f"stop {stops}: {sig.name} exit {proc.returncode}, integrity "
                            f"{ok}: {err.strip().splitlines()[-1:] }")
    subprocess.run(_cmd(out, soak), cwd=out, env=env, check=True, capture_output=True)
    same = _export(out, soak) == _export(out, ref)
    with sqlite3.connect(soak) as db:
        ok = db.execute("PRAGMA integrity_check").fetchone()[0]
        n = db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    print(f"after {stops} stops and a final resume: {n} of {total} runs, export "
          f"{'byte-identical' if same else 'DIFFERENT'} to the uninterrupted run's, "
          f"integrity {ok}")
    if not same:
        failures.append("exports differ")
    if ok != "ok" or n != total:
        failures.append(f"store: integrity {ok}, {n} of {total} runs")
    return failures


def _worker(out: Path, env: dict, store: Path, size: int) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "jaxstab.cli", "run", str(out / "w.toml"), "--store",
         str(store), "--chunk-size", str(size), "--lease-timeout", "600"],
        cwd=out, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _query(store: Path, sql: str, *args):
    try:
        with sqlite3.connect(store, timeout=5) as db:
            return db.execute(sql, args).fetchall()
    except sqlite3.Error:
        return []


def _workers(args, out: Path, env: dict) -> list[str]:
    """Four workers on one store with different --chunk-size; one becomes a zombie."""
    (out / "w.toml").write_text(STUDY.format(name="w", lr=10.0).replace(
        "seeds = 400", f"seeds = {args.worker_seeds}"))
    ref, store = out / "w-ref.sqlite", out / "w.sqlite"
    for f in (ref, store):
        f.unlink(missing_ok=True)
    t0 = time.time()
    subprocess.run([sys.executable, "-m", "jaxstab.cli", "run", str(out / "w.toml"),
                    "--store", str(ref), "--chunk-size", "3"], cwd=out, env=env,
                   check=True, capture_output=True)
    total = _runs(ref)
    print(f"workers reference: {total} runs in one process in {time.time() - t0:.1f} s")
    t0 = time.time()
    first = _worker(out, env, store, 3)
    while not _query(store, "SELECT size FROM chunk_sizes") and first.poll() is None:
        time.sleep(0.05)  # the first worker records the plan (chunks of 3)
    others = [_worker(out, env, store, size) for size in (5, 7)]
    zombie = _worker(out, env, store, 3)
    owner = f":{zombie.pid}:"
    while zombie.poll() is None and not _query(
            store, "SELECT 1 FROM leases WHERE instr(owner, ?) > 0", owner):
        time.sleep(0.02)
    held_before = _runs(store)
    zombie.kill()  # SIGKILL, and no wait(): a zombie until the end
    time.sleep(0.5)
    state = Path(f"/proc/{zombie.pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    killed_at = time.time() - t0
    failures, trained, late = [], 0, 0
    for proc, size in zip([first, *others], (3, 5, 7)):
        out_text, err = proc.communicate(timeout=900)
        m = re.search(r"(\d+) runs trained(?:, (\d+) of them stored first)?", out_text)
        if proc.returncode != 0 or m is None:
            failures.append(f"worker --chunk-size {size}: exit {proc.returncode}: "
                            f"{err.strip().splitlines()[-1:]}")
            continue
        trained += int(m.group(1))
        late += int(m.group(2) or 0)
        note = [ln for ln in err.splitlines() if "--chunk-size" in ln]
        print(f"worker --chunk-size {size}: {m.group(1)} runs trained, "
              f"{m.group(2) or 0} stored first by another"
              + (f"; said: {note[0]}" if note else ""))
    took = time.time() - t0
    zombie.wait()
    sizes = {json.loads(env_)["chunk_size"] for (env_,) in _query(
        store, "SELECT env FROM chunks")}
    same = _export(out, store) == _export(out, ref)
    n = _runs(store)
    print(f"zombie worker: SIGKILLed {killed_at:.1f} s in while holding a lease (state "
          f"{state}: {'a zombie' if state == 'Z' else 'not a zombie'}), {held_before} runs "
          f"stored then")
    print(f"workers: {n} of {total} runs stored in {took:.1f} s (lease timeout 600 s), "
          f"runs trained twice: {late}, chunk sizes used: {sorted(sizes)}, export "
          f"{'byte-identical' if same else 'DIFFERENT'} to one process's")
    if state != "Z":
        failures.append(f"the killed worker was not a zombie (state {state})")
    if not same or n != total:
        failures.append(f"workers: {n} of {total} runs, export same: {same}")
    if late:
        failures.append(f"workers: {late} runs trained twice")
    if sizes != {3}:
        failures.append(f"workers: chunk sizes {sorted(sizes)} (one plan: 3)")
    return failures


if __name__ == "__main__":
    sys.exit(main())
