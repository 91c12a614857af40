"""Speed and memory of training (jaxstab.sweep): warm sweeps at several seed counts,
compilation from cold caches, and the peak memory of a sweep.

The study is article/example2 as the article wrote it (a 10-128-1 MLP, Keras's Adam at
learning rates 1e-4 and 1e-1, 1000 examples, batch 32, 10 epochs), so that the sweep at
32 seeds compiles the very program bench_track trains and the two share JAX's
persistent compile cache. Only the peak-memory benchmark cuts the epochs (to 1).
"""

from __future__ import annotations

from ._base import (
    EXAMPLES,
    JaxBenchmark,
    block,
    clear_compile_caches,
    jax_cache,
    skip_unless_slow,
    study,
)

TIMED = "article/example2"


class TimeSweep(JaxBenchmark):
    """``sweep(study, seeds=N)`` of article/example2: 2 settings, so 2N runs in one
    compiled program (chunks of at most 1024 runs), records built on the host
    included, compilation excluded."""

    params = [1, 32, 128, 1024]
    param_names = ["seeds"]

    def prepare(self, seeds):
        skip_unless_slow(seeds > 128, f"sweep of {seeds} seeds")
        jax_cache()
        from jaxstab.sweep import sweep

        s = study(TIMED)
        sweep(s, seeds=seeds)  # compiles, then runs once warm
        return s

    def time_sweep(self, seeds):
        from jaxstab.sweep import sweep

        # sweep() copies every chunk to the host before returning: nothing left to block.
        sweep(self.state, seeds=seeds)


class TimeCompile:
    """Tracing and compiling one program (plus running it once on 2 runs: negligible)
    from cold caches: JAX's in-memory caches, jaxstab's memos, and no persistent cache.
    Example 2 by default; examples 1 and 3 with JAXSTAB_BENCH_SLOW=1."""

    params = list(EXAMPLES)
    param_names = ["study"]
    number = 1
    repeat = (1, 3, 30.0)
    warmup_time = 0.0
    rounds = 1
    timeout = 600.0

    def setup(self, name):
        skip_unless_slow(name != TIMED, f"compilation of {name}")
        jax_cache(enabled=False)
        import jax.numpy as jnp

        from jaxstab.sweep import plan

        block(jnp.zeros(1))  # start the backend outside the timed call
        s = study(name)
        group = plan(s, 1)[0]  # the first compiled group, one seed per setting
        self.args = ([x for x, _ in group], [k for _, k in group], s.seed)
        # asv runs setup before every sample, so every sample compiles from scratch.
        clear_compile_caches()

    def time_compile(self, name):
        from jaxstab.sweep import execute

        settings, seeds, seed = self.args
        block(execute(settings, seeds, study_seed=seed))


class PeakMemSweep:
    """Peak resident memory of a process that imports jaxstab, then compiles and runs
    ``sweep`` of article/example2 with one epoch (memory does not grow with epochs; it
    grows with the runs per chunk: 2N runs, chunks of at most 1024). The persistent
    compile cache is off, so the number does not depend on what an earlier process
    left in it."""

    params = [256, 4096]
    param_names = ["seeds"]
    timeout = 600.0

    def setup(self, seeds):
        skip_unless_slow(seeds > 256, f"peak memory of {seeds} seeds")
        jax_cache(enabled=False)
        import jaxstab.sweep  # noqa: F401  (imported here so the module stays light)

        self.study = study(TIMED, epochs=1)

    def peakmem_sweep(self, seeds):
        from jaxstab.sweep import sweep

        sweep(self.study, seeds=seeds)


class TimeUserTaskSweep(JaxBenchmark):
    """``sweep`` of a user's own ``make_train`` (``tests/userpkg/task.toml``: a small
    MLP in plain JAX + optax, 4 settings: two traced learning rates x two static widths,
    so 2 compiled programs), records included, compilation excluded: the user-task path
    (``jaxstab.usertask``) timed like the built-in one."""

    params = [16, 256]
    param_names = ["seeds"]

    def prepare(self, seeds):
        from pathlib import Path

        from jaxstab.loader import load_study
        from jaxstab.sweep import sweep

        skip_unless_slow(seeds > 16, f"user-task sweep of {seeds} seeds")
        jax_cache()
        s = load_study(str(Path(__file__).parents[1] / "tests" / "userpkg" / "task.toml"))
        sweep(s, seeds=seeds)
        return s

    def time_user_task_sweep(self, seeds):
        from jaxstab.sweep import sweep

        sweep(self.state, seeds=seeds)
