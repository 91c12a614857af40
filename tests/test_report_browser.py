"""Every page of a small store in headless Chromium (Debian's `chromium`), driven over
the DevTools protocol: no console error, no network request, every figure drawn, the
verdicts visible, nothing wider than a 1280 px window. Screenshots land in a temporary
folder whose path is printed; ``JAXSTAB_UPDATE_SCREENSHOTS=1`` also writes the grid
study page and the article index to docs/img/ (committed, shown in docs/report.md)."""

from __future__ import annotations

import base64
import itertools
import json
import os
import shutil
import socket
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest
from test_report import (NOW, grid_store_path, hostile_store_path, small_store_path,
                         synthetic_store)

from jaxstab.report import write_report

websocket = pytest.importorskip("websocket", reason="websocket-client (test extra) missing")
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed")

FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--window-size=1280,900"]
WIDTH = 1280
DOCS_IMG = Path(__file__).resolve().parent.parent / "docs" / "img"


class Browser:
    """A minimal DevTools-protocol client: one page, its events kept for inspection."""

    def __init__(self):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        self.profile = tempfile.mkdtemp(prefix="jaxstab-chromium-")
        self.proc = subprocess.Popen(
            [CHROMIUM, *FLAGS, f"--user-data-dir={self.profile}",
             f"--remote-debugging-port={port}", "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list",
                                            timeout=2) as r:
                    tabs = json.load(r)
                page = next(t for t in tabs if t["type"] == "page")
                break
            except (OSError, StopIteration, ValueError):
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    self.close()
                    raise RuntimeError("chromium did not open its DevTools port")
                time.sleep(0.2)
        self.ws = websocket.create_connection(page["webSocketDebuggerUrl"], timeout=60,
                                              suppress_origin=True)
        self.ids = itertools.count(1)
        self.events: list[dict] = []
        for domain in ("Page", "Runtime", "Log", "Network"):
            self.call(f"{domain}.enable")

    def _next(self) -> dict:
        return json.loads(self.ws.recv())

    def call(self, method: str, **params) -> dict:
        i = next(self.ids)
        self.ws.send(json.dumps({"id": i, "method": method, "params": params}))
        while True:
            msg = self._next()
            if msg.get("id") == i:
                if "error" in msg:
                    raise RuntimeError(f"{method}: {msg['error']}")
                return msg["result"]
            self.events.append(msg)

    def wait(self, method: str, timeout: float = 60) -> dict:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = self._next()
            self.events.append(msg)
            if msg.get("method") == method:
                return msg
        raise TimeoutError(method)

    def open(self, url: str) -> None:
        self.events.clear()
        self.call("Emulation.setDeviceMetricsOverride", width=WIDTH, height=900,
                  deviceScaleFactor=1, mobile=False)
        self.call("Page.navigate", url=url)
        self.wait("Page.loadEventFired")
        self.call("Runtime.evaluate", expression="1")  # flush events queued by the load

    def js(self, expression: str):
        res = self.call("Runtime.evaluate", expression=expression, returnByValue=True)
        if "exceptionDetails" in res:
            raise RuntimeError(res["exceptionDetails"])
        return res["result"].get("value")

    def screenshot(self, path: Path) -> None:
        shot = self.call("Page.captureScreenshot", format="png", captureBeyondViewport=True)
        path.write_bytes(base64.b64decode(shot["data"]))

    def errors(self) -> list[str]:
        out = []
        for e in self.events:
            m, p = e.get("method"), e.get("params", {})
            if m == "Runtime.consoleAPICalled" and p.get("type") in ("error", "assert"):
                out.append(f"console.{p['type']}: {p.get('args')}")
            elif m == "Runtime.exceptionThrown":
                out.append(f"exception: {p['exceptionDetails'].get('text')}")
            elif m == "Log.entryAdded" and p["entry"]["level"] == "error":
                out.append(f"{p['entry']['source']}: {p['entry']['text']}")
        return out

    def requests(self) -> list[str]:
        return [e["params"]["request"]["url"] for e in self.events
                if e.get("method") == "Network.requestWillBeSent"]

    def close(self) -> None:
        ws = getattr(self, "ws", None)
        if ws is not None:
            ws.close()
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


@pytest.fixture(scope="module")
def browser():
    b = Browser()
    yield b
    b.close()


@pytest.fixture(scope="module")
def pages(tmp_path_factory):
    out = tmp_path_factory.mktemp("browser-report")
    # The same store as tests/test_report.py's, swept once per session.
    write_report(small_store_path(tmp_path_factory), out, now=NOW)
    shots = Path(tempfile.mkdtemp(prefix="jaxstab-report-screenshots-"))
    print(f"\nreport screenshots: {shots}")
    return out, shots


FIGURES_JS = """JSON.stringify([...document.querySelectorAll('figure.figure')].map(f => {
  const s = f.querySelector('svg');
  const b = s ? s.getBoundingClientRect() : null;
  return {id: f.id, svg: !!s, w: b ? b.width : 0, h: b ? b.height : 0,
          shapes: s ? s.querySelectorAll('path, use, image, text').length : 0};
}))"""
VISIBLE_JS = """(() => { const out = [];
  for (const el of document.querySelectorAll('.verdict .badge, table.studies .badge')) {
    const b = el.getBoundingClientRect(), st = getComputedStyle(el);
    out.push({text: el.innerText, visible: b.width > 0 && b.height > 0 &&
              st.visibility !== 'hidden' && st.display !== 'none' && st.opacity !== '0'});
  }
  return JSON.stringify(out); })()"""


# The page wider than the window, or any box that scrolls sideways inside it.
SIDEWAYS_JS = """(() => { const out = [], d = document.documentElement;
  if (d.scrollWidth > d.clientWidth + 1) out.push(`page ${d.scrollWidth} > ${d.clientWidth}`);
  for (const el of document.querySelectorAll('body *')) {
    const r = el.getBoundingClientRect();
    if (r.right > d.clientWidth + 1 && r.width > 0)
      out.push(`${el.tagName}#${el.id}.${el.className} ends at ${Math.round(r.right)}`);
    else if (el.scrollWidth > el.clientWidth + 1 && el.clientWidth > 0 &&
             ['auto', 'scroll'].includes(getComputedStyle(el).overflowX))
      out.push(`${el.tagName}.${el.className} scrolls: ${el.scrollWidth} > ${el.clientWidth}`);
  }
  return JSON.stringify(out.slice(0, 10)); })()"""


def check_page(browser, page: Path, shot: Path) -> None:
    """What every page must do: load offline without error, fit a 1280 px window, and
    draw every figure."""
    browser.open(page.as_uri())
    browser.screenshot(shot)
    assert shot.stat().st_size > 10_000, page.name
    assert browser.errors() == [], page.name
    # The page itself is the one file loaded; the rest are inline data: images.
    assert browser.requests()[0] == page.as_uri()
    others = [u for u in browser.requests()[1:] if not u.startswith("data:")]
    assert others == [], page.name
    assert browser.js("window.innerWidth") == WIDTH
    assert json.loads(browser.js(SIDEWAYS_JS)) == [], page.name
    for f in json.loads(browser.js(FIGURES_JS)):
        assert f["svg"] and f["w"] > 100 and f["h"] > 60 and f["shapes"] > 10, (page.name, f)


def test_every_page_renders_offline(browser, pages):
    out, shots = pages
    html = sorted(out.glob("*.html"))
    assert out / "index.html" in html and len(html) >= 3
    for page in html:
        check_page(browser, page, shots / f"{page.stem}.png")
        assert browser.js("document.title")

        badges = json.loads(browser.js(VISIBLE_JS))
        if page.name == "index.html":
            links = browser.js("[...document.querySelectorAll('td a')].map(a => a.href)")
            assert {Path(u.removeprefix("file://")).name for u in links} == {
                p.name for p in out.iterdir() if p.name != "index.html"}
            assert badges and all(b["visible"] for b in badges)
            continue
        pdf = base64.b64decode(browser.call("Page.printToPDF", printBackground=True)["data"])
        assert pdf.startswith(b"%PDF") and len(pdf) > 20_000, page.name  # printable
        figures = json.loads(browser.js(FIGURES_JS))
        assert len(figures) >= 3, (page.name, figures)
        body = browser.js("document.body.innerText")
        claims = json.loads(page.with_suffix(".json").read_text())["verdicts"]
        if not claims:
            assert "This study states no claims" in body, page.name
            continue
        assert len(badges) == len(claims) and all(b["visible"] for b in badges), page.name
        for v in claims:  # the verdict in words (badge and sentence) and the claim
            assert v["status"].upper() in body and v["claim"] in body, page.name
            assert f"{v['status'].capitalize()}:" in body, page.name


def test_script_in_study_text_never_runs(browser, tmp_path, tmp_path_factory):
    write_report(hostile_store_path(tmp_path_factory), tmp_path, now=NOW)
    for page in sorted(tmp_path.glob("*.html")):
        browser.open(page.as_uri())
        assert browser.errors() == [], page.name
        assert browser.js("document.querySelectorAll('script').length") == 0
        assert "<script>alert(1)</script>" in browser.js("document.body.innerText")


def _article_store(path: Path) -> Path:
    """Made-up runs of every article study (8 seeds): the article suite's index."""
    from jaxstab.loader import builtin_names, load_study

    for name in builtin_names():
        if name.startswith("article/"):
            study = load_study(name)
            k = len(study.settings())
            synthetic_store(path, study, 8, centers=[0.6 + 0.3 * i / k for i in range(k)],
                            spreads=[0.02 + 0.03 * (i % 3) for i in range(k)],
                            extra=[c.metric for c in study.claims])
    return path


def _save_docs_image(shot: Path, name: str) -> None:
    """Copy a screenshot into docs/img/, as a 256-colour PNG where Pillow is there
    (a fifth of the size; text stays sharp)."""
    DOCS_IMG.mkdir(exist_ok=True)
    try:
        from PIL import Image
    except ImportError:
        shutil.copy(shot, DOCS_IMG / name)
        return
    with Image.open(shot) as im:
        im.convert("RGB").quantize(256).save(DOCS_IMG / name, optimize=True)


def test_grid_page_and_article_index(browser, pages, tmp_path, tmp_path_factory):
    """The 5 x 3 grid study page and the article suite's index: the two screenshots of
    docs/report.md, made and checked here."""
    _, shots = pages
    write_report(grid_store_path(tmp_path_factory), tmp_path / "grid", now=NOW)
    write_report(_article_store(tmp_path / "article.sqlite"), tmp_path / "article", now=NOW)
    grid = tmp_path / "grid" / "grid-lr-batch.html"
    index = tmp_path / "article" / "index.html"
    check_page(browser, grid, shots / "grid-study.png")
    ids = [f["id"] for f in json.loads(browser.js(FIGURES_JS))]
    for fig in ("heatmap", "main-effects", "seeds", "curves", "paired-best"):
        assert f"figure-{fig}" in ids, ids
    # the best setting's row and its tied ones are marked in the ranking
    marks = browser.js("[...document.querySelectorAll('table.ranking .badge')]"
                       ".map(b => b.innerText)")
    assert marks[0] == "BEST" and len(marks) >= 3 and set(marks[1:]) == {"TIED"}
    check_page(browser, index, shots / "article-index.png")
    rows = browser.js("document.querySelectorAll('table.studies tbody tr').length")
    from jaxstab.loader import builtin_names

    assert rows == sum(n.startswith("article/") for n in builtin_names())
    if os.environ.get("JAXSTAB_UPDATE_SCREENSHOTS") == "1":
        _save_docs_image(shots / "grid-study.png", "grid-study.png")
        _save_docs_image(shots / "article-index.png", "article-index.png")
    assert (DOCS_IMG / "grid-study.png").exists() and (DOCS_IMG / "article-index.png").exists()
