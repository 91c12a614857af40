"""A user's own task, in purejaxrl's ``make_train`` shape (DESIGN.md, "User tasks")::

    def make_train(config: dict):          # [config] + this setting's static factors
        def train(keys, hparams):          # keys: {source: PRNG key}, every source
            ...                            # hparams: {name: float32 scalar}
            return {"test_accuracy": acc,  # 0-d arrays are metrics
                    "loss": per_epoch}     # 1-d arrays are curves
        return train

jaxstab adds the seed axis (``jax.vmap``), chunks, stores and compares. A run whose
metric is NaN/inf is stored as diverged, at the first non-finite entry of its ``loss``
curve (or of any curve; 0 without one). Everything that can go wrong in user code is
found before training, by tracing one run abstractly (``jax.eval_shape``), and reported
as one line naming the study field ``task``.
"""

from __future__ import annotations

import functools
import json
import re
from typing import Any, Callable

from jaxstab._check import (FrozenArgs, fail, import_object, is_trusted, recall, remember,
                            source_digest)
from jaxstab.errors import TaskError, UserError
from jaxstab.task import IMPORTED, SOURCES

RESERVED = ("diverged", "diverged_step")


def resolve(ref: str | Callable) -> tuple[Callable, str, str]:
    """(make_train, its import path, the hash of its module's source)."""
    if callable(ref):
        fn = ref
        path = f"{getattr(fn, '__module__', '?')}:{getattr(fn, '__qualname__', '?')}"
    else:
        fn = import_object(ref, "task")
        path = ref
        if not callable(fn):
            fail("task", f"`{ref}` is not a function (expected make_train(config))")
    return fn, path, source_digest(fn)


def static(task_path: str, digest: str, config: dict) -> tuple:
    return ("user", task_path, digest, json.dumps(config, sort_keys=True, default=repr))


def register(task_path: str, digest: str, fn: Callable) -> None:
    """Remember the function behind an import path: a Python object given to a study in
    code cannot be imported again by path, and two study folders may each have a
    module of the same name."""
    remember(task_path, digest, fn)


def _function(task_path: str, digest: str) -> Callable:
    fn = recall(task_path, digest)
    if fn is None:
        fn = resolve(task_path)[0]
        register(task_path, digest, fn)
    return fn


def _call_make_train(fn: Callable, config: dict) -> Callable:
    try:
        train = fn(dict(config))
    except SystemExit as e:  # sys.exit() in user code ended jaxstab silently
        fail("task", f"make_train(config) called sys.exit({e.code!r})")
    except Exception as e:  # noqa: BLE001 - user code: its error is the user's
        fail("task", f"make_train(config) raised {type(e).__name__}: {e}")
    if not callable(train):
        fail("task", f"make_train(config) returned {type(train).__name__}, expected a "
             f"function train(keys, hparams)")
    return train


def normalize(out: Any) -> dict:
    """A user's result dict as the engine's: metrics, curves, divergence flag and step."""
    import jax.numpy as jnp

    metrics = {k: v for k, v in out.items() if jnp.ndim(v) == 0}
    curves = {k: v for k, v in out.items() if jnp.ndim(v) == 1}
    finite = jnp.all(jnp.stack([jnp.isfinite(v) for v in metrics.values()])) \
        if metrics else jnp.array(True)
    diverged = ~finite
    order = (["loss"] if "loss" in curves else []) + [k for k in curves if k != "loss"]
    step = jnp.array(0, jnp.int32)
    for name in reversed(order):  # the first curve in `order` with a bad entry wins
        bad = ~jnp.isfinite(curves[name])
        step = jnp.where(jnp.any(bad), jnp.argmax(bad).astype(jnp.int32), step)
    return {"metrics": {k: jnp.asarray(v, jnp.float32) for k, v in metrics.items()},
            "curves": {k: jnp.asarray(v, jnp.float32) for k, v in curves.items()},
            "diverged": diverged, "diverged_step": jnp.where(diverged, step, -1)}


@functools.lru_cache(maxsize=None)
def make_program(static: tuple):
    _, task_path, digest, config = static
    train = _call_make_train(_function(task_path, digest), json.loads(config))

    def run(keys, hp, data):
        del data  # a user task brings its own data
        return normalize(train(keys, hp))

    return run, False


def _static_hint(err: Exception, config: dict, hparam_names) -> str:
    """Why a factor the task reads from ``hparams`` is not there: its values are not
    floats (``[3, 30]``), which makes it static, a ``config`` entry."""
    name = err.args[0] if isinstance(err, KeyError) and err.args else None
    if not isinstance(name, str) or name in hparam_names or name not in config:
        return ""
    v = config[name]
    example = float(v) if isinstance(v, int) and not isinstance(v, bool) else 1.0
    return (f" (factor `{name}` = {v!r} here: integer, string or boolean values make a "
            f"factor static, given to make_train in config, not in hparams; write its "
            f"values as floats, e.g. {example!r}, to vary it as a traced hyperparameter)")


def check(static: tuple, hparam_names: tuple[str, ...]) -> dict[str, tuple[int, ...]]:
    """Trace one run abstractly; return ``{name: shape}`` of what it records, or fail
    with one line naming the task's mistake (its sizes too)."""
    shapes = _trace(static, hparam_names)
    _check_sizes(shapes)
    return dict(shapes)


# Cached: the sweep asks again when it sizes its chunks (a failure is not cached).
@functools.lru_cache(maxsize=64)
def _trace(static: tuple, hparam_names: tuple[str, ...]) -> dict:
    import jax
    import jax.numpy as jnp

    _, task_path, digest, config = static
    train = _call_make_train(_function(task_path, digest), json.loads(config))
    key = jax.eval_shape(lambda: jax.random.PRNGKey(0))
    keys = {s: key for s in SOURCES}
    hp = {n: jax.ShapeDtypeStruct((), jnp.float32) for n in hparam_names}
    try:
        out = jax.eval_shape(train, keys, hp)
    except (jax.errors.ConcretizationTypeError, jax.errors.TracerBoolConversionError,
            jax.errors.TracerIntegerConversionError,
            jax.errors.TracerArrayConversionError) as e:
        first = str(e).strip().splitlines()[0]
        fail("task", f"train(keys, hparams) cannot be traced by JAX (a Python side effect "
             f"or Python control flow on a traced value?): {type(e).__name__}: {first}")
    except SystemExit as e:
        fail("task", f"train(keys, hparams) called sys.exit({e.code!r})")
    except Exception as e:  # noqa: BLE001 - user code
        first = (str(e).strip().splitlines() or [""])[0]
        fail("task", f"train(keys, hparams) raised {type(e).__name__}: {first}"
             f"{_static_hint(e, json.loads(config), hparam_names)}")
    if not isinstance(out, dict) or not out:
        fail("task", f"train(keys, hparams) returned {type(out).__name__}, expected a "
             f"non-empty dict of arrays (0-d metrics, 1-d curves)")
    shapes = {}
    for k, v in out.items():
        if not isinstance(k, str) or not k:
            fail("task", f"train returned a key {k!r}; keys must be metric names")
        if k in RESERVED:
            fail("task", f"train returned `{k}`, a name jaxstab records itself")
        shape = getattr(v, "shape", None)
        dtype = getattr(v, "dtype", None)
        if shape is None or dtype is None or not (
                jnp.issubdtype(dtype, jnp.floating) or jnp.issubdtype(dtype, jnp.integer)
                or jnp.issubdtype(dtype, jnp.bool_)):
            fail("task", f"train returned `{k}` = {type(v).__name__}, expected a numeric "
                 f"array")
        if len(shape) > 1:
            fail("task", f"train returned `{k}` of shape {tuple(shape)}: a metric is 0-d, a "
                 f"curve 1-d")
        shapes[k] = tuple(shape)
    if not any(len(s) == 0 for s in shapes.values()):
        fail("task", "train returned no 0-d metric (e.g. {\"test_accuracy\": acc})")
    return shapes


# Host bytes one output value costs: float32 from the device, float64 for the store and
# its big-endian copy in a block, and the device's own float32.
BYTES_PER_VALUE = 24


def output_bytes(shapes: dict) -> int:
    """Memory one run's outputs take on their way to the store."""
    return BYTES_PER_VALUE * sum(max(1, s[0]) if s else 1 for s in shapes.values())


def _check_sizes(shapes: dict) -> None:
    """A curve's length is the user's to choose: checked here, before anything trains
    (a 130M-point curve trained, then its commit failed; 300M points x 4 runs took
    24 GB and the kernel killed the process)."""
    from jaxstab.env import budget, memory_budget

    most = budget("CURVE")
    for k, s in shapes.items():
        if s and s[0] > most:
            fail("task", f"train returned the curve `{k}` of {s[0]:,} points; allowed at "
                 f"most {most:,} per run (JAXSTAB_MAX_CURVE): record every k-th step")
    need, have = output_bytes(shapes), memory_budget()
    if need > have:
        fail("task", f"one run's outputs need {need / 2**20:,.1f} MiB on their way to the "
             f"store, more than the {have / 2**20:,.1f} MiB a chunk may use")


# The last line of a Python traceback: the exception raised in the user's code.
_RAISED = re.compile(r"[A-Za-z_][\w.]*(?:Error|Exception|Exit|Warning)\b")


def task_error(task_path: str, err: Exception) -> TaskError:
    """A failure of the user's task at run time (its callback raised, say) as the
    user's error: XLA wraps it in an INTERNAL message carrying the callback's traceback,
    whose last line is what the user's code raised."""
    lines = str(err).strip().splitlines() or [""]
    raised = [ln.strip() for ln in lines[1:] if _RAISED.match(ln.strip())]
    what = raised[-1] if raised else f"{type(err).__name__}: {lines[0]}"
    if len(what) > 300:
        what = what[:300] + "..."
    return TaskError(f"task: {task_path} failed while training: {what}")


def frozen(config: dict) -> FrozenArgs:
    return FrozenArgs(config)


class UserTask:
    """A user's ``make_train`` as a ``jaxstab.task.Task``; with ``imported``, scores made
    elsewhere (``jaxstab import``): the same settings, never trained."""

    sections: dict = {}
    metrics = None  # whatever train returns (checked by tracing it)

    def __init__(self, imported: bool = False):
        self.imported = imported

    def factor_names(self) -> None:
        return None

    def resolve(self, study) -> dict[str, Any]:
        task, out = study.task, {}
        if callable(task):
            fn, path, digest = resolve(task)
            register(path, digest, fn)
            out.update(task=path, task_source=digest)
        elif not isinstance(task, str):
            fail("task", f"expected `module:function` or a function, got {task!r}")
        elif task != IMPORTED and not is_trusted():
            fn, path, digest = resolve(task)
            register(path, digest, fn)
            out["task_source"] = digest
        out["config"] = frozen(dict(study.config or {}))
        return out

    def is_float(self, study, name: str, values: tuple) -> bool:
        return any(isinstance(v, float) for v in values)

    def setting(self, study, chosen: dict, where: str) -> dict[str, Any]:
        static_part = {k: v for k, v in chosen.items()
                       if k != "vary" and k not in study.float_factors}
        return {"config": frozen({**study.config, **static_part})}

    def value(self, setting, name: str) -> Any:
        return dict(setting.factors).get(name, setting.config.get(name))

    def hparams(self, setting) -> dict[str, float]:
        return {n: float(v) for n, v in setting.factors if n in setting.study.float_factors}

    def static(self, setting) -> tuple:
        study = setting.study
        return static(study.task, study.task_source, dict(setting.config))

    def host(self, setting) -> bool:
        return False

    def program(self, static_: tuple):
        return make_program(static_)

    def host_sample(self, setting, seeds_by_src: dict) -> dict:
        raise TypeError("a user task brings its own data")

    def check(self, study) -> dict[str, set[str]]:
        if self.imported:
            fail("study", f"{study.name} holds imported scores; there is nothing to train")
        recorded = {}
        for s in study.settings():
            shapes = check(s.static, tuple(sorted(s.hparams)))
            recorded[s.key] = {k for k, v in shapes.items() if v == ()} | {"diverged"}
        return recorded

    def describe(self, study) -> dict[str, Any]:
        return {"task": study.task, "task_source": study.task_source,
                "config": dict(study.config)}

    def identity(self, study) -> dict[str, Any]:
        return self.describe(study)

    def shown(self, study) -> dict[str, Any]:
        return study.to_dict()

    def chunk_cap(self, setting) -> int:
        from jaxstab.env import memory_budget

        shapes = check(setting.static, tuple(sorted(setting.hparams)))
        return max(1, memory_budget() // output_bytes(shapes))

    def run_error(self, setting, err: Exception) -> Exception:
        return task_error(setting.study.task, err)

    def check_search(self, setting) -> None:
        raise UserError("search: the search tunes the built-in task's learning_rate and "
                        "weight_decay; a user's task sweeps them as factors")

    def search_point(self, setting, lr: float, wd: float):
        self.check_search(setting)


USER_TASK, IMPORTED_TASK = UserTask(), UserTask(imported=True)
