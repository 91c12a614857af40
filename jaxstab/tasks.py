"""The task registry: which implementation of the contract (``jaxstab.task``) a study's
``task`` field names. Each is found by its import path, as a user's ``make_train`` is
(``task = "module:function"``): no generic module imports a task, the built-in one
included, so a task sits beneath the contract and the generic layers above it. A new
kind of task is one line here."""

from __future__ import annotations

import functools
import importlib
from typing import Any

from jaxstab.task import IMPORTED, Task

BUILTIN = "jaxstab.builtin.task:BUILTIN"  # task = "" (the default)
IMPLEMENTATIONS = {"": BUILTIN, IMPORTED: "jaxstab.usertask:IMPORTED_TASK"}
USER = "jaxstab.usertask:USER_TASK"  # task = "module:function" or a function


def task_of(ref: Any) -> Task:
    """The task of a study's ``task`` field: "" the built-in task, "imported" scores
    made elsewhere, anything else a user's ``make_train``."""
    return _load(IMPLEMENTATIONS.get(ref, USER) if isinstance(ref, str) else USER)


@functools.lru_cache(maxsize=None)
def _load(path: str) -> Task:
    module, _, name = path.partition(":")
    return getattr(importlib.import_module(module), name)
