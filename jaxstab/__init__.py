"""jaxstab: train many seeds of every setting at once, and tell real differences from
seed noise. The public API (docs/guide.md):

- ``Study``, ``Claim``, ``Target``, ``load_study``: a study built in code or loaded from TOML / a
  built-in name; a study's ``task`` may be your own ``make_train`` (module:function or a
  Python function) or the built-in classification task; ``Target`` a level a curve
  must reach (time to target, docs/time_to_target.md).
- ``run_study``: what ``jaxstab run`` does (resumable, chunked, stored).
- ``results``: a stored study's runs as NumPy arrays per setting, settings as dicts.
- ``compare``: comparisons and claim verdicts (what ``jaxstab compare`` prints).
- ``report``: the HTML report of a store.
- ``import_scores``: scores made elsewhere into a store.
- ``UserError``: every mistake in what you give (one line, naming the field).

The names are re-exported lazily: the command line imports this package for every
command, and JAX (a second to import) should load only when a study does.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jaxstab.api import compare as compare
    from jaxstab import report as report
    from jaxstab.api import results as results
    from jaxstab.api import run_study as run_study
    from jaxstab.errors import UserError as UserError
    from jaxstab.importer import import_scores as import_scores
    from jaxstab.study import Claim as Claim
    from jaxstab.study import Study as Study
    from jaxstab.study import Target as Target
    from jaxstab.loader import load_study as load_study

# `report` is the jaxstab.report package itself, which is callable (report/__init__.py).
_WHERE = {"compare": "api", "report": "report", "results": "api", "run_study": "api",
          "UserError": "errors", "import_scores": "importer", "Claim": "study",
          "Study": "study", "Target": "study", "load_study": "loader"}
__all__ = sorted(_WHERE)


def __getattr__(name: str) -> Any:
    if name == "report":
        return importlib.import_module("jaxstab.report")
    if name in _WHERE:
        return getattr(importlib.import_module(f"jaxstab.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'jaxstab' has no attribute {name!r}")


def __dir__() -> list[str]:
    return list(__all__)
