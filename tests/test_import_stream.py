"""An import holds each score in typed columns, not a dict and a record per run
(issue 26): memory grows with the rows at a small fixed cost per row, so a 1M-row file
imports in about 200 MB (docs/performance.md). Measured with tracemalloc (allocations,
not time), so the load of the machine does not move it."""

import csv
import sqlite3
import tracemalloc

import pytest

from jaxstab.errors import UserError
from jaxstab.importer import import_scores, read_scores

# bytes of peak memory per extra row; the dict-per-run reader took ~700
PER_ROW = 200


def _write(path, n, settings=100, twice_at=None):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["setting", "seed", "metric", "value"])
        for i in range(n):
            w.writerow([f"s{i % settings}", i // settings, "loss", (i * 37 % 101) / 101])
        if twice_at is not None:
            w.writerow([f"s{twice_at % settings}", twice_at // settings, "loss", 0.5])


def _peak(path) -> int:
    tracemalloc.start()
    try:
        points, runs, metrics, _ = read_scores(str(path), "m")
        assert sum(len(r) for r in runs) > 0 and metrics == ["loss"]
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_memory_per_row_is_bounded(tmp_path):
    _write(tmp_path / "a.csv", 20_000)
    _write(tmp_path / "b.csv", 40_000)
    read_scores(str(tmp_path / "a.csv"), "m")  # first-call imports out of the count
    small, large = _peak(tmp_path / "a.csv"), _peak(tmp_path / "b.csv")
    assert large <= 2 * small
    assert (large - small) / 20_000 <= PER_ROW, (small, large)


def test_columns_hold_every_score(tmp_path):
    _write(tmp_path / "a.csv", 1_000, settings=10)
    points, runs, metrics, _ = read_scores(str(tmp_path / "a.csv"), "m")
    (r,) = runs
    assert [p["setting"] for p in points] == [f"s{i}" for i in range(10)]
    got = {(r.keys[s], int(seed)): v for s, seed, v in
           zip(r.setting, r.seeds, r.metrics["loss"])}
    assert got[('{"setting":"s3"}', 7)] == pytest.approx((73 * 37 % 101) / 101)
    assert len(got) == 1_000 and not r.diverged.any()


def test_a_score_given_twice_at_the_end_writes_nothing(tmp_path):
    _write(tmp_path / "a.csv", 5_000, twice_at=1_234)
    with pytest.raises(UserError, match=r"line 5002: loss of setting s34 seed 12 is "
                                         r"given twice"):
        import_scores(str(tmp_path / "a.csv"), "m", store=str(tmp_path / "s.sqlite"))
    assert not (tmp_path / "s.sqlite").exists()
    _write(tmp_path / "b.csv", 5_000)
    study, added = import_scores(str(tmp_path / "b.csv"), "m",
                                 store=str(tmp_path / "s.sqlite"))
    assert added == 5_000 and study.seeds == 50
    with sqlite3.connect(tmp_path / "s.sqlite") as db:
        assert db.execute("SELECT COUNT(*) FROM chunks").fetchone() == (1,)
