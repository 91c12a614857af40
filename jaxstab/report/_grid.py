"""The shape of a study's factor grid: which factors vary, their levels in the study's
order, and where each setting sits. Figures lay heatmaps and small multiples out by it."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from jaxstab.stats import value_text


@dataclass(frozen=True)
class Factor:
    name: str
    levels: tuple[str, ...]  # each value written exactly, in the study's order
    values: tuple[Any, ...]


@dataclass(frozen=True)
class Grid:
    """``factors``: the factors with more than one level among the settings that ran;
    ``coords[i]``: the level index of each of them for setting i (report order)."""

    factors: tuple[Factor, ...]
    coords: tuple[tuple[int, ...], ...]

    @property
    def complete(self) -> bool:
        return len(set(self.coords)) == math.prod(len(f.levels) for f in self.factors)

    def layout(self) -> tuple[int, int, tuple[int, ...]] | None:
        """(row factor, column factor, panel factors) for heatmaps of two or more
        factors: rows take the factor with the most levels (a tall grid reads down),
        columns the next; the rest make one panel per combination. None below two."""
        if len(self.factors) < 2:
            return None
        order = sorted(range(len(self.factors)),
                       key=lambda i: (-len(self.factors[i].levels), i))
        rows, cols = order[0], order[1]
        return rows, cols, tuple(i for i in range(len(self.factors)) if i not in (rows, cols))

    def panels(self, panel_factors: tuple[int, ...]) -> list[tuple[str, tuple[int, ...]]]:
        """(title, levels of the panel factors) of each panel that has settings."""
        seen: dict[tuple[int, ...], None] = {}
        for co in sorted(self.coords, key=lambda co: tuple(co[i] for i in panel_factors)):
            seen.setdefault(tuple(co[i] for i in panel_factors), None)
        return [(", ".join(f"{self.factors[i].name}={self.factors[i].levels[v]}"
                           for i, v in zip(panel_factors, key)), key) for key in seen]

    def without(self, i: int, coord: tuple[int, ...]) -> str:
        """The other factors of a setting, as text (``batch_size=256``)."""
        return ", ".join(f"{f.name}={f.levels[coord[j]]}" for j, f in enumerate(self.factors)
                         if j != i)


def _same(a: Any, b: Any) -> bool:
    return json.dumps(a, sort_keys=True, default=str) == json.dumps(b, sort_keys=True,
                                                                     default=str)


def grid_of(study_factors: Any, settings_factors: list[dict]) -> Grid:
    """``study_factors``: the study's ``factors`` (pairs of name and values, or a dict);
    ``settings_factors``: each setting's factor values, in report order."""
    declared = dict(study_factors or ())
    names = list(declared) or list(dict.fromkeys(k for f in settings_factors for k in f))
    factors, columns = [], []
    for name in names:
        values: list[Any] = []
        for v in declared.get(name, ()):
            v = list(v) if isinstance(v, tuple) else v
            if not any(_same(v, u) for u in values):
                values.append(v)
        for f in settings_factors:  # values a setting has that the study did not list
            if name in f and not any(_same(f[name], u) for u in values):
                values.append(f[name])
        present = [u for u in values if any(_same(f.get(name), u) for f in settings_factors)]
        if len(present) < 2:
            continue
        factors.append(Factor(name, tuple(value_text(v) for v in present), tuple(present)))
        columns.append([next(i for i, u in enumerate(present) if _same(f.get(name), u))
                        for f in settings_factors])
    coords = tuple(zip(*columns)) if columns else tuple(() for _ in settings_factors)
    return Grid(tuple(factors), tuple(tuple(c) for c in coords))
