"""Issue 23, item 7: the report's suite section for a study with strata (aggregate
intervals, probability of improvement, performance profiles, per-task small multiples,
the across-task tests with their questions) and the index showing across-task verdicts
first; the page in headless Chromium."""

from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime

import numpy as np
import pytest

from jaxstab.importer import import_scores
from jaxstab.report import write_report
from jaxstab.store import Store

NOW = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
DATASETS = {"easy": 0.97, "mid": 0.75, "hard": 0.55, "tiny": 0.62}
ALGOS = {"erm": 0.0, "mixup": 0.04, "cutmix": 0.01}
FIGS = ("suite-aggregates", "suite-improvement", "suite-profiles", "suite-tasks")


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """Synthetic scores (no training): 4 datasets x 3 algorithms x 5 seeds, imported as
    a tidy CSV with ``--strata dataset`` and a claim across the datasets."""
    d = tmp_path_factory.mktemp("suite-report")
    rng = np.random.default_rng(11)
    rows = ["dataset,algo,seed,accuracy"]
    for ds, base in DATASETS.items():
        for a, eff in ALGOS.items():
            rows += [f"{ds},{a},{s},{base + eff + rng.normal(0, 0.01)}" for s in range(5)]
    (d / "scores.csv").write_text("\n".join(rows) + "\n")
    (d / "claims.toml").write_text(
        'main_metric = "accuracy"\n[[claims]]\n'
        'text = "mixup beats erm on IQM across datasets"\nmetric = "accuracy"\n'
        'kind = "mean"\ndirection = "greater"\na = { algo = "mixup" }\n'
        'b = { algo = "erm" }\n'
        '[[claims]]\ntext = "mixup beats erm on mid"\nmetric = "accuracy"\n'
        'kind = "mean"\ndirection = "greater"\na = { dataset = "mid", algo = "mixup" }\n'
        'b = { dataset = "mid", algo = "erm" }\n')
    store = Store(str(d / "s.sqlite"))
    import_scores(str(d / "scores.csv"), "torch/suite", store=store,
                  claims_file=str(d / "claims.toml"), strata=["dataset"])
    store.close()
    out = d / "report"
    write_report(d / "s.sqlite", out, now=NOW, jobs=1)
    return out


def _svg(html: str, fig: str) -> str:
    m = re.search(rf'<svg[^>]*id="fig-{fig}".*?</svg>', html, re.S)
    assert m is not None, fig
    return m.group(0)


def test_suite_section_has_every_figure_with_marks(report):
    html = (report / "torch-suite.html").read_text()
    assert '<section id="suite">' in html
    # the section comes before the within-stratum views
    assert html.index('<section id="suite">') < html.index('<section id="settings">')
    agg = _svg(html, "suite-aggregates")
    for st in ("mean", "median", "IQM", "optimality gap"):
        assert f">{st}</text>" in agg, st
    # a point and an interval per setting and statistic: 3 settings x 4 statistics
    assert agg.count("<rect") >= 12 and agg.count('stroke-width="2.5"') == 12
    imp = _svg(html, "suite-improvement")
    for pair in ("algo=erm &gt; algo=mixup", "algo=erm &gt; algo=cutmix",
                 "algo=mixup &gt; algo=cutmix"):
        assert f">P({pair})</text>" in imp, pair
    # an interval (where one exists) and a point per pair
    assert imp.count("<rect") >= 2 and imp.count('stroke-width="2.5"') == 3
    prof = _svg(html, "suite-profiles")
    assert prof.count("<polyline") + prof.count("<path") >= 6  # a line and a band each
    tasks = _svg(html, "suite-tasks")
    for ds in DATASETS:  # each task its own panel (title) and its own y axis
        assert f">dataset={ds}</text>" in tasks, ds
    assert tasks.count(">accuracy</text>") == len(DATASETS)
    # the across-task tests, each with the question it answers beside it
    table = re.search(r'<table class="across-tests">.*?</table>', html, re.S).group(0)
    assert table.count("<tr>") == 1 + 2 * 3  # header + two questions x three pairs
    assert "On these 4 tasks" in table
    data = json.loads((report / "torch-suite.json").read_text())
    got = {(a["setting"], a["statistic"]): a["point"] for a in data["suite"]["aggregates"]}
    for (setting, st), point in got.items():  # the page shows the numbers stats computed
        if st == "iqm":
            assert f"iqm {point:.4g}" in agg, setting


def test_index_lists_across_task_verdicts_first(report):
    html = (report / "index.html").read_text()
    row = re.search(r'<td class="text">\s*<div class="across">.*?</td>', html, re.S)
    assert row is not None
    cell = row.group(0)
    assert cell.index("across datasets") < cell.index("mixup beats erm on mid")
    assert "(across tasks)" in cell


def test_suite_page_in_chromium(report, tmp_path):
    pytest.importorskip("websocket", reason="websocket-client (test extra) missing")
    if shutil.which("chromium") is None and shutil.which("chromium-browser") is None:
        pytest.skip("chromium is not installed")
    from test_report_browser import FIGURES_JS, Browser, check_page

    b = Browser()
    try:
        # both pages: no console error, offline, no sideways scrolling, figures drawn
        check_page(b, report / "index.html", tmp_path / "index.png")
        check_page(b, report / "torch-suite.html", tmp_path / "suite.png")
        print(f"\nsuite screenshots: {tmp_path}")
        figs = {f["id"]: f for f in json.loads(b.js(FIGURES_JS))}
        for fig in FIGS:
            f = next(v for k, v in figs.items() if k.endswith(fig))
            assert f["svg"] and f["w"] > 100 and f["h"] > 50 and f["shapes"] > 5, f
    finally:
        b.close()
