"""The task contract: what the generic layers (study, sweep, store, report) ask of a task,
and the one place that finds the task of a study.

A task says what a setting of a study means and how one run of it trains. Two implement
it: the built-in classification task (``jaxstab.builtin.task``: the ``[data]``,
``[model]``, ``[train]`` sections) and a user's ``make_train`` (``jaxstab.usertask``:
``task = "module:function"`` and ``[config]``); scores imported from elsewhere
(``task = "imported"``) are a user task that is never trained. Every other module
reaches a task through ``jaxstab.tasks.task_of``, never by importing it.
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Protocol

SOURCES = ("init", "order", "dropout", "split", "resample", "data")
IMPORTED = "imported"  # the task of scores brought from elsewhere (jaxstab import)


class Task(Protocol):
    """One task, stateless: every method takes the study or setting it is about."""

    # The study tables this task reads (``[data]``...) and the classes they load into.
    sections: Mapping[str, type]

    def resolve(self, study) -> dict[str, Any]:
        """The study fields this task fills in (defaults of its sections; a user
        function's import path and source hash: part of the study's identity), after
        checking the study's task-specific fields (metric names, factor names)."""

    def is_float(self, study, name: str, values: tuple) -> bool:
        """Whether the factor ``name`` holds floats (``1`` and ``1.0`` one value)."""

    def setting(self, study, chosen: dict, where: str) -> dict[str, Any]:
        """The ``Setting`` fields of the grid point ``chosen`` (factor -> value)."""

    def value(self, setting, name: str) -> Any:
        """The value of the factor or field ``name`` in ``setting``."""

    def hparams(self, setting) -> dict[str, float]:
        """The continuous values: array leaves, vmapped with the seeds."""

    def static(self, setting) -> tuple:
        """What fixes the compiled program; settings with equal statics share one."""

    def host(self, setting) -> bool:
        """Whether a run's data is drawn on the host (``host_sample``)."""

    def program(self, static: tuple) -> tuple[Callable, bool]:
        """``(run(keys, hp, data) -> result, host)``, one per static."""

    def host_sample(self, setting, seeds_by_src: dict) -> dict:
        """One run's host-drawn arrays."""

    def check(self, study) -> dict[str, set[str]]:
        """Every check that can be made before training (the program traced abstractly,
        ``jax.eval_shape``); returns what each setting records, by setting key."""

    def describe(self, study) -> dict[str, Any]:
        """The task's part of ``Study.to_dict()`` (what the TOML holds)."""

    def identity(self, study) -> dict[str, Any]:
        """What of ``describe`` decides the runs' numbers (the study's fingerprint)."""

    def shown(self, study) -> dict[str, Any]:
        """``study.to_dict()`` as a page shows it: only what applies."""

    def chunk_cap(self, setting) -> int | None:
        """Most runs one call may hold for their outputs to fit the memory budget on
        their way to the store (None: no bound from the outputs)."""

    def run_error(self, setting, err: Exception) -> Exception | None:
        """The error to report when training ``setting`` raised ``err``: the user's
        (``TaskError``) when it came from the user's code; None: ``err`` is jaxstab's."""

    def check_search(self, setting) -> None:
        """Whether ``jaxstab.search`` can tune this setting (else a UserError)."""

    def search_point(self, setting, lr: float, wd: float):
        """``setting`` with the search's learning rate and weight decay."""


def section_dict(cfg) -> dict:
    """A section's dataclass as the study's dictionary (and TOML) holds it."""
    import dataclasses

    d = dataclasses.asdict(cfg)
    return {k: (list(v) if isinstance(v, tuple) else dict(v) if isinstance(v, dict) else v)
            for k, v in d.items() if v is not None}
