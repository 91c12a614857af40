"""The report of a study with a target and claims about curves: the Kaplan-Meier plot
and the mean curve with both bands, in headless Chromium (Debian's `chromium`): no
console error, every figure drawn and non-empty; the verdicts worded for their kind."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

import jaxstab
from jaxstab.report import write_report

HERE = Path(__file__).parent
pytest.importorskip("websocket", reason="websocket-client (test extra) missing")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    root = tmp_path_factory.mktemp("report-targets")
    shutil.copy(HERE / "ttttask.py", root / "ttttask.py")
    (root / "ttt.toml").write_text("""name = "ttt/report"
task = "ttttask:make_train"
seeds = 12
vary = ["init"]
main_metric = "final"

[factors]
speed = [0.3, 0.1]
blowup = [0.0, 0.25]

[[targets]]
curve = "accuracy"
reach = 0.9

[[claims]]
text = "fast reaches 0.9 sooner"
metric = "accuracy"
kind = "time_to_target"
direction = "less"
a = { speed = 0.3, blowup = 0.0 }
b = { speed = 0.1, blowup = 0.0 }

[[claims]]
text = "the curves differ"
metric = "accuracy"
kind = "curve"
direction = "two-sided"
a = { speed = 0.3, blowup = 0.0 }
b = { speed = 0.1, blowup = 0.0 }
""")
    study = jaxstab.load_study(str(root / "ttt.toml"))
    jaxstab.run_study(study, store=root / "r.sqlite")
    out = root / "rep"
    write_report(root / "r.sqlite", out)
    return next(out.glob("ttt-report*.html"))


def test_page_has_km_and_band_figures(page):
    html = page.read_text()
    assert 'id="figure-km-0"' in html and 'id="figure-bands-0"' in html
    assert "Holds: the time to target of accuracy is significantly smaller" in html
    assert "Holds: the mean curve of accuracy differs significantly" in html
    twin = json.loads(page.with_suffix(".json").read_text())
    assert {t["target"] for t in twin["targets"]} == {"accuracy >= 0.9"}
    assert len(twin["bands"]) == 4  # one mean curve per setting


@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")
def test_km_plot_in_headless_chromium(page, tmp_path):
    from test_report_browser import FIGURES_JS, Browser, check_page

    browser = Browser()
    try:
        check_page(browser, page, tmp_path / "page.png")  # no console error, all drawn
        figs = {f["id"]: f for f in json.loads(browser.js(FIGURES_JS))}
        for fid in ("figure-km-0", "figure-bands-0"):
            assert figs[fid]["w"] > 500 and figs[fid]["h"] > 200, figs[fid]
            assert figs[fid]["shapes"] > 20, figs[fid]  # 4 step lines, bands, axes
        steps = browser.js("document.querySelectorAll('#figure-km-0 svg path').length")
        assert steps >= 8  # a band and a line per setting
    finally:
        browser.close()
