"""Soak test of workers on one PostgreSQL store (issue 26): three `jaxstab run
--until-decided` workers share one study; two of them are SIGKILLed at random moments
and restarted, ``--kills`` times in all (every 0.5-8 s from the first commit on),
while the third runs on. Checked at the end:
every worker exits 0 and prints the verdicts of one SQLite process alone; every run is
stored once; no lease is left; the looks and the export are those of that process.

    python benchmarks/soak_workers.py [--kills 12] [--seed 0] [--pg-url URL] [--out DIR]

Without ``--pg-url`` a local server is started with pgserver. Prints one line per kill
and a summary; exits 1 if any check fails. Slow (minutes): not part of the test run.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

# A task whose chunks take about a second (a matrix iteration), so that kills land
# inside rounds, not only at start-up or after the study is done.
TASK = '''
import jax
import jax.numpy as jnp


def make_train(config):
    steps = int(config.get("steps", 200))

    def train(keys, hparams):
        # each setting draws its own noise (the same key would pair the settings exactly)
        salt = (hparams["shift"] * 1000).astype(jnp.uint32)
        z = jax.random.normal(jax.random.fold_in(keys["init"], salt))
        m = jax.random.normal(keys["init"], (128, 128)) / 12
        x = jax.lax.fori_loop(0, steps, lambda i, x: jnp.tanh(m @ x), jnp.ones(128))
        score = hparams["shift"] + z + 0.0 * x.sum()
        return {"score": score, "loss": jnp.stack([score, score])}

    return train
'''
STUDY = """name = "soak/workers"
task = "soaktask:make_train"
seeds = 16
vary = ["init"]
main_metric = "score"

[config]
steps = 2000

[factors]
shift = [0.0, 0.08, 0.15, 1.0]
"""
CLAIM = """
[[claims]]
text = "shift {a} raises the score over 0"
metric = "score"
kind = "mean"
direction = "greater"
a = {{shift = {a}}}
b = {{shift = 0.0}}
"""
ARGS = ("--until-decided", "--max-seeds", "2048", "--chunk-size", "64",
        "--lease-timeout", "10")
VERDICT = re.compile(r"^\s+(holds|refuted|futile|not shown|undecided)\s")


def _env(out: Path) -> dict:
    return dict(os.environ, JAX_COMPILATION_CACHE_DIR=str(out / "jax-cache"),
                JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0", PYTHONUNBUFFERED="1",
                PYTHONPATH=os.pathsep.join([str(Path(__file__).parents[1]),
                                            os.environ.get("PYTHONPATH", "")]))


def _start(out: Path, store: str, tag: str) -> subprocess.Popen:
    log = open(out / f"{tag}.log", "w")  # noqa: SIM115 - the process writes it
    p = subprocess.Popen([sys.executable, "-m", "jaxstab.cli", "run",
                          str(out / "study.toml"), "--store", store, *ARGS], cwd=out,
                         env=_env(out), stdout=log, stderr=subprocess.STDOUT)
    p.log = out / f"{tag}.log"
    return p


def _export(out: Path, store: str) -> str:
    return subprocess.run([sys.executable, "-m", "jaxstab.cli", "export", "--store", store,
                           "--out", "-"], cwd=out, env=_env(out), check=True,
                          capture_output=True, text=True).stdout


def _counts(url: str) -> tuple[int, int]:
    """(runs, looks) stored so far; (0, 0) before the first worker made the tables."""
    from jaxstab.errors import UserError
    from jaxstab.store import open_store

    try:
        with open_store(url, create=False) as s:
            return (s.db.execute("SELECT COUNT(*) FROM runs").fetchone()[0],
                    s.db.execute("SELECT COUNT(*) FROM looks").fetchone()[0])
    except UserError:
        return 0, 0


def main(argv=None) -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--kills", type=int, default=12)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--pg-url", default=None)
    p.add_argument("--out", default=None)
    args = p.parse_args(argv)
    out = Path(args.out or tempfile.mkdtemp(prefix="jaxstab-soak-workers-"))
    out.mkdir(parents=True, exist_ok=True)
    (out / "soaktask.py").write_text(TASK)
    (out / "study.toml").write_text(STUDY + "".join(CLAIM.format(a=a)
                                                    for a in (0.08, 0.15, 1.0)))
    sys.path.insert(0, str(Path(__file__).parent))
    from _pg import databases

    from jaxstab.store import open_store

    t0 = time.time()
    ref = _start(out, str(out / "ref.sqlite"), "ref")
    if ref.wait() != 0:
        print(ref.log.read_text()[-2000:])
        return 1
    want = [x for x in ref.log.read_text().splitlines() if VERDICT.match(x)]
    alone = time.time() - t0
    print(f"one SQLite process alone: {alone:.0f} s; verdicts: {want}")
    url = databases(args.pg_url, str(out / "pg"))("soak")
    rng = random.Random(args.seed)
    workers = [_start(out, url, f"w{i}") for i in range(3)]
    while _counts(url)[0] == 0 and all(w.poll() is None for w in workers):
        time.sleep(0.2)  # kills from the first commit on: start-up is not what is tested
    t0 = time.time()
    for k in range(args.kills):
        time.sleep(rng.uniform(0.5, 8.0))
        i = rng.choice([1, 2])
        was = "running" if workers[i].poll() is None else f"ended {workers[i].returncode}"
        if workers[i].poll() is None:
            workers[i].send_signal(signal.SIGKILL)
            workers[i].wait()
        stored, looks = _counts(url)
        print(f"kill {k + 1}: worker {i} ({was}) at {time.time() - t0:.1f} s; "
              f"{stored} runs, {looks} looks stored", flush=True)
        workers[i] = _start(out, url, f"w{i}-{k}")
    ok = True
    for i, w in enumerate(workers):
        rc = w.wait()
        got = [x for x in w.log.read_text().splitlines() if VERDICT.match(x)]
        if rc != 0 or got != want:
            ok = False
            print(f"worker {i}: exit {rc}, verdicts {got}\n{w.log.read_text()[-2000:]}")
    with open_store(url, create=False) as s, \
            open_store(out / "ref.sqlite", create=False) as r:
        fp = r.latest("soak/workers")
        dup = s.db.execute("SELECT COUNT(*) FROM (SELECT setting, seed FROM runs GROUP BY "
                           "setting, seed HAVING COUNT(*) > 1) x").fetchone()[0]
        leases = s.db.execute("SELECT COUNT(*) FROM leases").fetchone()[0]
        runs = s.db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
        same_looks = s.looks(fp) == r.looks(fp)
        n_looks = len(r.looks(fp))
    same_export = _export(out, url) == _export(out, str(out / "ref.sqlite"))
    ok = ok and dup == 0 and leases == 0 and same_looks and same_export
    print(f"{args.kills} kills in {time.time() - t0:.0f} s: {runs} runs stored, {dup} "
          f"stored twice, {leases} leases left; looks ({n_looks}) identical: "
          f"{same_looks}; export identical: {same_export}; every worker's verdicts "
          f"identical: {ok or 'no'}")
    print("OK" if ok else "FAILED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
