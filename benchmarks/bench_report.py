"""Speed of the report (jaxstab.report): building its data from a results store,
rendering the pages with their figures, and ``write_report`` (what ``jaxstab report``
does) on the whole article suite at its default size.

The stores hold synthetic results (``_base.fake_runs``): realistic shapes and sizes, no
training needed.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime

from ._base import EXAMPLES, fake_runs, fake_store, study

SEEDS = 64
NOW = datetime(2025, 1, 1, tzinfo=UTC)  # fixed, as for a golden-file report
_KEEP: dict = {}  # per process: asv re-runs setup before every sample


def _store():
    if "store" not in _KEEP:
        import jaxstab.report  # noqa: F401  (imported before anything is timed)

        _KEEP["tmp"] = tempfile.TemporaryDirectory()
        _KEEP["store"] = fake_store(f"{_KEEP['tmp'].name}/report.sqlite", EXAMPLES, SEEDS)
    return _KEEP["store"]


def article_store(path: str):
    """Every `article/*` study at its own default seed count (what `jaxstab run
    article` trains): 12 studies, 73 settings, 2,224 runs."""
    from jaxstab.store import Store
    from jaxstab.loader import builtin_names

    store = Store(path)
    for k, name in enumerate(n for n in builtin_names() if n.startswith("article/")):
        s = study(name)
        fp = store.ensure_study(s)
        store.write_chunk(fp, fake_runs(s, s.seeds, rng_seed=k), 1.0,
                          {"backend": "synthetic"})
    store.close()
    return path


class TimeBuild:
    """``jaxstab.report.build``: read every study from the store and compute what the
    pages show (summaries, verdicts, rankings, comparisons, seeds needed, learning-curve
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
    setup: Jinja2 templates and the SVG figures."""

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


class TimeReportArticle:
    """``write_report`` of the article suite's store at its default size: every page,
    JSON and CSV file, on all cores (one process per core, as ``jaxstab report``).
    The issue's target: at most 10 s on a 2-core machine."""

    timeout = 600.0
    number = 1
    repeat = (1, 3, 60.0)
    warmup_time = 0.0

    def setup(self):
        if "article" not in _KEEP:
            from jaxstab.report import _render

            _render._environment()  # templates compiled outside the timing, as a warm CLI
            _KEEP["article_tmp"] = tempfile.TemporaryDirectory()
            _KEEP["article"] = article_store(f"{_KEEP['article_tmp'].name}/article.sqlite")
        self.store = _KEEP["article"]
        self.out = f"{_KEEP['article_tmp'].name}/out"

    def time_write_report(self):
        from jaxstab.report import write_report

        write_report(self.store, self.out, now=NOW)
