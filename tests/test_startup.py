"""Commands that train nothing import no JAX (issue 26): JAX's import alone costs seconds
on a loaded machine, and `--help`, `list`, `compare`, `report`, `export` and `import`
never need it. The store is made by `jaxstab import`, so no JAX is needed to make it.
Nor scipy.stats (a second more) where no statistics are computed: `--help`, `list`,
`export`, `import`."""

import csv
import os
import subprocess
import sys

import pytest

HEAVY = ("jax", "flax", "optax", "scipy.stats")
# Commands with statistics to compute need scipy.stats (a second to import); the others
# import none of HEAVY.
STATS = ("compare", "report")
# Runs the CLI in this interpreter, then names any heavy module it imported.
_PROBE = """
import runpy, sys
sys.argv = ["jaxstab"] + sys.argv[1:]
try:
    runpy.run_module("jaxstab.cli", run_name="__main__")
except SystemExit as e:
    code = e.code or 0
else:
    code = 0
heavy = [m for m in {heavy!r} if m in sys.modules]
print("HEAVY=" + ",".join(heavy), file=sys.stderr)
sys.exit(code)
""".format(heavy=HEAVY)


def _cli(tmp_path, *args):
    return subprocess.run([sys.executable, "-c", _PROBE, *args], cwd=tmp_path,
                          capture_output=True, text=True, timeout=300,
                          env={**os.environ, "JAXSTAB_DEBUG": "1"})


@pytest.fixture(scope="module")
def store(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("startup")
    with open(tmp / "scores.csv", "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["setting", "seed", "metric", "value"])
        for s, mean in (("a", 1.0), ("b", 1.3)):
            for seed in range(12):
                w.writerow([s, seed, "loss", mean + 0.01 * ((seed * 7) % 5)])
    got = _cli(tmp, "import", "scores.csv", "--study", "tiny", "--store", "s.sqlite")
    assert got.returncode == 0, got.stderr
    assert "HEAVY=\n" in got.stderr, got.stderr  # `import` itself
    return tmp


@pytest.mark.parametrize("args", [
    ("--help",),
    ("list",),
    ("compare", "tiny", "--store", "s.sqlite"),
    ("compare", "tiny", "--store", "s.sqlite", "--json"),
    ("report", "--store", "s.sqlite", "--out", "r.html"),
    ("export", "--store", "s.sqlite", "--out", "e.csv"),
], ids=lambda a: " ".join(a[:1]) + (" --json" if "--json" in a else ""))
def test_no_jax(store, args):
    got = _cli(store, *args)
    assert got.returncode == 0, got.stderr
    heavy = [m for m in got.stderr.rsplit("HEAVY=", 1)[1].strip().split(",") if m
             and not (m == "scipy.stats" and args[0] in STATS)]
    assert not heavy, f"`jaxstab {' '.join(args)}` imported {', '.join(heavy)}"
    out = args[args.index("--out") + 1] if "--out" in args else None
    assert (store / out).stat().st_size if out else got.stdout.strip()


def test_probe_sees_jax(store):
    """The check can fail: a command that does import JAX is seen."""
    got = subprocess.run([sys.executable, "-c", "import jax\n" + _PROBE, "--help"],
                         cwd=store, capture_output=True, text=True, timeout=300)
    assert "HEAVY=jax" in got.stderr


@pytest.mark.parametrize("args, message", [
    (("compare", "nosuch", "--store", "s.sqlite"), "unknown study `nosuch`"),
    (("compare", "tiny", "--store", "none.sqlite"), "--store: no results store"),
    (("compare", "tiny", "--store", "s.sqlite", "--metric", "acc"), "--metric: `acc`"),
    (("report", "--store", "none.sqlite", "--out", "r"), "--store: no results store"),
], ids=["study", "compare store", "metric", "report store"])
def test_a_mistake_is_said_before_the_statistics_are_imported(store, args, message):
    got = _cli(store, *args)
    assert got.returncode == 2 and message in got.stderr, got.stderr
    assert "HEAVY=\n" in got.stderr, got.stderr
