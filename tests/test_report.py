"""The HTML report: its data model, determinism, a golden page, escaping, the CLI."""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import tomllib
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from jaxstab import stats
from jaxstab.errors import UserError
from jaxstab.report import build, render_study, to_toml, write_report
from jaxstab.report._model import slugs
from jaxstab.store import Store
from jaxstab.study import builtin_names, load_study, study_from_dict
from jaxstab.sweep import RunRecord

NOW = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
GOLDEN = Path(__file__).parent / "golden" / "report_golden-three-rates.html"
ENV = {"jaxstab": "0.0.0-test", "jax": "0.0.0", "jaxlib": "0.0.0", "backend": "cpu",
       "device": "cpu", "platform": "test-platform", "commit": None,
       "matmul_precision": "default"}
_BUILT: dict[str, Path] = {}


# ------------------------------------------------------------------ stores


def _tiny(name: str, **factors) -> object:
    d = load_study(name).to_dict()
    if d["data"]["name"] == "article_uniform":
        d["train"]["epochs"] = 2
        d["data"]["n_samples"] = 64
    if factors:  # a variance-by-source study: the same model, one source at a time
        d.update(name="test/vary", factors=factors, claims=[])
    return study_from_dict(d)


def small_store_path(factory) -> Path:
    """A real sweep, once per test session: two article studies (shrunk) and a study
    that varies one seed source at a time."""
    if "small" not in _BUILT:
        from jaxstab.env import environment
        from jaxstab.sweep import sweep

        path = factory.mktemp("small-store") / "r.sqlite"
        store, env = Store(path), environment()
        for study in (_tiny("article/example2"), _tiny("article/example1"),
                      _tiny("article/example2",
                            vary=[["init"], ["order"], ["data"], ["data", "init", "order"]])):
            fp = store.ensure_study(study)
            sweep(study, seeds=6,
                  on_chunk=lambda recs, sec, fp=fp: store.write_chunk(fp, recs, sec, env))
        store.close()
        _BUILT["small"] = path
    return _BUILT["small"]


def _u(k: int, salt: float) -> float:
    """Deterministic numbers in [-0.5, 0.5): no RNG, so the golden page never moves."""
    return (k * 0.6180339887498949 + salt) % 1.0 - 0.5


def synthetic_store(path: Path, study, seeds: int, *, centers, spreads, diverge=()) -> Path:
    """Write made-up runs for ``study`` (setting i: centers[i] + spreads[i] * noise);
    ``diverge`` lists (setting index, seed) pairs that diverged at step 3."""
    store = Store(path)
    fp = store.ensure_study(study)
    recs = []
    for i, setting in enumerate(study.settings()):
        for k in range(seeds):
            div = (i, k) in diverge
            acc = centers[i] + spreads[i] * _u(k, 0.1 * i)
            loss = 0.7 - 0.3 * (acc - 0.5) + 0.01 * _u(k, 0.37)
            metrics = {study.main_metric: None if div else acc,
                       "train_loss": None if div else loss, "diverged": float(div)}
            curves = {"loss": [loss + 0.1 * (3 - e) for e in range(3)],
                      "accuracy": [acc - 0.02 * (3 - e) for e in range(3)]}
            if div:
                curves = {n: [c[0], float("nan"), float("nan")] for n, c in curves.items()}
            recs.append(RunRecord(setting.key, k, metrics, curves, div, 3 if div else None))
    store.write_chunk(fp, recs, 1.5, ENV)
    store.close()
    return path


def golden_study():
    d = load_study("article/example2").to_dict()
    d.update(name="golden/three-rates", seeds=12,
             description="Three learning rates, made-up numbers for the golden-file test",
             question="Does the learning rate change the mean and the spread of accuracy?",
             factors={"learning_rate": [0.001, 0.01, 0.1]})
    d["claims"] = [
        {"text": "A middle learning rate beats a small one", "metric": "epoch_accuracy",
             "kind": "mean", "direction": "greater", "a": {"learning_rate": 0.01},
             "b": {"learning_rate": 0.001}},
        {"text": "A high learning rate is erratic", "metric": "epoch_accuracy",
             "kind": "spread", "direction": "greater", "a": {"learning_rate": 0.1},
             "b": {"learning_rate": 0.001}},
        {"text": "A high learning rate is worse than a middle one", "metric": "train_loss",
             "kind": "mean", "direction": "greater", "a": {"learning_rate": 0.1},
             "b": {"learning_rate": 0.01}},
    ]
    return study_from_dict(d)


HOSTILE = "<script>alert(1)</script>"


def hostile_study():
    d = load_study("article/example1").to_dict()
    d.update(name=HOSTILE, description='<img src=x onerror="alert(2)"> & "quotes"',
             question="<b>bold?</b> </p><script>alert(3)</script>")
    d["claims"][0]["text"] = "</blockquote><script>alert(4)</script> {{ 7*7 }}"
    return study_from_dict(d)


@pytest.fixture(scope="session")
def small_store(tmp_path_factory):
    return small_store_path(tmp_path_factory)


@pytest.fixture(scope="session")
def small_report(small_store, tmp_path_factory):
    """The small store's report, written once: [index, page, twin, page, twin, ...]."""
    return write_report(small_store, tmp_path_factory.mktemp("small-report"), now=NOW)


@pytest.fixture(scope="session")
def golden_store(tmp_path_factory):
    return synthetic_store(tmp_path_factory.mktemp("golden") / "g.sqlite", golden_study(),
                           12, centers=[0.55, 0.62, 0.58], spreads=[0.04, 0.05, 0.2],
                           diverge={(2, 3), (2, 7)})


def hostile_store_path(factory) -> Path:
    if "hostile" not in _BUILT:
        _BUILT["hostile"] = synthetic_store(factory.mktemp("hostile") / "h.sqlite",
                                            hostile_study(), 8, centers=[0.9, 0.6],
                                            spreads=[0.05, 0.1])
    return _BUILT["hostile"]


@pytest.fixture(scope="session")
def hostile_store(tmp_path_factory):
    return hostile_store_path(tmp_path_factory)


# ------------------------------------------------------------------ the data model


def test_model_holds_what_stats_computes(small_store):
    store = Store(small_store, create=False)
    index, reports = build(store, NOW)
    by_name = {r.name: r for r in reports}
    assert [e.name for e in index.studies] == sorted(by_name) == [
        "article/example1", "article/example2", "test/vary"]
    assert {r.slug for r in reports} == {"article-example1", "article-example2", "test-vary"}
    r = by_name["article/example2"]
    results = store.results(store.latest("article/example2"))
    assert r.seeds == 6 and r.runs == 12 and len(r.settings) == 2 and not r.notes
    assert r.generated == "2025-01-02 03:04:05 UTC"
    for s, raw in zip(r.settings, results.settings):
        want = stats.summarize(raw.metrics["epoch_accuracy"], diverged=raw.diverged, rng=0)
        assert s.summaries["epoch_accuracy"].to_dict() == want.to_dict()
        assert s.label == f"learning_rate={raw.factors['learning_rate']}"
        assert [c.name for c in s.curves] == ["loss", "accuracy"]
        assert all(len(c.median) == 2 for c in s.curves)
    want = stats.verdicts(results, results.study.claims, rng=0)
    assert [v.to_dict() for v in r.verdicts] == [v.to_dict() for v in want]
    assert r.verdicts[0].status in ("holds", "refuted", "inconclusive")
    assert {(p.metric, p.metric_kind) for p in r.pairwise} == {
        ("epoch_accuracy", "mean"), ("epoch_accuracy", "spread")}
    assert [n.kind for n in r.seeds_needed] == ["spread"]
    assert dict(r.environment)["backend"] == "cpu"
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.name = "x"

    vary = by_name["test/vary"]
    shares = [v.share for v in vary.variance if v.share is not None]
    assert len(shares) == 3 and math.isclose(sum(shares), 1.0)
    assert not by_name["article/example1"].variance  # no `vary` factor, no breakdown
    store.close()


def test_slugs_are_file_names():
    got = slugs(["article/example1", "a-b", "a/b", HOSTILE, "index", ".hidden"])
    assert got["article/example1"] == "article-example1"
    assert {got["a-b"], got["a/b"]} == {"a-b", "a-b-2"}
    assert got["index"] != "index" and not got[".hidden"].startswith(".")
    assert all(re.fullmatch(r"[A-Za-z0-9._-]+", s) for s in got.values())


# ------------------------------------------------------------------ files and determinism


def test_write_report_files_and_json_twin(small_report):
    out = small_report[0].parent
    names = [p.name for p in small_report]
    assert names[0] == "index.html"
    for slug in ("article-example1", "article-example2", "test-vary"):
        assert f"{slug}.html" in names and f"{slug}.json" in names
    data = json.loads((out / "article-example2.json").read_text(),
                      parse_constant=lambda c: pytest.fail(f"non-JSON constant {c}"))
    assert data["name"] == "article/example2" and data["generator"]["generated"] == \
        "2025-01-02 03:04:05 UTC"
    for key in ("settings", "verdicts", "pairwise", "environment", "config", "seeds_needed"):
        assert data[key], key
    s = data["settings"][0]
    assert {"n", "mean", "mean_interval", "std_interval", "iqm", "divergence_rate"} <= set(
        s["summaries"]["epoch_accuracy"])
    assert len(s["values"]) == len(s["seeds"]) == 6
    html = (out / "article-example2.html").read_text()
    assert data["verdicts"][0]["status"] in html and data["verdicts"][0]["claim"] in html


def test_output_is_deterministic(small_store, small_report, tmp_path):
    a = small_report
    b = write_report(small_store, tmp_path / "b", now=NOW)
    for pa, pb in zip(a, b):
        assert pa.read_bytes() == pb.read_bytes(), pa.name
    later = write_report(small_store, tmp_path / "c", now=datetime(2030, 1, 1))
    diff = [p.name for p, q in zip(a, later) if p.read_bytes() != q.read_bytes()]
    assert diff and all("2030-01-01 00:00:00 UTC" in q.read_text() for q in later
                        if q.name in diff)


def test_pages_are_self_contained(small_report):
    for page in small_report:
        text = page.read_text()
        if page.suffix != ".html":
            continue
        assert "Content-Security-Policy" in text and "default-src 'none'" in text
        assert not re.search(r"<(script|link|iframe|object|embed)\b", text, re.IGNORECASE)
        # Only the SVG/XLink namespace names look like URLs; nothing is fetched.
        urls = set(re.findall(r"https?://[^\s\"'<>)]+", text))
        assert urls <= {"http://www.w3.org/2000/svg", "http://www.w3.org/1999/xlink"}, urls
        for ref in re.findall(r'(?:href|src)="([^"]*)"', text):
            assert ref.startswith(("data:", "#")) or re.fullmatch(r"[A-Za-z0-9._-]+\.(html|json)",
                                                           ref), ref
        if page.name != "index.html":
            assert text.count("<svg") >= 4 and "@media print" in text


# ------------------------------------------------------------------ golden page


def scrub(html: str) -> str:
    """Drop what legitimately changes between runs and library versions: timestamps,
    the generating jaxstab version, the study fingerprint (it hashes the engine version),
    and matplotlib's SVG (checked by the browser test and the determinism test)."""
    html = re.sub(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC", "<TIMESTAMP>", html)
    html = re.sub(r"\b[0-9a-f]{16}\b", "<FINGERPRINT>", html)
    html = re.sub(r'(content="jaxstab |Generated by jaxstab )[^ "]+', r"\1<VERSION>", html)
    return re.sub(r'<svg\b[^>]*?\bid="([^"]+)".*?</svg>', r'<svg id="\1"><!-- SVG --></svg>',
                  html, flags=re.DOTALL)


def test_golden_page(golden_store):
    store = Store(golden_store, create=False)
    _, reports = build(store, NOW)
    store.close()
    got = scrub(render_study(reports[0]))
    if os.environ.get("JAXSTAB_UPDATE_GOLDEN") == "1":
        GOLDEN.parent.mkdir(exist_ok=True)
        GOLDEN.write_text(got)
    assert GOLDEN.exists(), "run with JAXSTAB_UPDATE_GOLDEN=1 to create the golden file"
    want = GOLDEN.read_text()
    assert got == want, "page changed; if intended, rerun with JAXSTAB_UPDATE_GOLDEN=1 " \
                        "and review the diff of tests/golden/"


def test_golden_page_content(golden_store):
    """What the golden file pins, said in words: verdicts, divergence, figures."""
    store = Store(golden_store, create=False)
    _, (r,) = build(store, NOW)
    store.close()
    assert [v.status for v in r.verdicts] == ["holds", "holds", "inconclusive"]
    assert r.diverged == 2 and r.settings[2].n_diverged == 2
    html = render_study(r)
    assert "16.7%" in html  # 2 of 12 runs of learning_rate=0.1 diverged
    assert "seeds per setting would detect" in html
    for fig in ("seeds", "curves", "pairwise-epoch_accuracy-mean",
                "pairwise-epoch_accuracy-spread", "pairwise-train_loss-mean", "seeds-needed"):
        assert f'id="fig-{fig}"' in html, fig


# ------------------------------------------------------------------ escaping


def test_html_in_study_text_is_escaped(hostile_store, tmp_path):
    paths = write_report(hostile_store, tmp_path, now=NOW)
    slug = "_script_alert_1__-script_"
    assert sorted(p.name for p in paths) == sorted(
        ["index.html", f"{slug}.html", f"{slug}.json"])
    for p in paths:
        text = p.read_text()
        if p.suffix == ".json":
            assert json.loads(text)["name"] == HOSTILE  # data stays data
            continue
        assert "<script" not in text.lower() and "<img" not in text and "<b>" not in text
        assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    page = (tmp_path / f"{slug}.html").read_text()
    assert "&lt;img src=x onerror=&#34;alert(2)&#34;&gt;" in page
    assert "{{ 7*7 }}" in page  # a claim is never a template


def test_study_name_with_html_renders_as_text_in_svg(hostile_store):
    store = Store(hostile_store, create=False)
    _, (r,) = build(store, NOW)
    store.close()
    r = dataclasses.replace(r, settings=tuple(
        dataclasses.replace(s, label=f"{s.label} <b>$x</b>") for s in r.settings))
    html = render_study(r)
    assert "<b>" not in html and "&lt;b&gt;" in html


# ------------------------------------------------------------------ TOML


@pytest.mark.parametrize("name", builtin_names())
def test_configuration_toml_round_trips(name):
    study = load_study(name)
    assert study_from_dict(tomllib.loads(to_toml(study.to_dict()))) == study


def test_toml_strings_round_trip():
    d = hostile_study().to_dict()
    d["description"] = 'tab\there "q" back\\slash\nnew line \x01 é ✓'
    text = to_toml(d)
    assert tomllib.loads(text)["description"] == d["description"]
    assert study_from_dict(tomllib.loads(text)) == study_from_dict(d)


# ------------------------------------------------------------------ CLI


def test_cli_report(small_store, tmp_path, capsys):
    from jaxstab.cli import main

    assert main(["report", "--store", str(small_store), "--out", str(tmp_path / "r")]) == 0
    out = capsys.readouterr().out
    assert "index.html" in out and "3 study pages" in out
    assert (tmp_path / "r" / "article-example1.html").exists()


def test_cli_report_errors(tmp_path, capsys):
    from jaxstab.cli import main

    assert main(["report", "--store", str(tmp_path / "nope.sqlite"),
                 "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.startswith("jaxstab: error: --store: ") and err.count("\n") == 1
    assert not (tmp_path / "out").exists() and not (tmp_path / "nope.sqlite").exists()
    (tmp_path / "file").write_text("x")
    Store(tmp_path / "empty.sqlite").close()
    assert main(["report", "--store", str(tmp_path / "empty.sqlite"),
                 "--out", str(tmp_path / "file")]) == 2
    assert capsys.readouterr().err.startswith("jaxstab: error: --out: ")
    with pytest.raises(UserError, match="^--store: "):
        write_report(tmp_path / "nope.sqlite", tmp_path / "out")


def test_empty_store_gives_an_index(tmp_path):
    Store(tmp_path / "empty.sqlite").close()
    (index,) = write_report(tmp_path / "empty.sqlite", tmp_path / "out", now=NOW)
    assert "holds no studies yet" in index.read_text()


def test_many_seeds_stay_small(tmp_path):
    """Past 2,000 seeds in all the points are one embedded image, not an SVG mark each."""
    study = golden_study()
    d = study.to_dict()
    d.update(factors={"learning_rate": [0.001, 0.01]}, claims=[])
    path = synthetic_store(tmp_path / "big.sqlite", study_from_dict(d), 1_500,
                           centers=[0.5, 0.6], spreads=[0.1, 0.1])
    paths = write_report(path, tmp_path / "out", now=NOW)
    page = next(p for p in paths if p.name.endswith("three-rates.html"))
    assert page.stat().st_size < 300_000
    seeds_svg = re.search(r'<svg[^>]*id="fig-seeds".*?</svg>', page.read_text(), re.DOTALL)
    assert seeds_svg and "<image" in seeds_svg.group(0)
    assert np.isfinite(json.loads(page.with_suffix(".json").read_text())
                       ["settings"][0]["summaries"]["epoch_accuracy"]["mean"])
