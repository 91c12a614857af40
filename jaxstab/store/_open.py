"""``open_store(path_or_url)``: what every command and library call that takes
``--store`` / ``store=`` opens. A path is an SQLite file (one machine); a URL
``scheme://...`` names a database server through the backend module
``jaxstab.store._<scheme>`` (its ``BACKEND`` class): ``postgresql://user@host:port/db``
for workers on many hosts.
"""

from __future__ import annotations

import importlib
import os
import re
from collections.abc import Callable
from typing import Any

from jaxstab.errors import UserError
from jaxstab.store._base import BaseStore

_URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
# URL schemes -> backend module (jaxstab.store._<module>); another scheme is looked up
# as a module of its own name.
_ALIASES = {"postgres": "postgresql", "postgresql+psycopg": "postgresql"}


def open_store(where: Any, *, create: bool = True,
               on_wait: Callable[[str], None] | None = None) -> BaseStore:
    """The store at ``where``: an open ``BaseStore`` (returned as is), a path (SQLite),
    ``sqlite:///path`` or a database URL. ``create=False``: a reader (nothing is
    created; a missing store is an error)."""
    if isinstance(where, BaseStore):
        return where
    text = os.fspath(where) if isinstance(where, os.PathLike) else where
    if not isinstance(text, str):
        raise UserError(f"--store: expected a path or a URL, got {where!r}")
    m = _URL.match(text)
    if m is None:
        from jaxstab.store._sqlite import SQLiteStore

        return SQLiteStore(text, create=create, on_wait=on_wait)
    scheme = m.group(1).lower()
    name = _ALIASES.get(scheme, scheme)
    if name == "sqlite":
        from jaxstab.store._sqlite import SQLiteStore

        return SQLiteStore(text[len("sqlite:///"):] if text.startswith("sqlite:///")
                           else text[len("sqlite://"):], create=create, on_wait=on_wait)
    try:
        module = importlib.import_module(f"jaxstab.store._{name}") \
            if re.fullmatch(r"[a-z][a-z0-9]*", name) else None
    except ModuleNotFoundError as e:
        if e.name != f"jaxstab.store._{name}":
            raise UserError(f"--store: a {scheme}:// store needs the Python package "
                            f"`{e.name}` (pip install 'jaxstab[postgres]')") from None
        module = None
    if module is None or not hasattr(module, "BACKEND"):
        raise UserError(f"--store: unknown database {scheme}://; allowed: a file path "
                        f"(SQLite), sqlite:///PATH, postgresql://user@host:port/db")
    return module.BACKEND(text, create=create, on_wait=on_wait)
