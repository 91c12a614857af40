"""The record of platform, versions and precision flags stored with every chunk."""

from __future__ import annotations

import os
import platform
import subprocess
from functools import lru_cache
from importlib import metadata
from pathlib import Path


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
    the CPU (which has no memory_stats)."""
    import jax

    stats = jax.local_devices()[0].memory_stats()
    if stats and "bytes_limit" in stats:
        return int(0.5 * (stats["bytes_limit"] - stats.get("bytes_in_use", 0)))
    return int(0.25 * os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
