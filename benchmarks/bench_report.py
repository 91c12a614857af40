"""Speed of the report (jaxstab.report): building its data from a results store, and
rendering the HTML pages with their figures.

The store holds synthetic results of the article's three examples at 64 seeds per
setting (``_base.fake_runs``): realistic shapes and sizes, no training needed.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime

from ._base import EXAMPLES, fake_store

SEEDS = 64
NOW = datetime(2025, 1, 1, tzinfo=UTC)  # fixed, as for a golden-file report
_KEEP: dict = {}  # per process: asv re-runs setup before every sample


def _store():
    if "store" not in _KEEP:
        import jaxstab.report  # noqa: F401  (imported before anything is timed)

        _KEEP["tmp"] = tempfile.TemporaryDirectory()
        _KEEP["store"] = fake_store(f"{_KEEP['tmp'].name}/report.sqlite", EXAMPLES, SEEDS)
    return _KEEP["store"]


class TimeBuild:
    """``jaxstab.report.build``: read every study from the store and compute what the
    pages show (summaries, verdicts, pairwise comparisons, seeds needed, learning-curve
    bands). Most of it is jaxstab.stats' resampling."""

    timeout = 300.0
    repeat = (2, 5, 30.0)

    def setup(self):
        self.store = _store()

    def time_build(self):
        from jaxstab.report import build

        build(self.store, NOW)


class TimeRender:
    """``render_study`` of each study and ``render_index``, from report data built in
    setup: Jinja2 templates and the matplotlib SVG figures."""

    timeout = 300.0
    repeat = (2, 5, 30.0)

    def setup(self):
        if "built" not in _KEEP:
            from jaxstab.report import build

            _KEEP["built"] = build(_store(), NOW)
        self.index, self.reports = _KEEP["built"]

    def time_render(self):
        from jaxstab.report import render_index, render_study

        for r in self.reports:
            render_study(r)
        render_index(self.index)
