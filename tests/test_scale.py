"""Scaling contracts on the CPU: the run axis sharded over 4 (forced) host devices gives
the same numbers as one device; two processes under jax.distributed put every run in
the store exactly once; memory-based chunk sizing and the out-of-memory fallback."""

import csv
import io
import os
import socket
import subprocess
import sys

import pytest

from conftest import tiny

TINY = """
name = "tiny/scale"
seeds = 10
main_metric = "train_accuracy"
[data]
name = "article_uniform"
n_samples = 64
[model]
name = "mlp"
hidden = [8]
[train]
optimizer = "keras_adam"
epochs = 1
batch_size = 16
[factors]
learning_rate = [0.001, 0.1]
"""


def _run(args, cwd, env=None, **kw):
    return subprocess.Popen([sys.executable, "-m", "jaxstab.cli", *map(str, args)], cwd=cwd,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, **kw)


def _export(store, cwd):
    p = subprocess.run([sys.executable, "-m", "jaxstab.cli", "export", "--store", store],
                       cwd=cwd, capture_output=True, text=True, check=True)
    return list(csv.DictReader(io.StringIO(p.stdout)))


def _values(rows):
    return {(r["setting"], r["seed"], r["metric"]): r["value"] for r in rows}


@pytest.fixture(scope="module")
def one_device(tmp_path_factory):
    d = tmp_path_factory.mktemp("one")
    (d / "s.toml").write_text(TINY)
    p = _run(["run", "s.toml", "--store", "r.sqlite"], d)
    out, err = p.communicate(timeout=600)
    assert p.returncode == 0, err
    return _values(_export("r.sqlite", d))


def test_four_devices_equal_one_device(one_device, tmp_path):
    (tmp_path / "s.toml").write_text(TINY)
    env = dict(os.environ, XLA_FLAGS=os.environ.get("XLA_FLAGS", "") +
               " --xla_force_host_platform_device_count=4")
    p = _run(["run", "s.toml", "--store", "r.sqlite", "--chunk-size", "6"], tmp_path, env)
    out, err = p.communicate(timeout=600)
    assert p.returncode == 0, err
    got = _values(_export("r.sqlite", tmp_path))
    assert got.keys() == one_device.keys()
    for k, v in one_device.items():
        assert got[k] == v or abs(float(got[k]) - float(v)) < 1e-6, k
    import sqlite3

    env_rec = sqlite3.connect(tmp_path / "r.sqlite").execute(
        "SELECT env FROM chunks LIMIT 1").fetchone()[0]
    assert '"device_count": 4' in env_rec


def test_two_processes_jax_distributed_store_every_run_once(one_device, tmp_path):
    (tmp_path / "s.toml").write_text(TINY)
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    procs = [_run(["run", "s.toml", "--store", "r.sqlite", "--chunk-size", "4",
                   "--coordinator", f"127.0.0.1:{port}", "--num-processes", 2,
                   "--process-id", i], tmp_path) for i in (0, 1)]
    for p in procs:
        out, err = p.communicate(timeout=600)
        assert p.returncode == 0, err
    rows = _export("r.sqlite", tmp_path)
    runs = [(r["setting"], r["seed"]) for r in rows if r["metric"] == "diverged"]
    assert len(runs) == len(set(runs)) == 20
    got = _values(rows)
    assert got.keys() == one_device.keys()
    for k, v in one_device.items():
        assert got[k] == v or abs(float(got[k]) - float(v)) < 1e-6, k


def test_chunk_sizing_from_memory_analysis_and_oom_fallback(monkeypatch):
    from jaxstab import sweep as S

    study = tiny("article/example2", seeds=6)
    settings = study.settings()
    per_run = S.bytes_per_run(settings, study.seed)
    assert per_run > 96 * 10 * 4  # at least the run's own data
    monkeypatch.setattr(S, "_budget_bytes", lambda: int(per_run * 5.5))
    assert S.auto_chunk(settings, study.seed, 12) == 12  # CPU, one default chunk: no probe
    assert S.auto_chunk(settings, study.seed, 5000) == 5
    # an out-of-memory error halves the chunk and the sweep carries on
    real, calls = S.execute, []

    def flaky(settings, seeds, **kw):
        calls.append(len(settings))
        if len(settings) > 3:
            raise RuntimeError("RESOURCE_EXHAUSTED: Out of memory while trying to allocate")
        return real(settings, seeds, **kw)

    monkeypatch.setattr(S, "execute", flaky)
    recs = []
    S.sweep(study, chunk_size=12, on_chunk=lambda r, s: recs.extend(r))
    assert sorted((r.setting, r.seed) for r in recs) == sorted(
        (s.key, k) for s in settings for k in range(6))
    assert calls[:3] == [12, 6, 3] and set(calls[3:]) == {3}
    # any other error is raised, not swallowed
    monkeypatch.setattr(S, "execute", lambda *a, **k: (_ for _ in ()).throw(ValueError("x")))
    with pytest.raises(ValueError):
        S.sweep(study, chunk_size=4)
