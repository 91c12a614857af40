"""The whole ``jaxstab run`` against the engine alone: does anything but training (the
store, the run records, the checks, the summary) slow a sweep down?

    python benchmarks/end_to_end.py --seeds 4096 [--repeat 2] [--study article/example2]
        [--backend sqlite|postgresql|both] [--pg-url postgresql://...]

Each round runs, back to back, in fresh processes:

- the command: ``jaxstab run STUDY --seeds N --store FRESH`` (everything: interpreter
  start, loading and checking the study, compiling, training, committing every chunk,
  the summary with its intervals);
- the engine alone: a process that imports jaxstab, loads the study, cuts its runs into
  chunks of the size the command used (read from its store) and calls
  ``jaxstab.sweep.execute`` on each chunk, the last one padded as the sweep pads it, and
  nothing else (compile included, nothing stored).

Reported: runs/s of each over the whole process (wall clock, start to exit) and their
ratio (command runs/s / engine runs/s); the same ratio of CPU time (user + system, which
counts work done rather than waiting for a core on a shared machine); and the ratio over
the part inside each process that trains (the command's own "N runs in T s" line:
run_study from opening the store to its end; the engine's loop of execute calls).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time


def engine(name: str, seeds: int, chunk: int) -> None:
    """The engine alone (runs in its own process; prints its timings as JSON)."""
    t0 = time.perf_counter()
    from jaxstab.runs import Pairs
    from jaxstab.loader import load_study
    from jaxstab.sweep import execute, plan

    study = load_study(name)
    start = time.perf_counter()
    runs = 0
    for group in plan(study, seeds):
        pairs = Pairs.of([s for s, _ in group], [k for _, k in group])
        for a in range(0, len(pairs), chunk):
            part = pairs[a:a + chunk]
            execute(part.padded(chunk, part), None, study_seed=study.seed)
            runs += len(part)
    print(json.dumps({"runs": runs, "loop": time.perf_counter() - start,
                      "imports": start - t0}))


def _chunk_size(store: str) -> int:
    from jaxstab.store import open_store

    with open_store(store, create=False) as db:
        return int(db.db.execute("SELECT MAX(size) FROM chunk_sizes").fetchone()[0])


def _timed(cmd: list[str]) -> tuple[str, float, float]:
    """(stdout, wall seconds, CPU seconds: user + system of the process)."""
    with tempfile.TemporaryFile("w+") as out:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=out, stderr=subprocess.DEVNULL)
        _, status, usage = os.wait4(p.pid, 0)
        wall = time.perf_counter() - t0
        p.returncode = os.waitstatus_to_exitcode(status)
        if p.returncode != 0:
            raise SystemExit(f"{' '.join(cmd)} exited {p.returncode}")
        out.seek(0)
        return out.read(), wall, usage.ru_utime + usage.ru_stime


def round_(name: str, seeds: int, store: str, i: int, chunk: int | None) -> dict:
    """The command and the engine back to back (the engine first in even rounds, so
    that neither always runs on the machine as the other left it)."""
    r: dict = {}

    def command():
        out, r["command_wall"], r["command_cpu"] = _timed(
            [sys.executable, "-m", "jaxstab.cli", "run", name, "--seeds", str(seeds),
             "--store", store])
        m = re.search(r"^(\d+) runs in ([\d.]+) s", out, re.M)
        r["runs"], r["command_inner"] = int(m.group(1)), float(m.group(2))
        r["chunk"] = _chunk_size(store)

    def engine_():
        out, r["engine_wall"], r["engine_cpu"] = _timed(
            [sys.executable, __file__, "--engine", "--study", name, "--seeds", str(seeds),
             "--chunk", str(r.get("chunk") or chunk)])
        eng = json.loads(out.strip().splitlines()[-1])
        r["engine_runs"], r["engine_inner"] = eng["runs"], eng["loop"]

    for step in ((command, engine_) if i % 2 == 0 or chunk is None else (engine_, command)):
        step()
    assert r["engine_runs"] == r["runs"], r
    return r


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--study", default="article/example2")
    ap.add_argument("--seeds", type=int, default=4096)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--backend", choices=("sqlite", "postgresql", "both"), default="sqlite",
                    help="the command's --store: a fresh SQLite file or PostgreSQL database "
                         "per round (both: one of each, alternating, in one round)")
    ap.add_argument("--pg-url", default=None)
    ap.add_argument("--engine", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--chunk", type=int, help=argparse.SUPPRESS)
    a = ap.parse_args()
    if a.engine:
        return engine(a.study, a.seeds, a.chunk)
    print(f"{a.study}, --seeds {a.seeds}; load average {os.getloadavg()[0]:.1f} at start")
    print("| round | store | first | runs | chunk | command wall (s) | engine wall (s) | "
          "command runs/s | engine runs/s | ratio | CPU ratio | command run_study (s) | "
          "engine execute loop (s) | ratio inside |")
    print("|---:|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    chunk = None
    backends = ["sqlite", "postgresql"] if a.backend == "both" else [a.backend]
    with tempfile.TemporaryDirectory() as tmp:
        new_db = None
        if "postgresql" in backends:
            sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
            from _pg import databases

            new_db = databases(a.pg_url, os.path.join(tmp, "pg"))
        for i in range(a.repeat * len(backends)):
            backend = backends[i % len(backends)]
            store = (os.path.join(tmp, f"e2e-{i}.sqlite") if backend == "sqlite"
                     else new_db(f"e2e_{i}"))
            r = round_(a.study, a.seeds, store, i // len(backends), chunk)
            chunk, n = r["chunk"], r["runs"]
            first = "command" if (i // len(backends)) % 2 == 0 else "engine"
            print(f"| {i // len(backends) + 1} | {backend} | {first} | {n} | {chunk} | "
                  f"{r['command_wall']:.1f} | "
                  f"{r['engine_wall']:.1f} | {n / r['command_wall']:.1f} | "
                  f"{n / r['engine_wall']:.1f} | "
                  f"{r['engine_wall'] / r['command_wall']:.3f} | "
                  f"{r['engine_cpu'] / r['command_cpu']:.3f} | "
                  f"{r['command_inner']:.1f} | {r['engine_inner']:.1f} | "
                  f"{r['engine_inner'] / r['command_inner']:.3f} |", flush=True)
    print(f"load average {os.getloadavg()[0]:.1f} at the end")


if __name__ == "__main__":
    main()
