"""The suite's small base: the slow switch, the JAX compile cache, a compile-once setup,
study variants and synthetic results for the benchmarks that need no training.

Nothing heavy is imported at module level. asv imports every module of the suite to
discover it and starts a fresh process for each benchmark and parameter; jax, scipy
and matplotlib are imported in ``setup`` by the benchmarks that use them, so the
processes that only read a cached number (``bench_track``) start in a fraction of a
second.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path
from typing import Any, NamedTuple

SLOW = os.environ.get("JAXSTAB_BENCH_SLOW", "").strip() not in ("", "0")
# The three faithful reproductions of the article's code: the default grid. With
# JAXSTAB_BENCH_SLOW=1 the track benchmarks cover every article study.
EXAMPLES = ("article/example1", "article/example2", "article/example3")


def skip_unless_slow(is_slow: bool, what: str) -> None:
    """Skip (asv records n/a, not a failure) a slow grid point unless asked for."""
    if is_slow and not SLOW:
        raise NotImplementedError(f"{what} is a slow grid point; set JAXSTAB_BENCH_SLOW=1")


def jax_cache(enabled: bool = True) -> None:
    """Point JAX's persistent compilation cache at one folder shared by all processes.

    asv runs each benchmark in a new process, so without it every process would compile
    the same programs again in ``setup``. Only setup gets faster: timed calls reuse the
    in-process compiled program either way, and the benchmarks that measure compilation
    turn the cache off. Default ``$XDG_CACHE_HOME/jaxstab/asv-jax-cache`` (``~/.cache``
    when unset); ``JAXSTAB_BENCH_JAX_CACHE`` moves it, ``off`` disables it.
    """
    import jax

    cache_home = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    where = os.environ.get("JAXSTAB_BENCH_JAX_CACHE",
                           str(Path(cache_home) / "jaxstab" / "asv-jax-cache"))
    if not enabled or where.strip().lower() in ("", "0", "off"):
        jax.config.update("jax_enable_compilation_cache", False)
        return
    jax.config.update("jax_compilation_cache_dir", where)


def clear_compile_caches() -> None:
    """Forget every compiled program of this process: JAX's caches and the memos of
    jaxstab.builtin.train, builtin, usertask and sweep (``make_run``, ``make_program``,
    ``_PROGRAMS``, ...). Every ``functools.lru_cache`` of those modules is cleared, so a
    memo added later cannot make the compile benchmark time a cache hit."""
    import jax

    from jaxstab import sweep, usertask
    from jaxstab.builtin import config as builtin
    from jaxstab.builtin import train

    jax.clear_caches()
    for module in (train, builtin, usertask, sweep):
        for obj in vars(module).values():
            if callable(getattr(obj, "cache_clear", None)):
                obj.cache_clear()
    sweep._PROGRAMS.clear()


def block(tree: Any) -> Any:
    """Wait for device work: a timed call ends here, not when dispatch returns."""
    import jax

    return jax.block_until_ready(tree)


def study(name: str, *, epochs: int | None = None, seeds: int | None = None):
    """A built-in study, optionally with fewer epochs (same program shape, less work)."""
    from jaxstab.loader import load_study, study_from_dict

    s = load_study(name)
    if epochs is not None:
        d = s.to_dict()
        d["train"]["epochs"] = epochs
        s = study_from_dict(d, name)
    if seeds is not None:
        s = dataclasses.replace(s, seeds=seeds)
    return s


def setting_label(setting) -> str:
    """``article/example2: learning_rate=0.1``: a readable, stable asv parameter."""
    def show(v: Any) -> str:
        return "+".join(map(str, v)) if isinstance(v, (list, tuple)) else str(v)

    factors = ", ".join(f"{k}={show(v)}" for k, v in setting.factors)
    return f"{setting.study.name}: {factors or 'default'}"


_PREPARED: dict[tuple, Any] = {}


class JaxBenchmark:
    """Compile and warm up in ``setup``; time warm calls only.

    asv calls ``setup`` again before every sample, so ``prepare`` (compile, first call)
    runs once per process and parameter and its result is kept in ``self.state``. One
    timed call per sample: a warm sweep takes 10 ms to seconds, so no batching is needed,
    and three samples at least keep the median honest.
    """

    timeout = 300.0
    number = 1
    repeat = (3, 10, 10.0)  # min samples, max samples, seconds to stop sampling after
    warmup_time = 0.0  # the warm-up is prepare()'s first call
    rounds = 1  # each round is a new process that imports jax and re-traces: seconds

    def prepare(self, *params):
        raise TypeError(f"{type(self).__name__} must define prepare()")

    def setup(self, *params):
        key = (type(self).__name__,) + params
        if key not in _PREPARED:
            _PREPARED[key] = self.prepare(*params)
        self.state = _PREPARED[key]


# ------------------------------------------------------------- synthetic results


class FakeRun(NamedTuple):
    """The fields of ``jaxstab.sweep.RunRecord`` that ``Store.write_chunk`` reads;
    defined here so that the statistics and report benchmarks need no jax."""

    setting: str
    seed: int
    metrics: dict
    curves: dict
    diverged: bool
    diverged_step: int | None


def fake_runs(study, seeds: int, *, rng_seed: int = 0) -> list[FakeRun]:
    """Plausible per-seed results for every setting of ``study``: each setting gets its
    own mean and spread, accuracies are rounded to the evaluation set's resolution, and
    settings with a learning rate of 0.1 or more diverge 5% of the time, so the report's
    and the statistics' divergence paths run too."""
    import numpy as np

    from jaxstab.builtin.config import METRICS

    rng = np.random.default_rng(rng_seed)
    epochs = study.train.epochs
    runs = []
    for i, setting in enumerate(study.settings()):
        centre, spread = 0.55 + 0.04 * (i % 5), 0.01 + 0.01 * (i % 4)
        n_eval = max(setting.data.n_test or setting.data.n_train, 1)
        p_div = 0.05 if setting.train.learning_rate >= 0.1 else 0.0
        for seed in range(seeds):
            div = bool(rng.random() < p_div)
            metrics = {}
            for name in METRICS:
                if name == "diverged":
                    continue
                if name.endswith("loss"):
                    v = abs(0.69 - (centre - 0.5) + spread * rng.standard_normal())
                else:
                    v = centre + spread * rng.standard_normal()
                    v = float(np.clip(np.round(v * n_eval) / n_eval, 0.0, 1.0))
                metrics[name] = None if div else float(v)
            metrics["diverged"] = float(div)
            t = np.arange(1, epochs + 1)
            noise = 0.01 * rng.standard_normal((2, epochs))
            curves = {"loss": (0.69 / t ** 0.1 + noise[0]).tolist(),
                      "accuracy": (centre - 0.05 / t + noise[1]).tolist()}
            runs.append(FakeRun(setting.key, seed, metrics, curves, div,
                                int(rng.integers(0, epochs)) if div else None))
    return runs


def fake_store(path: str | os.PathLike, names: tuple[str, ...], seeds: int):
    """A results store holding ``fake_runs`` of each named study; returns the Store."""
    from jaxstab.store import Store

    store = Store(path)
    for k, name in enumerate(names):
        s = study(name, seeds=seeds)
        fp = store.ensure_study(s)
        runs = fake_runs(s, seeds, rng_seed=k)
        store.write_chunk(fp, runs, 1.0, {"backend": "synthetic"})
    return store
