import os
import signal
import tempfile
import sys
from pathlib import Path

import pytest

os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

# The tests' programs train for milliseconds and compile for seconds, so they are
# compiled at XLA's lowest backend optimization level (measured: the end-to-end study
# tests take half the time). They check contracts (vmapped equals looped, resume,
# chunking, statistics), each comparing runs compiled with the same flags, which every
# process the tests start inherits. What users get, XLA's default optimization, is
# checked against the golden file (`tests/test_golden_export.py`, `users_xla_flags`).
XLA_TEST_FLAG = "--xla_backend_optimization_level=0"
if "xla_backend_optimization_level" not in os.environ.get("XLA_FLAGS", ""):
    os.environ["XLA_FLAGS"] = f"{os.environ.get('XLA_FLAGS', '')} {XLA_TEST_FLAG}".strip()


def users_xla_flags(*extra: str) -> str:
    """XLA_FLAGS as the user who started the tests set them, without the tests' own
    optimization level, plus ``extra``."""
    flags = [f for f in os.environ.get("XLA_FLAGS", "").split() if f != XLA_TEST_FLAG]
    return " ".join([*flags, *extra])

# One persistent compilation cache for the whole test run, set before JAX compiles
# anything: tests train the same small programs again and again (tiny studies, the CLI
# in this process and in the processes tests start, which inherit these variables), so
# each compiles once. It lives in the run's own temporary folder, so a test never reads
# a program compiled by another checkout or another version of JAX.
_JAX_CACHE = None
if "JAX_COMPILATION_CACHE_DIR" not in os.environ:
    import tempfile

    _JAX_CACHE = tempfile.mkdtemp(prefix="jaxstab-tests-jax-cache-")
    os.environ["JAX_COMPILATION_CACHE_DIR"] = _JAX_CACHE
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS", "0")
    os.environ.setdefault("JAX_PERSISTENT_CACHE_MIN_ENTRY_SIZE_BYTES", "0")


# The slowest test files (seconds in one process, `--durations=0`, 2026-12-03), handed
# to the test processes first: with a file's tests kept in one process (`--dist
# loadfile`), a slow file collected last would leave the other process idle at the end.
SLOWEST_FIRST = ("test_suite_studies.py", "test_usertask.py", "test_engine.py",
                 "test_suite_engine.py", "test_golden_export.py", "test_reliability.py",
                 "test_store_backends.py", "test_store_leases.py", "test_scale.py",
                 "test_cli_store.py", "test_reliability_versions.py", "test_report.py",
                 "test_examples.py")


def pytest_collection_modifyitems(items):
    rank = {name: i for i, name in enumerate(SLOWEST_FIRST)}
    items.sort(key=lambda item: rank.get(item.path.name, len(rank)))  # stable


def pytest_sessionfinish(session, exitstatus):
    if _JAX_CACHE is not None:
        import shutil

        shutil.rmtree(_JAX_CACHE, ignore_errors=True)

# A test run started in the background by a non-interactive shell (`cmd &`, nohup)
# inherits SIGINT ignored, and so would every process the tests start (exec keeps an
# ignored signal): jaxstab rightly leaves Ctrl-C alone then, and the Ctrl-C tests could
# not deliver one. A handler (not SIG_IGN) is reset to the default by exec.
if signal.getsignal(signal.SIGINT) is signal.SIG_IGN:
    signal.signal(signal.SIGINT, signal.default_int_handler)

from jaxstab.loader import load_study, study_from_dict  # noqa: E402


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
def cli(tmp_path, monkeypatch):
    """Run the jaxstab CLI inside tmp_path: (rc, stdout, stderr). In this process
    (``jaxstab.cli.main``, the console script's own entry point), which saves a JAX
    start-up per call; tests of what only a process shows (signals, kills, imports)
    start their own. ``JAXSTAB_TEST_SUBPROCESS=1`` runs every call as a process."""
    if os.environ.get("JAXSTAB_TEST_SUBPROCESS") == "1":
        return cli_process(tmp_path)
    import contextlib
    import io

    from jaxstab.cli import main

    monkeypatch.chdir(tmp_path)

    def run(*args, timeout=600):
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            rc = main([str(a) for a in args])
        return rc, out.getvalue(), err.getvalue()

    return run


def cli_process(cwd):
    """The jaxstab CLI as a subprocess inside ``cwd``: (rc, stdout, stderr)."""
    import subprocess

    def run(*args, timeout=600):
        p = subprocess.run([sys.executable, "-m", "jaxstab.cli", *map(str, args)],
                           cwd=cwd, capture_output=True, text=True, timeout=timeout)
        return p.returncode, p.stdout, p.stderr

    return run


def built_once(factory, name: str, build) -> Path:
    """``build(folder)`` run once for the whole test run, even when test processes
    (pytest-xdist) share it: a fixture every process would otherwise sweep again. The
    folder is in the run's temporary folder (shared by its processes); the first to
    take the lock builds, the others wait and read."""
    import fcntl

    root = factory.getbasetemp()
    if os.environ.get("PYTEST_XDIST_WORKER"):
        root = root.parent  # the run's, above each process's own
    folder = root / f"built-{name}"
    with open(root / f"built-{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not (folder / ".done").exists():
            folder.mkdir(exist_ok=True)
            build(folder)
            (folder / ".done").touch()
    return folder


def write_toml(path: Path, text: str) -> Path:
    path.write_text(text)
    return path


def count_runs(store: Path) -> int:
    """Runs committed in a store another process is writing (0 while it cannot be read)."""
    import sqlite3

    if not Path(store).exists():
        return 0
    from contextlib import closing

    try:
        with closing(sqlite3.connect(store, timeout=1)) as db:
            # each stored run is in exactly one block (runs stored first are left out)
            return db.execute("SELECT COALESCE(SUM(n), 0) FROM blocks").fetchone()[0]
    except sqlite3.Error:
        return 0


@pytest.fixture
def filled_store(tmp_path):
    """A store with results in it, written without training (fast)."""
    from contextlib import closing
    from types import SimpleNamespace

    from jaxstab.store import Store

    path = tmp_path / "results.sqlite"
    study = study_from_dict({"name": "t/filled", "seeds": 4, "data": {"n_samples": 64},
                             "model": {"hidden": [8]},
                             "train": {"batch_size": 16, "epochs": 1},
                             "factors": {"learning_rate": [0.001, 0.1]}})
    with closing(Store(path)) as s:
        fp = s.ensure_study(study)
        for c in range(2):
            s.write_chunk(fp, [SimpleNamespace(
                setting=st_.key, seed=k + 2 * c, diverged=False, diverged_step=None,
                metrics={"train_accuracy": 0.5 + k / 10, "diverged": 0.0},
                curves={"train_loss": [0.7, 0.6]})
                for st_ in study.settings() for k in range(2)], 1.0, {"test": True})
    return path


# ---------------------------------------------------------------- a real PostgreSQL

@pytest.fixture(scope="session")
def pg_server(tmp_path_factory):
    """A PostgreSQL server for the session: ``JAXSTAB_TEST_PG_URL`` (a server CI or a
    user provides) or one started by ``pgserver`` (PostgreSQL 16 from the package index,
    ~3 s; as root it runs the server as a system user ``pgserver`` it creates, since
    PostgreSQL refuses to run as root). Yields a function: database name -> URL of a
    new empty database. Skips, saying why, only when no server can start."""
    import psycopg

    url = os.environ.get("JAXSTAB_TEST_PG_URL")
    server = None
    if url is None:
        try:
            import pgserver

            # (not under pytest's folders: the server's own user must reach them)
            server = pgserver.get_server(Path(tempfile.mkdtemp(prefix="jaxstab-pg-")) /
                                         "data", cleanup_mode="delete")
            url = server.get_uri()
        except Exception as e:  # noqa: BLE001 - any reason a server cannot start
            print(f"\nno PostgreSQL server: {type(e).__name__}: {e}", file=sys.stderr)
            pytest.skip(f"no PostgreSQL server could start ({type(e).__name__}: {e})")
    made = []

    def new_database(name: str) -> str:
        with psycopg.connect(url, autocommit=True) as c:
            c.execute(f'DROP DATABASE IF EXISTS "{name}"')
            c.execute(f'CREATE DATABASE "{name}"')
        made.append(name)
        from psycopg.conninfo import conninfo_to_dict, make_conninfo

        if server is not None:
            return server.get_uri(name)
        parts = conninfo_to_dict(url)
        parts["dbname"] = name
        return make_conninfo(**parts) if not url.startswith("postgres") else \
            _with_database(url, name)

    yield new_database
    if server is not None:
        server.cleanup()


def _with_database(url: str, name: str) -> str:
    from urllib.parse import urlsplit, urlunsplit

    p = urlsplit(url)
    return urlunsplit((p.scheme, p.netloc, "/" + name, p.query, p.fragment))


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request, tmp_path):
    """Where a store contract test keeps its store: an SQLite file, or a new database
    on the session's PostgreSQL server."""
    if request.param == "sqlite":
        return str(tmp_path / "s.sqlite")
    name = "t_" + "".join(c if c.isalnum() else "_" for c in request.node.name)[-50:].lower()
    return request.getfixturevalue("pg_server")(name)
