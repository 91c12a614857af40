"""The built-in classification task as a ``jaxstab.task.Task``: the ``[data]``,
``[model]`` and ``[train]`` sections, resolved, compiled and checked by the rules of
``config`` and described by ``applies``."""

from __future__ import annotations

import dataclasses
from typing import Any

from jaxstab._check import fail
from jaxstab.builtin import config
from jaxstab.builtin.applies import applicable
from jaxstab.errors import UserError
from jaxstab.task import section_dict


class BuiltinTask:
    sections = config.SECTIONS
    metrics = config.METRICS  # a closed vocabulary: claims are checked against it

    def factor_names(self) -> tuple[str, ...]:
        return config.factor_names()

    def resolve(self, study) -> dict[str, Any]:
        if study.config is not None:
            fail("config", "[config] is for a user's task; give `task = \"module:function\"`")
        return {name: cls() for name, cls in self.sections.items()
                if getattr(study, name) is None}

    def is_float(self, study, name: str, values: tuple) -> bool:
        return name in config.FLOAT_FIELDS

    def setting(self, study, chosen: dict, where: str) -> dict[str, Any]:
        data, model, train = config.resolve(study, chosen, where)
        return {"data": data, "model": model, "train": train}

    def value(self, setting, name: str) -> Any:
        section, field_name = config.factor_target(name)
        return getattr(getattr(setting, section), field_name)

    def hparams(self, setting) -> dict[str, float]:
        return config.hparams(setting)

    def static(self, setting) -> tuple:
        return config.static(setting)

    def host(self, setting) -> bool:
        return setting.data.host

    def program(self, static: tuple):
        from jaxstab.builtin.train import make_program

        return make_program(static)

    def host_sample(self, setting, seeds_by_src: dict) -> dict:
        return config.host_sample(setting, seeds_by_src)

    def check(self, study) -> dict[str, set[str]]:
        recorded, statics = {}, set()
        for s in study.settings():
            recorded[s.key] = config.recorded_metrics(s)
            if s.static not in statics:
                statics.add(s.static)
                config.check_memory(s)
        return recorded

    def describe(self, study) -> dict[str, Any]:
        return {name: section_dict(getattr(study, name)) for name in self.sections}

    def identity(self, study) -> dict[str, Any]:
        # a data file counts by its contents, not by where it lies
        return {**self.describe(study), "data": study.data.identity()}

    def shown(self, study) -> dict[str, Any]:
        return applicable(study)

    def chunk_cap(self, setting) -> None:
        return None  # its curves are one value per epoch: memory_analysis sizes chunks

    def run_error(self, setting, err: Exception) -> None:
        return None  # a failure inside the built-in task is jaxstab's own

    def check_search(self, setting) -> None:
        """The search (``jaxstab.search``) tunes the learning rate and weight decay."""
        from jaxstab.builtin.optim import OPTIMIZERS

        if "weight_decay" not in OPTIMIZERS[setting.train.optimizer][1]:
            raise UserError(f"search: optimizer `{setting.train.optimizer}` has no weight "
                            f"decay; use `adamw`")

    def search_point(self, setting, lr: float, wd: float):
        """``setting`` with the search's learning rate and weight decay."""
        train = dataclasses.replace(setting.train, learning_rate=float(lr),
                                    weight_decay=float(wd))
        factors = dict(setting.factors)
        factors.update(learning_rate=float(lr), weight_decay=float(wd))
        return dataclasses.replace(setting, train=train, factors=tuple(factors.items()))


BUILTIN = BuiltinTask()
