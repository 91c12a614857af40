import os
import sys
from pathlib import Path

import pytest

os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

from jaxstab.study import load_study, study_from_dict  # noqa: E402


def tiny(name: str = "article/example2", *, seeds: int = 4, **edits) -> "Study":  # noqa: F821
    """A built-in study shrunk for fast tests: same code paths, fewer samples/epochs."""
    d = load_study(name).to_dict()
    d["seeds"] = seeds
    if d["data"]["name"] == "article_uniform":
        d["data"]["n_samples"] = 96
        d["train"]["epochs"] = 2
    if "factors" in edits:
        d["claims"] = []  # they name the built-in's factor values
    for path, value in edits.items():
        section, _, key = path.partition("__")
        if key:
            d[section][key] = value
        else:
            d[section] = value
    return study_from_dict(d)


@pytest.fixture
def tiny_study():
    return tiny


@pytest.fixture
def cli(tmp_path):
    """Run the jaxstab CLI in a subprocess inside tmp_path: (rc, stdout, stderr)."""
    import subprocess

    def run(*args, timeout=600):
        p = subprocess.run([sys.executable, "-m", "jaxstab.cli", *map(str, args)],
                           cwd=tmp_path, capture_output=True, text=True, timeout=timeout)
        return p.returncode, p.stdout, p.stderr

    return run


def write_toml(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def count_runs(store: Path) -> int:
    """Runs committed in a store another process is writing (0 while it cannot be read)."""
    import sqlite3

    if not Path(store).exists():
        return 0
    try:
        with sqlite3.connect(store, timeout=1) as db:
            return db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
    except sqlite3.Error:
        return 0
