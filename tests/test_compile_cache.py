"""Compiling is most of a small study's time on a CPU: a rerun of a study in a fresh
process loads its programs from JAX's persistent cache (a per-user folder unless one is
set), and the rounds of one sequential run compile each group's program once."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
_JAX_VARS = ("JAX_COMPILATION_CACHE_DIR", "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS",
             "JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "JAX_COMPILATION_CACHE_MAX_SIZE",
             "JAXSTAB_NO_COMPILE_CACHE", "JAX_LOG_COMPILES")

# the CLI in a fresh process, with JAX's compile and cache events counted
COUNTED = """
import collections, json, sys
from jax import monitoring
events = collections.Counter()
monitoring.register_event_listener(lambda e, **k: events.update([e]))
monitoring.register_event_duration_secs_listener(lambda e, d, **k: events.update([e]))
from jaxstab.cli import main
rc = main(sys.argv[2:])
json.dump({"rc": rc, **events}, open(sys.argv[1], "w"))
"""

SEQ_STUDY = """name = "cache/seq"
task = "seqtask:make_train"
seeds = 8
vary = ["init"]
main_metric = "score"
[factors]
shift = [0.0, 0.3]
salt = [1, 2]
[[claims]]
text = "a small shift helps"
metric = "score"
kind = "mean"
direction = "greater"
a = { shift = 0.3, salt = 1 }
b = { shift = 0.0, salt = 2 }
"""


def _env(tmp_path, **extra) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in _JAX_VARS}
    env["XDG_CACHE_HOME"] = str(tmp_path / "xdg")
    env.update(extra)
    return env


def _counted(tmp_path, env, *args) -> dict:
    out = tmp_path / "events.json"
    p = subprocess.run([sys.executable, "-c", COUNTED, str(out), *map(str, args)],
                       cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    events = json.loads(out.read_text())
    assert events["rc"] == 0, p.stderr
    return events


def _study(tmp_path) -> Path:
    shutil.copy(HERE / "seqtask.py", tmp_path / "seqtask.py")
    (tmp_path / "seq.toml").write_text(SEQ_STUDY)
    return tmp_path / "seq.toml"


def test_a_rerun_in_a_fresh_process_compiles_nothing(tmp_path):
    _study(tmp_path)
    env = _env(tmp_path)
    first = _counted(tmp_path, env, "run", "seq.toml", "--store", "a.sqlite")
    folder = tmp_path / "xdg" / "jaxstab" / "xla"
    assert first.get("/jax/compilation_cache/cache_misses", 0) > 0
    assert any(folder.iterdir())  # the per-user folder, made and filled
    again = _counted(tmp_path, env, "run", "seq.toml", "--store", "b.sqlite")
    assert again.get("/jax/compilation_cache/cache_misses", 0) == 0, again
    assert again["/jax/compilation_cache/cache_hits"] > 0


def test_the_cache_folder_a_user_set_is_kept_and_it_can_be_turned_off(tmp_path):
    _study(tmp_path)
    mine = tmp_path / "mine"
    # (a user who sets the folder sets JAX's own thresholds too: JAX's default keeps only
    # programs that took over 1 s to compile, which this tiny task's may or may not)
    _counted(tmp_path, _env(tmp_path, JAX_COMPILATION_CACHE_DIR=str(mine),
                            JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS="0"),
             "run", "seq.toml", "--store", "a.sqlite")
    assert any(mine.iterdir()) and not (tmp_path / "xdg").exists()
    off = _counted(tmp_path, _env(tmp_path, JAXSTAB_NO_COMPILE_CACHE="1"),
                   "run", "seq.toml", "--store", "b.sqlite")
    assert not (tmp_path / "xdg").exists()
    assert "/jax/compilation_cache/cache_hits" not in off


def test_rounds_of_a_sequential_run_compile_each_group_once(tmp_path):
    _study(tmp_path)
    env = _env(tmp_path, JAXSTAB_NO_COMPILE_CACHE="1", JAX_LOG_COMPILES="1")
    p = subprocess.run([sys.executable, "-m", "jaxstab.cli", "run", "seq.toml",
                        "--until-decided", "--max-seeds", "128"], cwd=tmp_path, env=env,
                       capture_output=True, text=True, timeout=600)
    assert p.returncode == 0, p.stderr
    assert "sequential: 4 of 4 looks taken" in p.stdout  # four rounds, two groups each
    compiles = [x for x in p.stderr.splitlines() if x.startswith("Compiling jit(one)")]
    assert len(compiles) == 2, compiles  # one per compiled group (salt=1, salt=2)
    # and the progress lines say so: later rounds start, they do not compile
    lines = p.stderr.splitlines()
    assert sum(x.startswith("cache/seq: compiling ") for x in lines) == 2, lines
    assert sum(x.startswith("cache/seq: starting ") for x in lines) >= 4, lines
