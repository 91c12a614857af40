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

from conftest import built_once
from jaxstab import stats
from jaxstab.errors import UserError
from jaxstab.report import build, render_study, to_toml, write_report
from jaxstab.builtin.applies import applicable
from jaxstab.stats import value_text
from jaxstab.report._model import slugs
from jaxstab.store import Store
from jaxstab.loader import builtin_names, load_study, study_from_dict
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
    def build(folder):
        from jaxstab.env import environment
        from jaxstab.sweep import sweep

        store, env = Store(folder / "r.sqlite"), environment()
        for study in (_tiny("article/example2"), _tiny("article/example1"),
                      _tiny("article/example2",
                            vary=[["init"], ["order"], ["data"], ["data", "init", "order"]])):
            fp = store.ensure_study(study)
            sweep(study, seeds=6,
                  on_chunk=lambda recs, sec, fp=fp: store.write_chunk(fp, recs, sec, env))
        store.close()

    return built_once(factory, "small-store", build) / "r.sqlite"


def _u(k: int, salt: float) -> float:
    """Deterministic numbers in [-0.5, 0.5): no RNG, so the golden page never moves."""
    return (k * 0.6180339887498949 + salt) % 1.0 - 0.5


def synthetic_store(path: Path, study, seeds: int, *, centers, spreads, diverge=(),
                    extra=()) -> Path:
    """Write made-up runs for ``study`` (setting i: centers[i] + spreads[i] * noise);
    ``diverge`` lists (setting index, seed) pairs that diverged at step 3; ``extra``
    names more metrics, made up the same way."""
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
            for j, name in enumerate(extra):
                if name not in metrics:
                    metrics[name] = None if div else centers[i] + spreads[i] * _u(k, 0.3 + j)
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
        assert s.label == f"learning_rate={value_text(raw.factors['learning_rate'])}"
        assert [c.name for c in s.curves] == ["loss", "accuracy"]
        assert all(len(c.median) == 2 for c in s.curves)
    want = stats.verdicts(results, results.study.claims, rng=0)
    assert [v.to_dict() for v in r.verdicts] == [v.to_dict() for v in want]
    assert r.verdicts[0].status in ("holds", "refuted", "inconclusive")
    assert r.pairwise == ()  # two settings: one comparison, in the ranking and the claims
    want_rank = stats.rank_settings(results, metric="epoch_accuracy", rng=0, n_resamples=1999)
    assert [k.key for k in r.ranking.ranks] == [k.key for k in want_rank.ranks]
    assert [k.tied_with_best for k in r.ranking.ranks] == [
        k.tied_with_best for k in want_rank.ranks]
    assert [n.kind for n in r.seeds_needed] == ["spread"]
    assert dict(r.environment)["backend"] == "cpu"
    with pytest.raises(dataclasses.FrozenInstanceError):
        r.name = "x"

    vary = by_name["test/vary"]
    shares = [v.share for v in vary.variance if v.share is not None]
    assert len(shares) == 3 and math.isclose(sum(shares), 1.0)
    assert {(p.metric, p.metric_kind) for p in vary.pairwise} == {("epoch_accuracy", "mean")}
    vres = store.results(store.latest("test/vary"))
    want_pw = stats.pairwise(vres, metric="epoch_accuracy", rng=0, n_resamples=1999)
    assert [p.p_adjusted for p in vary.pairwise[0].pairs] == [p.p_adjusted
                                                              for p in want_pw.pairs]
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
    for key in ("settings", "verdicts", "ranking", "environment", "config", "seeds_needed",
                "divergence"):
        assert data[key], key
    assert "runs_csv" not in data and "shown_config" not in data  # the CSV has the runs
    s = data["settings"][0]
    assert {"n", "mean", "mean_interval", "std_interval", "iqm", "divergence_rate"} <= set(
        s["summaries"]["epoch_accuracy"])
    assert len(s["values"]) == len(s["seeds"]) == 6
    html = (out / "article-example2.html").read_text()
    assert data["verdicts"][0]["status"] in html and data["verdicts"][0]["claim"] in html
    assert 'href="article-example2.csv"' in html


def test_per_seed_csv_beside_each_page(small_store, small_report):
    """Every run's final value of every metric, in `jaxstab export`'s columns."""
    import csv

    out = small_report[0].parent
    store = Store(small_store, create=False)
    results = store.results(store.latest("article/example2"))
    store.close()
    rows = list(csv.DictReader((out / "article-example2.csv").open()))
    assert list(rows[0]) == ["study", "fingerprint", "setting", "seed", "metric", "value",
                             "diverged", "diverged_step"]
    metrics = sorted(results.settings[0].metrics)
    assert len(rows) == sum(len(s.seeds) for s in results.settings) * len(metrics)
    got = {(r["setting"], int(r["seed"]), r["metric"]): r for r in rows}
    for s in results.settings:
        for i, seed in enumerate(s.seeds):
            for m in metrics:
                r = got[(s.key, int(seed), m)]
                assert r["study"] == "article/example2" and r["fingerprint"] == results.fingerprint
                x = float(s.metrics[m][i])
                assert (r["value"] == "") if not np.isfinite(x) else float(r["value"]) == x
                assert r["diverged"] == str(int(s.diverged[i]))
    index = (out / "index.html").read_text()
    assert 'href="article-example2.csv"' in index


def test_output_is_deterministic(small_store, small_report, tmp_path):
    a = small_report
    b = write_report(small_store, tmp_path / "b", now=NOW)
    for pa, pb in zip(a, b):
        assert pa.read_bytes() == pb.read_bytes(), pa.name
    later = write_report(small_store, tmp_path / "c", now=datetime(2030, 1, 1))
    diff = [p.name for p, q in zip(a, later) if p.read_bytes() != q.read_bytes()]
    assert diff and all("2030-01-01 00:00:00 UTC" in q.read_text() for q in later
                        if q.name in diff)


def test_parallel_pages_are_the_same_bytes(small_store, small_report, tmp_path):
    """Studies built in worker processes (a fresh process has not started JAX, so it
    forks) give the same files as one process."""
    import subprocess
    import sys

    code = ("import datetime, sys; from jaxstab.report import write_report; "
            "from jaxstab.report._write import _jobs; assert _jobs(2, 3) == 2; "
            "write_report(sys.argv[1], sys.argv[2], jobs=2, "
            "now=datetime.datetime.fromisoformat(sys.argv[3]))")
    subprocess.run([sys.executable, "-c", code, str(small_store), str(tmp_path / "p"),
                    NOW.isoformat()], check=True, timeout=600)
    for page in small_report:
        assert (tmp_path / "p" / page.name).read_bytes() == page.read_bytes(), page.name


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
            assert ref.startswith(("data:", "#")) or re.fullmatch(
                r"[A-Za-z0-9._-]+\.(html|json|csv)", ref), ref
        if page.name != "index.html":
            assert text.count("<svg") >= 3 and "@media print" in text


# ------------------------------------------------------------------ golden page


def scrub(html: str) -> str:
    """Drop what legitimately changes between runs and library versions: timestamps,
    the generating jaxstab version, the study fingerprint (it hashes the engine version),
    and the figures' SVG (checked by the browser test, the determinism test and the grid
    tests)."""
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
    # a user's study: its claims are its own, not the article's
    assert "3 claims from the study: 2 holds" in html and "from the article" not in html
    article = dataclasses.replace(r, name="article/learning_rate")
    assert "3 claims from the article: 2 holds" in render_study(article)
    assert "seeds per setting would detect" in html
    # Three settings: the matrix of the main metric's mean, and of its spread (a claim is
    # about it); the claim on train_loss is one comparison, shown by its verdict.
    for fig in ("seeds", "curves", "pairwise-epoch_accuracy-mean",
                "pairwise-epoch_accuracy-spread", "paired-claims", "paired-best",
                "seeds-needed"):
        assert f'id="fig-{fig}"' in html, fig
    assert 'id="fig-pairwise-train_loss-mean"' not in html
    assert r.ranking.ranks[0].key == '{"learning_rate":0.01}'  # the best mean
    curves = re.search(r'<svg[^>]*id="fig-curves".*?</svg>', html, re.S).group(0)
    assert "learning_rate=0.001" in curves and "learning_rate=0.000<" not in curves
    assert "[25.0%" not in html and "16.7%" in html  # divergence rate with its interval
    div = {d.key: d for d in r.divergence}['{"learning_rate":0.1}']
    want = stats.divergence_rate(np.array([k in (3, 7) for k in range(12)]))
    assert (div.diverged, div.low, div.high) == (2, want.low, want.high)


# ------------------------------------------------------------------ escaping


def test_html_in_study_text_is_escaped(hostile_store, tmp_path):
    paths = write_report(hostile_store, tmp_path, now=NOW)
    slug = "_script_alert_1__-script_"
    assert sorted(p.name for p in paths) == sorted(
        ["index.html", f"{slug}.html", f"{slug}.json", f"{slug}.csv"])
    for p in paths:
        text = p.read_text()
        if p.suffix == ".json":
            assert json.loads(text)["name"] == HOSTILE  # data stays data
            continue
        if p.suffix == ".csv":
            assert text.splitlines()[1].startswith(HOSTILE + ",")  # data stays data
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
    """The full dictionary and the page's shorter one (what applies) load to the same
    study: the page's TOML trains the same runs."""
    study = load_study(name)
    assert study_from_dict(tomllib.loads(to_toml(study.to_dict()))) == study
    shown = applicable(study)
    assert study_from_dict(tomllib.loads(to_toml(shown))) == study
    assert study_from_dict(tomllib.loads(to_toml(shown))).fingerprint == study.fingerprint


def test_configuration_shows_only_what_applies():
    d = applicable(load_study("article/example2"))  # an MLP trained with Keras's Adam
    assert "C" not in d["model"] and "max_iter" not in d["train"]
    assert "momentum" not in d["train"] and "weight_decay" not in d["train"]
    assert "learning_rate" not in d["train"]  # a factor sets it in every setting
    assert d["train"]["optimizer"] == "keras_adam" and d["model"]["hidden"] == [128]
    d = applicable(load_study("article/example1"))  # logistic regression, Newton solver
    assert d["model"]["name"] == "logistic" and "C" in d["model"] and "max_iter" in d["train"]
    assert "hidden" not in d["model"] and "batch_size" not in d["train"]
    s = load_study("article/example2").to_dict()
    s["train"]["momentum"] = 0.5  # not read by Adam, but not the default: kept (identity)
    assert applicable(study_from_dict(s))["train"]["momentum"] == 0.5


def test_exact_values_in_labels():
    assert [value_text(v) for v in (1e-4, 3e-4, 0.001, 0.01, 19.0, 0.5, 2.5e-5, 64, "relu",
                                    ["init", "order"], 1234567.0, 0.1 + 0.2)] == [
        "1e-4", "3e-4", "0.001", "0.01", "19", "0.5", "2.5e-5", "64", "relu", "init+order",
        "1.234567e6", "0.30000000000000004"]


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
    assert "index.html" in out and "3 study pages" in out and "CSV" in out
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


# ------------------------------------------------------------------ grid studies

GRID_LR = [1e-4, 3e-4, 1e-3, 3e-3, 1e-2]
GRID_BATCH = [32, 128, 256]
# Mean and spread of accuracy per (learning rate, batch size): batch 256 at 1e-4
# collapses; from 3e-3 on every batch size ties near 0.97 (the sweep).
GRID_CENTERS = [0.90, 0.85, 0.645, 0.94, 0.92, 0.86, 0.96, 0.95, 0.93,
                0.97, 0.971, 0.969, 0.97, 0.968, 0.97]
GRID_SPREADS = [0.02, 0.04, 0.17, 0.01, 0.02, 0.06, 0.01, 0.01, 0.03,
                0.008, 0.008, 0.008, 0.01, 0.01, 0.01]


def grid_study(seeds: int = 16):
    d = load_study("article/batch_size").to_dict()
    d.update(name="grid/lr-batch", seeds=seeds, claims=[],
             description="Learning rate x batch size, made-up numbers (5 x 3 grid)",
             question="Which learning rate and batch size are best, and most consistent?",
             factors={"learning_rate": GRID_LR, "batch_size": GRID_BATCH})
    return study_from_dict(d)


def grid_store_path(factory, seeds: int = 16) -> Path:
    key = f"grid{seeds}"
    if key not in _BUILT:
        study = grid_study(seeds)
        at = [GRID_LR.index(s.value("learning_rate")) * 3 + GRID_BATCH.index(
            s.value("batch_size")) for s in study.settings()]
        diverging = at.index(12)  # lr 1e-2 at batch 32: two runs diverge
        _BUILT[key] = synthetic_store(
            factory.mktemp(key) / "grid.sqlite", study, seeds,
            centers=[GRID_CENTERS[i] for i in at], spreads=[GRID_SPREADS[i] for i in at],
            diverge={(diverging, 1), (diverging, 5)})
    return _BUILT[key]


@pytest.fixture(scope="session")
def grid_report(tmp_path_factory):
    store = Store(grid_store_path(tmp_path_factory), create=False)
    _, (r,) = build(store, NOW)
    store.close()
    return r, render_study(r)


def test_grid_model(grid_report):
    r, _ = grid_report
    factors = {f.name: f for f in r.grid.factors}
    assert sorted(factors) == ["batch_size", "learning_rate"]
    assert factors["learning_rate"].levels == ("1e-4", "3e-4", "0.001", "0.003", "0.01")
    lr_at = [f.name for f in r.grid.factors].index("learning_rate")
    assert r.grid.layout() == (lr_at, 1 - lr_at, ())  # rows: the factor with more levels
    keys = [k.key for k in r.ranking.ranks]
    tied = set(r.tied)
    lr = {s.key: s.factors["learning_rate"] for s in r.settings}
    assert lr[keys[0]] >= 3e-3 and len(tied) >= 3
    assert all(lr[k] >= 1e-3 for k in tied)  # the collapsed and slow settings are out
    assert r.pairwise == ()  # 15 settings: no matrix of 105 pairs
    assert [e.factor for e in r.main_effects] == [f.name for f in r.grid.factors]
    low = r.main_effects[lr_at].levels[0]  # lr 1e-4: the mean over the three batch sizes
    assert low.settings == 3 and low.n == 16
    assert math.isclose(low.mean, np.mean([np.nanmean(s.values) for s in r.settings
                                           if s.coords[lr_at] == 0]), rel_tol=1e-9)
    assert sorted(tuple(sorted(e.factors)) for e in r.factorial.effects) == [
        ("batch_size",), ("batch_size", "learning_rate"), ("learning_rate",)]
    best = [p for p in r.paired if p.what == "best"]
    assert len(best) == 14 and all(p.b_key == keys[0] for p in best)
    div = [d for d in r.divergence if d.diverged]
    assert [(d.diverged, d.n) for d in div] == [(2, 16)]


def test_grid_page_at_a_glance(grid_report):
    r, html = grid_report
    heat = re.search(r'<svg[^>]*id="fig-heatmap".*?</svg>', html, re.S).group(0)
    # 15 cells of means and 15 of stds, each with its interval on hover
    # (labels follow the study's own factor order, as the store keeps it)
    assert len(re.findall(r"<title>[^<]*batch_size=", heat)) == 30
    collapsed = r.setting('{"batch_size":256,"learning_rate":0.0001}')
    m = collapsed.summaries[r.main_metric]
    assert f"mean {m.mean:.4g} [{m.mean_interval.low:.4g}, {m.mean_interval.high:.4g}]" in heat
    assert heat.count('stroke-dasharray="5 3"') == len(r.tied) - 1  # tied cells
    for fig in ("heatmap", "main-effects", "seeds", "curves", "paired-best"):
        assert f'id="fig-{fig}"' in html, fig
    assert 'id="fig-pairwise' not in html and "105 pairs would not be readable" in html
    assert "badge best" in html and html.count('class="badge tied"') == len(r.tied)
    assert r.factorial.method in html and "Factor effects" in html
    # curves: one column per batch size, five settings each, exact rates in the legends
    curves = re.search(r'<svg[^>]*id="fig-curves".*?</svg>', html, re.S).group(0)
    for b in GRID_BATCH:
        assert f"batch_size={b}<" in curves
    assert ">learning_rate=1e-4<" in curves and ">learning_rate=3e-4<" in curves
    assert "learning_rate=0.000" not in curves


def test_grid_page_stays_small_at_64_seeds(tmp_path_factory, tmp_path):
    path = grid_store_path(tmp_path_factory, 64)
    paths = write_report(path, tmp_path, now=NOW)
    page = next(p for p in paths if p.name == "grid-lr-batch.html")
    assert page.stat().st_size <= 300_000, page.stat().st_size


def test_colours_stay_distinct_past_ten_settings(grid_report):
    from jaxstab.report import _page
    from jaxstab.report._svg import COLORS

    assert len(set(COLORS)) == len(COLORS) == 20
    r, _ = grid_report
    groups = _page._groups(r)
    assert [t for t, _, _ in groups] == ["batch_size=32", "batch_size=128", "batch_size=256"]
    assert all(len(m) <= 10 for _, m, _ in groups)
    one = dataclasses.replace(r, grid=dataclasses.replace(r.grid, factors=()))
    assert [len(m) for _, m, _ in _page._groups(one)] == [10, 5]  # no factor: runs of ten


def test_user_task_configuration(tmp_path):
    """A study of a user's task has a [config] and no built-in sections: the page shows
    what the study has."""
    study = load_study(str(Path(__file__).parent / "userpkg" / "task.toml"))
    path = synthetic_store(tmp_path / "u.sqlite", study, 6, centers=[0.8, 0.85, 0.7, 0.9],
                           spreads=[0.02] * 4)
    store = Store(path, create=False)
    _, (r,) = build(store, NOW)
    store.close()
    html = render_study(r)
    toml = re.search(r"<pre><code>(.*?)</code></pre>", html, re.S).group(1)
    assert "[config]" in toml and "[data]" not in toml and "[model]" not in toml
    assert r.baselines == () and r.verdicts[0].status in ("holds", "refuted", "inconclusive")


# ------------------------------------------------------------------ curves: mean and smoothing


def test_curves_mean_with_a_t_interval_and_ema_smoothing():
    """The mean curve's band is the t interval of the seeds finite at each epoch; the
    smoothing is TensorBoard's debiased EMA, run on each seed's curve."""
    import scipy.stats as sst
    from types import SimpleNamespace

    from jaxstab.report._runs import curves, ema

    rng = np.random.default_rng(7)
    c = rng.normal(1.0, 0.3, size=(9, 6)).cumsum(axis=1)
    c[2, 4:] = np.nan  # a run that diverged at epoch 5
    (cv,) = curves(SimpleNamespace(curves={"loss": c}))
    for e in (0, 5):
        x = c[:, e][np.isfinite(c[:, e])]
        iv = sst.t.interval(0.95, x.size - 1, loc=x.mean(), scale=sst.sem(x))
        assert cv.mean[e] == pytest.approx(x.mean())
        assert (cv.low[e], cv.high[e]) == pytest.approx(iv)
    assert cv.median[0] == pytest.approx(np.median(c[:, 0]))
    w = 0.6
    want = np.empty_like(c[0])
    acc = 0.0
    for t, x in enumerate(c[0]):  # the definition, written out
        acc = w * acc + (1 - w) * x
        want[t] = acc / (1 - w ** (t + 1))
    assert ema(c, w)[0] == pytest.approx(want)
    assert np.isnan(ema(c, w)[2, 4:]).all() and np.isfinite(ema(c, w)[2, :4]).all()
    (sm,) = curves(SimpleNamespace(curves={"loss": c}), smoothing=w)
    assert sm.smoothing == w and sm.mean[3] == pytest.approx(ema(c, w)[:, 3].mean())
    assert sm.mean[0] == pytest.approx(cv.mean[0])  # debiased: the first epoch is kept


def test_report_smoothing_option(golden_store, tmp_path, cli):
    paths = write_report(golden_store, tmp_path / "r", now=NOW, smoothing=0.5)
    page = next(p for p in paths if p.name.startswith("golden")).read_text()
    assert 'id="fig-curves-mean"' in page and 'id="fig-curves"' in page
    assert "smoothed first (exponential moving average, weight 0.5, debiased)" in page
    rc, _, err = cli("report", "--store", golden_store, "--out", "x", "--smoothing", "1")
    assert rc == 2 and err.strip() == ("jaxstab: error: --smoothing: 1.0 is out of range, "
                                       "allowed 0 (no smoothing) up to but not including 1")
    assert not (tmp_path / "x").exists()


def test_runs_csv_quotes_text_cells_as_csv_writer_does():
    """The per-seed CSV is joined from cells quoted once per setting (issue 26): a
    reader gets back every text as written, a formula-like one made safe, and an empty
    value where a run diverged."""
    import csv
    import io
    from types import SimpleNamespace as NS

    from jaxstab.report._runs import runs_csv

    s = NS(key='{"x": "a,b"}', seeds=np.array([0, 5]), diverged=np.array([False, True]),
           diverged_step=np.array([-1, 7]),
           metrics={"b,m": np.array([1.5, np.nan]), "-x": np.array([0.25, -0.0])})
    r = NS(study=NS(name='=a "b"\nc'), fingerprint="f0", settings=[s])
    rows = list(csv.reader(io.StringIO(runs_csv(r))))
    assert rows[0] == ["study", "fingerprint", "setting", "seed", "metric", "value",
                       "diverged", "diverged_step"]
    head = ["'=a \"b\"\nc", "f0", '{"x": "a,b"}']
    assert rows[1:] == [head + ["0", "'-x", "0.25", "0", ""],
                        head + ["0", "b,m", "1.5", "0", ""],
                        head + ["5", "'-x", "-0.0", "1", "7"],
                        head + ["5", "b,m", "", "1", "7"]]
