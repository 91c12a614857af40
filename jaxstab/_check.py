"""Validation helpers shared by every configuration section: one line naming the field
and what is allowed, raised as ``UserError`` (the CLI prints it and exits 2)."""

from __future__ import annotations

import difflib
import math
import re
from collections.abc import Mapping
from typing import Any, Iterable

from jaxstab.errors import UserError


def fail(where: str, msg: str) -> None:
    raise UserError(f"{where}: {msg}")


def check_choice(where: str, value: str, allowed: Iterable[str]) -> None:
    allowed = tuple(allowed)
    if value not in allowed:
        hint = difflib.get_close_matches(str(value), allowed, n=1)
        extra = f"; did you mean `{hint[0]}`?" if hint else ""
        fail(where, f"unknown value {value!r}, allowed: {', '.join(allowed)}{extra}")


def check_range(where: str, value: float, lo: float, hi: float, *,
                lo_open: bool = False, hi_open: bool = False) -> None:
    ok = math.isfinite(value) and (value > lo if lo_open else value >= lo) and (
        value < hi if hi_open else value <= hi)
    if not ok:
        left = "(" if lo_open else "["
        right = ")" if hi_open else "]"
        fail(where, f"{value!r} is out of range, allowed {left}{lo}, {hi}{right}")


def unknown_key(where: str, key: str, allowed) -> None:
    hint = difflib.get_close_matches(key, list(allowed), n=1)
    extra = f"; did you mean `{hint[0]}`?" if hint else ""
    fail(where, f"unknown key `{key}`{extra}")


_WANT = {"tuple[int,...]": "a list of integers", "int|None": "an integer",
         "float": "a number", "int": "an integer", "str": "a string",
         "float|None": "a number", "bool|None": "true or false", "bool": "true or false",
         "str|None": "a string", "tuple[float,...]": "a list of numbers",
         "tuple[str,...]": "a list of strings", "dict|None": "a table",
         "dict": "a table"}


def _is_int(v: Any) -> bool:
    return isinstance(v, int) and not isinstance(v, bool)


def _is_num(v: Any) -> bool:
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def check_type(where: str, value: Any, typ: Any) -> Any:
    """``typ`` is a dataclass field's annotation (a string under postponed evaluation)."""
    typ = str(typ).replace(" ", "")
    seq = isinstance(value, (list, tuple))
    ok = {
        "str": isinstance(value, str), "int": _is_int(value), "float": _is_num(value),
        "bool": isinstance(value, bool),
        "int|None": _is_int(value), "float|None": _is_num(value),
        "bool|None": isinstance(value, bool), "str|None": isinstance(value, str),
        "dict": isinstance(value, dict), "dict|None": isinstance(value, dict),
        "tuple[int,...]": seq and all(_is_int(x) for x in value),
        "tuple[float,...]": seq and all(_is_num(x) for x in value),
        "tuple[str,...]": seq and all(isinstance(x, str) for x in value),
    }.get(typ, True)
    if not ok:
        fail(where, f"expected {_WANT[typ]}, got {value!r}")
    return value


class FrozenArgs(dict):
    """Keyword arguments as a hashable table: configurations key the compile cache."""

    def __hash__(self) -> int:  # type: ignore[override]
        import json

        return hash(json.dumps(self, sort_keys=True, default=repr))


_TRUSTED = [False]


class trusted:
    """Within this block, configurations are rebuilt from a store: they were checked when
    they were run, so files are not re-read and user modules are not re-imported (a
    report may be made on another machine, far from the study's files)."""

    def __enter__(self):
        self._old = _TRUSTED[0]
        _TRUSTED[0] = True

    def __exit__(self, *exc):
        _TRUSTED[0] = self._old


def is_trusted() -> bool:
    return _TRUSTED[0]


_ROOT: list = [None]
_OBJECTS: dict = {}


class import_root:
    """Within this block, user modules are looked up in ``folder`` first (a study file's
    own folder). Two study folders may each hold a module of one name (``tasks.py``):
    Python caches modules by name, so the second is loaded apart under its own name."""

    def __init__(self, folder):
        self.folder = folder

    def __enter__(self):
        self._old = _ROOT[0]
        _ROOT[0] = self.folder

    def __exit__(self, *exc):
        _ROOT[0] = self._old


def _module(mod_name: str):
    import importlib
    import importlib.util
    import sys
    from pathlib import Path

    root = _ROOT[0]
    if root is not None:
        base = Path(root, *mod_name.split("."))
        file = next((f for f in (base.with_suffix(".py"), base / "__init__.py")
                     if f.is_file()), None)
        loaded = sys.modules.get(mod_name)
        if file is not None and loaded is not None and Path(
                getattr(loaded, "__file__", "") or "").resolve() != file.resolve():
            import hashlib

            tag = hashlib.sha256(str(file.resolve()).encode()).hexdigest()[:12]
            unique = f"_jaxstab_user_{tag}_{mod_name.replace('.', '_')}"
            if unique not in sys.modules:
                spec = importlib.util.spec_from_file_location(unique, file)
                module = importlib.util.module_from_spec(spec)
                sys.modules[unique] = module
                try:
                    spec.loader.exec_module(module)
                except BaseException:
                    del sys.modules[unique]
                    raise
            return sys.modules[unique]
    return importlib.import_module(mod_name)


def import_object(ref: str, where: str):
    """``module:attribute`` (dots allowed on both sides), imported; one clear line when
    the module or the attribute is missing or the import itself fails."""
    mod_name, sep, attr = ref.partition(":")
    if not sep or not mod_name or not attr:
        fail(where, f"expected `module:name`, got {ref!r}")
    try:
        obj = _module(mod_name)
    except ModuleNotFoundError as e:
        if e.name and mod_name.startswith(e.name):
            fail(where, f"module `{mod_name}` not found (looked in the study file's "
                 f"folder and on sys.path)")
        fail(where, f"importing `{mod_name}` failed: {type(e).__name__}: {e}")
    except Exception as e:  # noqa: BLE001 - user code: any error is the user's
        fail(where, f"importing `{mod_name}` failed: {type(e).__name__}: {e}")
    for part in attr.split("."):
        if not hasattr(obj, part):
            fail(where, f"`{mod_name}` has no `{attr}`")
        obj = getattr(obj, part)
    return obj


def remember(ref: str, digest: str, obj) -> None:
    """The object an import path named when a study was loaded, by (path, source hash):
    training finds that very object again, whatever else was imported since."""
    _OBJECTS[(ref, digest)] = obj


def recall(ref: str, digest: str | None):
    return _OBJECTS.get((ref, digest))


def source_digest(obj) -> str:
    """Hash of the source file that defines ``obj`` (its whole module), so that editing a
    user's task or model gives new results instead of mixing with the old ones."""
    import hashlib
    import inspect
    import sys

    mod = sys.modules.get(getattr(obj, "__module__", ""), None)
    try:
        text = inspect.getsource(mod) if mod is not None else inspect.getsource(obj)
    except (OSError, TypeError):
        text = getattr(obj, "__qualname__", repr(obj))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def int_hint(name: str, values) -> str:
    """Integer values make a factor static (one compile each, not a traced
    hyperparameter): a user who wrote ``[3, 30]`` for a learning rate needs to know."""
    if not values or not all(isinstance(v, int) and not isinstance(v, bool)
                             for v in values):
        return ""
    return (f" ({', '.join(map(str, values))}: integers, which make `{name}` a static "
            f"factor; write floats, e.g. {float(values[0])!r}, for a traced "
            f"hyperparameter)")


# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection):
# such a text cell gets a leading `'` (and one that already starts with quotes and one
# of them gets one more, so that `jaxstab import` can take exactly one off again).
_FORMULA = re.compile(r"'*[=+\-@\t\r]")


def csv_text(text: str) -> str:
    """A text cell of a CSV jaxstab writes (a study or metric name), safe to open in a
    spreadsheet. Numbers are written as they are: `-0.5` is a number there, not a
    formula."""
    return "'" + text if _FORMULA.match(text) else text


def csv_text_back(text: str) -> str:
    """The text ``csv_text`` was given."""
    return text[1:] if text.startswith("'") and _FORMULA.match(text[1:]) else text


def terminal_text(text: str, keep: str = "") -> str:
    """``text`` with control characters (ANSI escapes, NUL, line breaks other than those
    in ``keep``) written as Python escapes, so that a label cannot drive the terminal."""
    return re.sub(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]",
                  lambda m: m.group() if m.group() in keep else ascii(m.group())[1:-1],
                  text)


def hashable(v: Any) -> Any:
    """``v`` made hashable (lists as tuples, a table as its sorted items), so that a set
    finds in one step what a scan with ``==`` found (equal values, equal results)."""
    if isinstance(v, (list, tuple)):
        return tuple(hashable(x) for x in v)
    if isinstance(v, Mapping):
        return tuple(sorted((k, hashable(x)) for k, x in v.items()))
    return v
