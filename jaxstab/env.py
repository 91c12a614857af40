"""The record of platform, versions and precision flags stored with every chunk."""

from __future__ import annotations

import os
import platform
import subprocess
from functools import lru_cache
from importlib import metadata
from pathlib import Path

from jaxstab.errors import UserError


def _version(pkg: str) -> str:
    try:
        return metadata.version(pkg)
    except metadata.PackageNotFoundError:
        return "unknown"


@lru_cache(maxsize=1)
def commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True,
                             cwd=Path(__file__).parent, timeout=5)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() or None if out.returncode == 0 else None


def environment() -> dict:
    import jax

    dev = jax.devices()[0]
    return {
        "jaxstab": _version("jaxstab"), "jax": jax.__version__, "jaxlib": _version("jaxlib"),
        "flax": _version("flax"), "optax": _version("optax"), "numpy": _version("numpy"),
        "python": platform.python_version(), "platform": platform.platform(),
        "machine": platform.machine(), "backend": jax.default_backend(),
        "device": getattr(dev, "device_kind", str(dev)), "device_count": jax.device_count(),
        "process_count": jax.process_count(),
        # Precision flags change numbers (TF32 on GPUs): record what was in force.
        "matmul_precision": str(jax.config.jax_default_matmul_precision),
        "enable_x64": bool(jax.config.jax_enable_x64),
        "xla_flags": os.environ.get("XLA_FLAGS", ""),
        "commit": commit(),
    }


def memory_budget() -> int:
    """Memory a chunk may use: half the accelerator's free memory, a quarter of RAM on
    the CPU (which has no memory_stats); ``JAXSTAB_MAX_MEMORY`` (bytes) when set."""
    if os.environ.get("JAXSTAB_MAX_MEMORY"):
        return budget("MEMORY")
    import jax

    stats = jax.local_devices()[0].memory_stats()
    if stats and "bytes_limit" in stats:
        return int(0.5 * (stats["bytes_limit"] - stats.get("bytes_in_use", 0)))
    return int(0.25 * os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))


CACHE_MAX_BYTES = 2 << 30  # the per-user compile cache keeps the newest 2 GiB


def compile_cache() -> str | None:
    """Turn on JAX's persistent compilation cache, so that a rerun of a study, a later
    round of ``--until-decided`` in a new process, or the same shapes in another study
    load their XLA programs instead of compiling them (compiling is most of a small
    study's time on a CPU). The folder: a ``JAX_COMPILATION_CACHE_DIR`` (or
    ``jax_compilation_cache_dir``) already set by the user or a test suite, untouched;
    else ``$XDG_CACHE_HOME/jaxstab/xla`` (``~/.cache/jaxstab/xla``), where every
    program is kept however fast it compiled, up to ``CACHE_MAX_BYTES``.
    ``JAXSTAB_NO_COMPILE_CACHE=1`` sets nothing. Returns the folder in use, or None."""
    if os.environ.get("JAXSTAB_NO_COMPILE_CACHE", "") not in ("", "0"):
        return None
    import jax

    given = jax.config.jax_compilation_cache_dir
    if given:
        return str(given)
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"),
                                                            ".cache")
    folder = os.path.join(base, "jaxstab", "xla")
    try:
        os.makedirs(folder, exist_ok=True)
    except OSError:
        return None  # a read-only home: compile as before rather than fail
    jax.config.update("jax_compilation_cache_dir", folder)
    if "JAX_PERSISTENT_CACHE_MIN_COMPILE_TIME_SECS" not in os.environ:
        # JAX's default (1 s) would skip the small programs a study on a CPU compiles
        jax.config.update("jax_persistent_cache_min_compile_time_secs", 0.0)
    if "JAX_COMPILATION_CACHE_MAX_SIZE" not in os.environ:
        jax.config.update("jax_compilation_cache_max_size", CACHE_MAX_BYTES)
    return folder


# Sizes a user controls, checked before work or memory is spent on them. Each is set by
# the environment variable JAXSTAB_MAX_<NAME> (lowered, so that tests are fast).
BUDGETS = {
    "FIELD": 131_072,          # characters in one CSV field of an import (a label, a value)
    "ROWS": 20_000_000,        # data rows of an imported file
    "SETTINGS": 100_000,       # settings of a study (a grid, or the imported ones)
    "CURVE": 10_000_000,       # points of one curve of one run (a 1-d output of a task)
    "CURVE_POINTS_DRAWN": 500,  # points per curve in a report figure (stored whole)
    "MEMORY": 0,               # bytes a chunk may use; 0: memory_budget()'s own measure
}


def budget(name: str) -> int:
    """The budget ``name`` (a key of ``BUDGETS``), or ``JAXSTAB_MAX_<NAME>`` when set."""
    text = os.environ.get(f"JAXSTAB_MAX_{name}")
    if text is None:
        return BUDGETS[name]
    try:
        value = int(text)
    except ValueError:
        raise UserError(f"JAXSTAB_MAX_{name}: expected a positive integer, got "
                        f"{text!r}") from None
    if value < 1:
        raise UserError(f"JAXSTAB_MAX_{name}: expected a positive integer, got {value}")
    return value
