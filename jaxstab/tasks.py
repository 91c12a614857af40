"""The task registry: the one module that imports the tasks (``jaxstab.task`` is their
contract). A new kind of task is added here."""

from __future__ import annotations

from typing import Any

from jaxstab.task import IMPORTED, Task


def task_of(ref: Any) -> Task:
    """The task of a study's ``task`` field: "" the built-in task, "imported" scores
    made elsewhere, anything else a user's ``make_train``."""
    if ref == "":
        from jaxstab.builtin.task import BUILTIN

        return BUILTIN
    from jaxstab.usertask import IMPORTED_TASK, USER_TASK

    return IMPORTED_TASK if ref == IMPORTED else USER_TASK
