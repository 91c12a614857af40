"""The asv suite works from a clean clone: ``asv check`` imports and checks every
benchmark, and ``asv run`` on the current environment records a result for the smallest
one (a confidence interval of ``jaxstab.stats``): what proves that the run itself
works, with no JAX compile. Every benchmark runs in full with ``asv run --quick``
(benchmarks/README.md).

The run happens in a clone in a temporary folder, so nothing is written into this
repository.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
MACHINE = "jaxstab-test"
SMALLEST = "bench_stats.TimeInterval.time_interval"
GIT_ID = {f"GIT_{who}_{what}": value for who in ("AUTHOR", "COMMITTER")
          for what, value in (("NAME", "jaxstab test"), ("EMAIL", "test@jaxstab.invalid"))}


def _run(cmd: list[str], cwd: Path, env: dict, timeout: float = 120) -> str:
    p = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True,
                       timeout=timeout, stdin=subprocess.DEVNULL, check=False)
    out = p.stdout + p.stderr
    assert p.returncode == 0, f"{' '.join(cmd)} exited {p.returncode}:\n{out[-6000:]}"
    return out


def _clone(dest: Path, env: dict) -> str:
    """A clone of HEAD with this working tree's asv files laid over it (the same files
    in CI, where the tree is clean), committed; a new repository holding them when
    this one has no commit yet. Returns the commit to record results under."""
    git = ["git", "-c", "init.defaultBranch=main"]
    has_head = subprocess.run(["git", "rev-parse", "--verify", "-q", "HEAD"], cwd=ROOT,
                              capture_output=True, check=False).returncode == 0
    if has_head:
        _run(git + ["clone", "-q", str(ROOT), str(dest)], ROOT, env)
    else:
        dest.mkdir()
        _run(git + ["init", "-q", "-b", "main"], dest, env)
    shutil.copy2(ROOT / "asv.conf.json", dest / "asv.conf.json")
    shutil.copytree(ROOT / "benchmarks", dest / "benchmarks", dirs_exist_ok=True,
                    ignore=shutil.ignore_patterns("__pycache__"))
    _run(["git", "add", "asv.conf.json", "benchmarks"], dest, env)
    if _run(["git", "status", "--porcelain"], dest, env).strip() or not has_head:
        _run(["git", "commit", "-q", "-m", "benchmarks under test"], dest, env)
    return _run(["git", "rev-parse", "HEAD"], dest, env).strip()


def test_asv_quick_run_records_every_benchmark(tmp_path):
    if importlib.util.find_spec("asv") is None:
        pytest.fail("asv is not installed; it is part of the test extra: "
                    "pip install -e '.[test]'")
    env = dict(os.environ, **GIT_ID)
    # asv keeps its machine description in ~/.asv-machine.json: a throwaway home keeps
    # the user's untouched. The caches (JAX's compiled programs, matplotlib's fonts)
    # stay where they were, so a second run of this test is faster.
    for var, default in (("XDG_CACHE_HOME", ".cache"), ("XDG_CONFIG_HOME", ".config")):
        env[var] = os.environ.get(var) or str(Path.home() / default)
    env["HOME"] = str(tmp_path / "home")
    env["JAXSTAB_BENCH_SLOW"] = "0"  # the quick path only: slow grid points are skipped
    (tmp_path / "home").mkdir()
    repo = tmp_path / "repo"
    commit = _clone(repo, env)
    asv = [sys.executable, "-m", "asv"]

    _run(asv + ["machine", "--yes", "--machine", MACHINE], repo, env)
    out = _run(asv + ["check", "--python=same"], repo, env)
    assert "No problems found" in out, out[-3000:]
    _run(asv + ["run", "--python=same", "--quick", "--show-stderr", "--machine", MACHINE,
                "--bench", SMALLEST, "--set-commit-hash", commit], repo, env, timeout=1200)

    results_dir = repo / ".asv" / "results"
    discovered = json.loads((results_dir / "benchmarks.json").read_text())
    names = sorted(k for k in discovered if k != "version")
    files = [p for p in (results_dir / MACHINE).glob(f"{commit[:8]}-*.json")]
    assert len(files) == 1, files
    data = json.loads(files[0].read_text())
    column = data["result_columns"].index("result")
    assert SMALLEST in names and sorted(data["results"]) == [SMALLEST], names
    for name in [SMALLEST]:
        values = data["results"][name][column]
        # asv stores None for a failed run and NaN for a skipped one (a slow grid point).
        assert None not in values, f"{name} failed: {values}"
        assert any(isinstance(v, (int, float)) and math.isfinite(v) for v in values), \
            f"{name} recorded no number: {values}"
