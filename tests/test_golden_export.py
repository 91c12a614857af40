"""The built-in studies give the numbers they gave before the task refactor (a copy of
`jaxstab export` of article/example1..3 at 8 seeds saved before it), and scores exported
and imported again get the same comparisons and verdicts."""

import csv
import json
from pathlib import Path

import numpy as np
import pytest

GOLDEN = Path(__file__).parent / "golden" / "article_examples_8seeds.csv"


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    import subprocess
    import sys

    d = tmp_path_factory.mktemp("golden")

    def cli(*args):
        p = subprocess.run([sys.executable, "-m", "jaxstab.cli", *map(str, args)], cwd=d,
                           capture_output=True, text=True, timeout=900)
        assert p.returncode == 0, p.stderr
        return p.stdout

    cli("run", "article/example1", "article/example2", "article/example3", "--seeds", 8)
    cli("export", "--out", "e.csv")
    return d, cli


def _rows(path):
    with open(path) as f:
        return list(csv.DictReader(f))


def test_builtin_examples_give_the_same_numbers_as_before(exported):
    d, _ = exported
    from jaxstab.loader import load_study

    got, want = _rows(d / "e.csv"), _rows(GOLDEN)
    assert len(got) == len(want) == 368
    cols = ("study", "setting", "seed", "metric", "diverged", "diverged_step")
    for g, w in zip(got, want):
        # the fingerprint now includes the study's name (a renamed copy is another
        # study), so it is today's; everything else is as it was
        assert g["fingerprint"] == load_study(g["study"]).fingerprint
        assert {k: g[k] for k in cols} == {k: w[k] for k in cols}
        if w["value"] == "":
            assert g["value"] == ""
        else:
            np.testing.assert_allclose(float(g["value"]), float(w["value"]), rtol=1e-6,
                                       atol=1e-7, err_msg=str(w))


def test_export_then_import_gives_the_same_compare_json(exported):
    d, cli = exported
    toml = Path(__file__).parents[1] / "jaxstab" / "studies" / "article" / "example2.toml"
    cli("import", "e.csv", "--study", "article/example2", "--store", "imp.sqlite",
        "--claims", toml)
    a = json.loads(cli("compare", "article/example2", "--json"))
    b = json.loads(cli("compare", "article/example2", "--json", "--store", "imp.sqlite"))
    for x in (a, b):
        x.pop("fingerprint")
    assert a == b
    # the same scores as a wide file with plain labels: the same verdicts
    rows = [r for r in _rows(d / "e.csv") if r["study"] == "article/example2"
            and r["metric"] == "epoch_accuracy"]
    label = {json.dumps({"learning_rate": 0.0001}, separators=(",", ":")): "low",
             json.dumps({"learning_rate": 0.1}, separators=(",", ":")): "high"}
    with open(d / "wide.csv", "w") as f:
        f.write("setting,seed,epoch_accuracy\n")
        for r in rows:
            f.write(f"{label[r['setting']]},{r['seed']},{r['value']}\n")
    (d / "claims.toml").write_text(
        'main_metric = "epoch_accuracy"\n[[claims]]\ntext = "high is more erratic"\n'
        'metric = "epoch_accuracy"\nkind = "spread"\ndirection = "greater"\n'
        'a = { setting = "high" }\nb = { setting = "low" }\n')
    cli("import", "wide.csv", "--study", "torch/ex2", "--store", "w.sqlite", "--claims",
        "claims.toml")
    c = json.loads(cli("compare", "torch/ex2", "--json", "--store", "w.sqlite"))
    assert c["verdicts"][0]["p_value"] == pytest.approx(a["verdicts"][0]["p_value"])
    assert c["verdicts"][0]["status"] == a["verdicts"][0]["status"]


def test_import_mistakes_are_one_line(cli, tmp_path):
    (tmp_path / "bad.csv").write_text("setting,seed,acc\nA,x,0.5\n")
    rc, _, err = cli("import", "bad.csv", "--study", "s")
    assert rc == 2 and err.strip() == "jaxstab: error: seed: line 2: 'x' is not a number"
    (tmp_path / "bad.csv").write_text("seed,acc\n1,0.5\n")
    rc, _, err = cli("import", "bad.csv", "--study", "s")
    assert rc == 2 and "FILE: no `setting` column" in err
    assert not (tmp_path / "results.sqlite").exists()
