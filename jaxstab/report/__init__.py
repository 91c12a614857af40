"""The HTML statistical report: one self-contained page per study, an index, and per
page a JSON twin and a CSV of every run. Report data (``_model``, from jaxstab.stats
through ``_analysis``) is built apart from rendering (``_render``, ``_page``, the SVG
figures of ``_figures`` and ``_gridfigs``); ``_write`` builds studies in parallel and
writes the files.

The public names are re-exported lazily: ``jaxstab.cli`` imports ``report._cli`` for
every command, and scipy and jinja2 (seconds to import) should load only
when a report is made.
"""

from __future__ import annotations

import importlib
import sys
import types
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jaxstab.report._model import IndexEntry as IndexEntry
    from jaxstab.report._model import IndexReport as IndexReport
    from jaxstab.report._model import SettingReport as SettingReport
    from jaxstab.report._model import StudyReport as StudyReport
    from jaxstab.report._model import build as build
    from jaxstab.report._model import build_study as build_study
    from jaxstab.report._render import render_index as render_index
    from jaxstab.report._render import render_study as render_study
    from jaxstab.report._render import study_json as study_json
    from jaxstab.report._config import to_toml as to_toml
    from jaxstab.report._write import write_report as write_report

_WHERE = {
    "IndexEntry": "_model", "IndexReport": "_model", "SettingReport": "_model",
    "StudyReport": "_model", "build": "_model", "build_study": "_model",
    "render_index": "_render", "render_study": "_render", "study_json": "_render",
    "to_toml": "_config", "write_report": "_write",
}
__all__ = ["IndexEntry", "IndexReport", "SettingReport", "StudyReport", "build", "build_study",
           "render_index", "render_study", "study_json", "to_toml", "write_report"]


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f"jaxstab.report.{_WHERE[name]}"), name)
    raise AttributeError(f"module 'jaxstab.report' has no attribute {name!r}")


def __dir__() -> list[str]:
    return list(__all__)


class _CallableModule(types.ModuleType):
    """``jaxstab.report(store, out)`` is the public API's report function, and
    ``jaxstab.report`` is also this package: Python binds a package's name to the
    subpackage once it is imported, whatever the parent exported, so the package
    itself answers the call."""

    def __call__(self, store: Any = "results.sqlite", out: Any = "reports", **kwargs):
        from jaxstab.report._write import write_report

        return write_report(store, out, **kwargs)


sys.modules[__name__].__class__ = _CallableModule
