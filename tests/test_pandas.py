"""``results(...).to_pandas()`` (long, wide, curves) and ``jaxstab export --curves``:
the frame and the export hold the same rows, and an export with curves imports."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

import jaxstab

HERE = Path(__file__).parent


def _study(tmp_path) -> Path:
    shutil.copy(HERE / "seqtask.py", tmp_path / "seqtask.py")
    path = tmp_path / "p.toml"
    path.write_text('name = "pd/test"\ntask = "seqtask:make_train"\nseeds = 3\n'
                    'main_metric = "score"\n[factors]\nshift = [0.0, 1.5]\n'
                    'tag = ["a", "b"]\nvary = [["init"], ["init", "order"]]\n')
    return path


def test_to_pandas_round_trips_the_export_with_curves(cli, tmp_path):
    toml = _study(tmp_path)
    rc, _, err = cli("run", toml)
    assert rc == 0, err
    rc, _, err = cli("export", "--curves", "--out", "runs.csv")
    assert rc == 0, err
    export = pd.read_csv(tmp_path / "runs.csv", keep_default_na=False,
                         float_precision="round_trip")
    assert list(export.columns) == ["study", "fingerprint", "setting", "seed", "metric",
                                    "value", "diverged", "diverged_step", "step"]
    res = jaxstab.results(tmp_path / "results.sqlite", str(toml))

    long = res.to_pandas()
    assert list(long.columns[:3]) == ["shift", "tag", "vary"]
    assert len(long) == 8 * 3 * 2  # settings x seeds x metrics (score, diverged)
    metric_rows = export[export["step"] == ""].reset_index(drop=True)
    assert (long["setting"] == metric_rows["setting"]).all()
    assert (long["seed"] == metric_rows["seed"]).all()
    assert (long["metric"] == metric_rows["metric"]).all()
    assert np.array_equal(long["value"], metric_rows["value"].astype(float))
    for _, row in long.iterrows():  # one column per factor, the setting's values
        f = json.loads(row["setting"])
        assert (row["shift"], row["tag"], row["vary"]) == (f["shift"], f["tag"],
                                                            tuple(f["vary"]))

    wide = res.to_pandas(wide=True)
    assert len(wide) == 8 * 3 and {"score", "diverged"} <= set(wide.columns)
    back = long.pivot_table(index=["setting", "seed"], columns="metric", values="value")
    assert np.array_equal(back["score"].to_numpy(),
                          wide.set_index(["setting", "seed"])["score"].to_numpy())
    assert wide.groupby(["shift", "vary"])["score"].count().tolist() == [6, 6, 6, 6]

    curves = res.to_pandas(curves=True)
    curve_rows = export[export["step"] != ""].reset_index(drop=True)
    assert len(curves) == len(curve_rows) == 8 * 3 * 2  # the `loss` curve has 2 steps
    assert (curves["curve"] == curve_rows["metric"]).all()
    assert (curves["step"] == curve_rows["step"].astype(int)).all()
    assert np.array_equal(curves["value"], curve_rows["value"].astype(float))
    assert (curves["seed"] == curve_rows["seed"]).all()

    # an export with curves imports: the curve rows are skipped
    rc, out, err = cli("import", "runs.csv", "--study", "pd/again", "--store", "i.sqlite")
    assert rc == 0, err
    again = jaxstab.results(tmp_path / "i.sqlite", "pd/again").to_pandas(wide=True)
    assert np.array_equal(np.sort(again["score"]), np.sort(wide["score"]))
