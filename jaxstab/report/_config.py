"""The study's configuration as the page shows it, written as TOML (what of it applies
is the task's to say: ``Task.describe``)."""

from __future__ import annotations

import math
from typing import Any


# ---------------------------------------------------------------- TOML


def to_toml(d: dict) -> str:
    """TOML for the shape of ``Study.to_dict()``: scalars and lists, tables, and arrays
    of tables whose nested tables are written inline."""
    lines = [f"{_key(k)} = {_value(v)}" for k, v in d.items()
             if v is not None and not isinstance(v, dict) and not _table_array(v)]
    for k, v in d.items():
        if isinstance(v, dict):
            lines += ["", f"[{_key(k)}]"]
            lines += [f"{_key(a)} = {_value(b)}" for a, b in v.items() if b is not None]
    for k, v in d.items():
        if _table_array(v):
            for item in v:
                lines += ["", f"[[{_key(k)}]]"]
                lines += [f"{_key(a)} = {_value(b)}" for a, b in item.items() if b is not None]
    return "\n".join(lines) + "\n"


def _table_array(v: Any) -> bool:
    return isinstance(v, (list, tuple)) and bool(v) and all(isinstance(x, dict) for x in v)


def _key(k: str) -> str:
    bare = k and all(c.isascii() and (c.isalnum() or c in "_-") for c in k)
    return k if bare else _string(k)


def _string(s: str) -> str:
    escapes = {"\\": "\\\\", '"': '\\"', "\b": "\\b", "\t": "\\t", "\n": "\\n",
               "\f": "\\f", "\r": "\\r"}
    out = []
    for ch in s:
        if ch in escapes:
            out.append(escapes[ch])
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\u{ord(ch):04X}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _value(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf") if math.isinf(v) \
            else repr(v)
    if isinstance(v, str):
        return _string(v)
    if isinstance(v, (list, tuple)):
        return "[" + ", ".join(_value(x) for x in v) + "]"
    if isinstance(v, dict):
        inner = ", ".join(f"{_key(a)} = {_value(b)}" for a, b in v.items() if b is not None)
        return "{ " + inner + " }" if inner else "{}"
    raise TypeError(f"cannot write {type(v).__name__} as TOML")
