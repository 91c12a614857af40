"""The user guide's examples (examples/, docs/guide.md) run as a user runs them: a
subprocess per script, at a small size, writing only under --out."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
EXAMPLES = ROOT / "examples"
# a row of the verdicts table, whatever columns come before the verdict
VERDICT = r"\b(HOLDS|REFUTED|INCONCLUSIVE) +"


def _files(folder: Path) -> set[str]:
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


@pytest.fixture
def example(tmp_path):
    """Run examples/NAME --out OUT [args]: (rc, stdout, stderr), checking that nothing
    was written beside the examples."""
    before = _files(EXAMPLES)

    def run(name, out, *args):
        env = dict(os.environ, PYTHONDONTWRITEBYTECODE="1")
        # The checkout's jaxstab, also where an older (editable) install is on the path.
        env["PYTHONPATH"] = os.pathsep.join(
            [str(ROOT)] + [p for p in [env.get("PYTHONPATH")] if p])
        p = subprocess.run([sys.executable, str(EXAMPLES / name), "--out", str(out),
                            *map(str, args)], cwd=tmp_path, capture_output=True,
                           text=True, timeout=600, env=env)
        assert _files(EXAMPLES) == before, "an example wrote into examples/"
        return p.returncode, p.stdout, p.stderr

    return run


def test_own_training_function_runs_compares_reports_and_resumes(example, tmp_path):
    out = tmp_path / "ex1"
    rc, stdout, err = example("own_training_function.py", out, "--seeds", "4")
    assert rc == 0, err
    assert "16 runs trained" in stdout and "(already stored: 0)" in stdout
    rows = re.findall(r"^\{'dropout': (0\.0|0\.1), 'width': (16|128)\}: test MSE",
                      stdout, re.M)
    assert len(rows) == 4
    assert re.search(VERDICT + r"Dropout lowers the wide network's test error", stdout,
                     re.M)
    assert re.search(VERDICT + r"Dropout makes the wide network's test error more "
                     r"consistent", stdout, re.M)
    page = out / "report" / "example-sine_dropout.html"
    assert (out / "report" / "index.html").exists() and page.exists()
    assert "Dropout lowers the wide network" in page.read_text()
    assert sorted(p.name for p in out.iterdir()) == ["report", "results.sqlite"]

    rc, stdout, err = example("own_training_function.py", out, "--seeds", "4")
    assert rc == 0, err
    assert "0 runs trained" in stdout and "(already stored: 16)" in stdout


def test_own_model_on_csv(example, tmp_path):
    out = tmp_path / "ex2"
    rc, stdout, err = example("own_model_on_csv.py", out, "--seeds", "3")
    assert rc == 0, err
    assert re.findall(r"^\{'learning_rate': 0\.0?01\}: test accuracy 0\.\d+ over 3 seeds",
                      stdout, re.M).__len__() == 2
    assert re.search(VERDICT + r"A peak learning rate of 0\.01 gives a higher test "
                     r"accuracy than 0\.001", stdout, re.M)
    assert (out / "data.csv").read_text().startswith("x0,x1,")
    assert 'name = "my_models:ResidualMLP"' in (out / "study.toml").read_text()
    page = out / "report" / "example-residual_mlp_csv.html"
    assert (out / "report" / "index.html").exists() and page.exists()


def test_imported_scores(example, tmp_path):
    out = tmp_path / "ex3"
    rc, stdout, err = example("imported_scores.py", out)
    assert rc == 0, err
    assert "example/pytorch_recipes: 60 runs imported (3 settings)" in stdout
    assert (out / "scores.csv").read_text().startswith("setting,seed,accuracy\n")
    # NumPy's generator with a fixed seed: the same scores, so the same verdicts.
    assert re.search(r"\bHOLDS +Label smoothing raises test accuracy", stdout)
    assert re.search(r"\bHOLDS +Mixup makes test accuracy more consistent", stdout)
    page = out / "report" / "example-pytorch_recipes.html"
    assert "Label smoothing raises test accuracy" in page.read_text()
