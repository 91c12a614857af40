"""Sequential seed sweeps (``--until-decided``): rounds train only what undecided claims
need, seed k is seed k, a null study never "holds", an interrupted run resumes at the
same look, and compare / the report show sequential verdicts (never fixed-sample ones).
The error rates themselves are calibrated in test_stats_sequential.py."""

import json
import shutil
from pathlib import Path

import pytest

import jaxstab
from jaxstab.errors import UserError
from jaxstab.store import Store
from jaxstab.study import setting_key

HERE = Path(__file__).parent


def key(**factors):
    return setting_key(factors)


def _study(tmp_path, factors: str, claims: str, seeds: int = 8, config: str = "") -> Path:
    shutil.copy(HERE / "seqtask.py", tmp_path / "seqtask.py")
    path = tmp_path / "seq.toml"
    path.write_text(f"""name = "seq/test"
task = "seqtask:make_train"
seeds = {seeds}
vary = ["init"]
main_metric = "score"

[config]
{config}

[factors]
{factors}
{claims}""")
    return path


def _claim(text, a, b, kind="mean", direction="greater"):
    return f"""
[[claims]]
text = "{text}"
metric = "score"
kind = "{kind}"
direction = "{direction}"
a = {a}
b = {b}
"""


def _runs(store, fp):
    res = Store(store, create=False).results(fp)
    return {s.key: len(s.seeds) for s in res.settings}


def test_null_study_never_holds(tmp_path):
    """Two settings that train identically, and two that differ only in the draw: run
    to the maximum, no claim holds."""
    toml = _study(tmp_path, 'tag = ["a", "b"]\nsalt = [1, 2]',
                  _claim("tag a scores higher than tag b", '{ tag = "a", salt = 1 }',
                         '{ tag = "b", salt = 1 }')
                  + _claim("salt 1 scores higher than salt 2", '{ tag = "a", salt = 1 }',
                           '{ tag = "a", salt = 2 }', direction="two-sided")
                  + _claim("salt 1 spreads less than salt 2", '{ tag = "a", salt = 1 }',
                           '{ tag = "a", salt = 2 }', kind="spread", direction="less"))
    store = tmp_path / "r.sqlite"
    rep = jaxstab.run_study(str(toml), store=store, until_decided=True, max_seeds=128)
    seq = rep.studies[0].sequential
    assert seq.schedule[-1] == 128 and seq.decided
    statuses = {v.claim: v.status for v in seq.verdicts}
    assert "holds" not in statuses.values(), statuses
    assert "refuted" not in statuses.values(), statuses
    for v in seq.verdicts:  # each ran to the maximum unless it was stopped as futile
        assert v.status == "futile" or v.seeds_used == 128, v
    looks = Store(store, create=False).looks(rep.studies[0].fingerprint)
    assert [lk["seeds"] for lk in looks] == list(seq.schedule[:seq.looks])


def test_rounds_train_only_what_undecided_claims_need(tmp_path):
    """A large effect holds at the first look; a smaller one needs more looks: only its
    two settings get more seeds, the decided claim's and the unclaimed settings do not."""
    toml = _study(tmp_path, "shift = [0.0, 0.8, 3.0]\nsalt = [1, 2, 3]",
                  _claim("shift helps", "{ shift = 3.0, salt = 1 }",
                         "{ shift = 0.0, salt = 2 }")
                  + _claim("a small shift helps", "{ shift = 0.8, salt = 2 }",
                           "{ shift = 0.0, salt = 3 }"))
    store = tmp_path / "r.sqlite"
    rep = jaxstab.run_study(str(toml), store=store, until_decided=True, max_seeds=128)
    run = rep.studies[0]
    seq = run.sequential
    by = {v.claim: v for v in seq.verdicts}
    first = seq.schedule[0]
    assert by["shift helps"].status == "holds"
    assert by["shift helps"].seeds_used == first
    last = by["a small shift helps"].seeds_used
    assert last > first
    counts = _runs(store, run.fingerprint)
    assert counts[key(shift=3.0, salt=1)] == counts[key(shift=0.0, salt=2)] == first
    assert counts[key(shift=0.8, salt=1)] == first  # in no claim: the first round only
    assert counts[key(shift=0.8, salt=2)] == counts[key(shift=0.0, salt=3)] == last
    assert run.trained == sum(counts.values()) and run.skipped == 0  # each trained once
    # seed k is seed k: the same runs as a fixed design's
    fixed = tmp_path / "fixed.sqlite"
    jaxstab.run_study(str(toml), store=fixed, seeds=last)
    a = jaxstab.results(store, str(toml)).setting(shift=0.8, salt=2)
    b = jaxstab.results(fixed, str(toml)).setting(shift=0.8, salt=2)
    assert (a.metrics["score"] == b.metrics["score"]).all()


def test_interrupted_run_resumes_at_the_same_look(tmp_path):
    toml = _study(tmp_path, "shift = [0.0, 0.8]\nsalt = [1, 2]",
                  _claim("a small shift helps", "{ shift = 0.8, salt = 1 }",
                         "{ shift = 0.0, salt = 2 }"))
    whole, cut = tmp_path / "whole.sqlite", tmp_path / "cut.sqlite"
    ref = jaxstab.run_study(str(toml), store=whole, until_decided=True, max_seeds=64,
                            chunk_size=8)
    asked = []

    def stop():  # stop after the fifth committed chunk (inside the second round)
        asked.append(1)
        return len(asked) == 5

    with pytest.raises(KeyboardInterrupt):
        jaxstab.run_study(str(toml), store=cut, until_decided=True, max_seeds=64,
                          chunk_size=8, should_stop=stop)
    fp = ref.studies[0].fingerprint
    before = sum(_runs(cut, fp).values())
    got = jaxstab.run_study(str(toml), store=cut, until_decided=True, max_seeds=64,
                            chunk_size=8)
    assert got.studies[0].skipped == before  # each stored run counted once
    assert got.studies[0].trained + before == ref.studies[0].trained
    assert Store(whole, create=False).looks(fp) == Store(cut, create=False).looks(fp)
    assert [v.to_dict() for v in ref.studies[0].sequential.verdicts] == \
        [v.to_dict() for v in got.studies[0].sequential.verdicts]
    assert _runs(whole, fp) == _runs(cut, fp)


def test_resume_with_another_schedule_is_refused(tmp_path):
    toml = _study(tmp_path, "salt = [1, 2]",
                  _claim("salt 1 differs", "{ salt = 1 }", "{ salt = 2 }",
                         direction="two-sided"))
    store = tmp_path / "r.sqlite"
    jaxstab.run_study(str(toml), store=store, until_decided=True, max_seeds=32)
    with pytest.raises(UserError, match=r"^--max-seeds: seq/test was run sequentially with "
                                        r"looks at .* seeds in .*; give the same --seeds "
                                        r"and --max-seeds to resume it"):
        jaxstab.run_study(str(toml), store=store, until_decided=True, max_seeds=64)


def test_first_look_is_small_by_default_and_seeds_sets_it(tmp_path, cli):
    """A study's own seeds (64 here) are not the first look: a clear effect is decided
    at 16 seeds; --seeds sets the first look; a --max-seeds below 16 is the only look."""
    from jaxstab.loader import load_study
    from jaxstab.sequential import check

    _study(tmp_path, "shift = [0.0, 3.0]",
           _claim("shift helps", "{ shift = 3.0 }", "{ shift = 0.0 }"), seeds=64)
    study = load_study(str(tmp_path / "seq.toml"))
    assert check(study, None, None) == (16, 32, 64, 128, 256, 512)
    assert check(study, 8, 64) == (8, 16, 32, 64)
    assert check(study, None, 12) == (12,)
    rc, out, err = cli("run", "seq.toml", "--until-decided", "--max-seeds", "64")
    assert rc == 0, err
    assert "looks at 16, 32, 64 seeds per setting" in out
    assert "32 runs trained" in out  # 2 settings x 16 seeds: decided at the first look
    rc, out, err = cli("run", "seq.toml", "--until-decided", "--max-seeds", "64",
                       "--seeds", "8", "--store", "other.sqlite")
    assert rc == 0, err
    assert "looks at 8, 16, 32, 64 seeds per setting" in out


def test_option_errors(tmp_path):
    plain = _study(tmp_path, "salt = [1, 2]", "")
    with pytest.raises(UserError, match=r"^--until-decided: study seq/test has no claims to "
                                        r"decide; run it without --until-decided$"):
        jaxstab.run_study(str(plain), store=tmp_path / "r.sqlite", until_decided=True)
    with pytest.raises(UserError, match=r"^--max-seeds: only with --until-decided"):
        jaxstab.run_study(str(plain), store=tmp_path / "r.sqlite", max_seeds=64)
    assert not (tmp_path / "r.sqlite").exists()  # nothing half-written


def test_cli_compare_and_report_show_sequential_verdicts(tmp_path, cli):
    _study(tmp_path, "shift = [0.0, 2.0]",
           _claim("shift helps", "{ shift = 2.0 }", "{ shift = 0.0 }"))
    rc, out, err = cli("run", "seq.toml", "--until-decided", "--max-seeds", "64")
    assert rc == 0, err
    # the first look is 16 seeds, not the study's own count
    assert "sequential: 1 of 3 looks taken (looks at 16, 32, 64 seeds per setting)" in out
    assert "holds" in out
    rc, out, err = cli("compare", "seq.toml")
    assert rc == 0, err
    assert "Sequential verdicts" in out and "Fixed-sample verdicts are not computed" in out
    rc, out, err = cli("compare", "seq.toml", "--json")
    data = json.loads(out)
    assert data["verdicts"] == []  # no fixed-sample verdict of sequential data
    seq = data["sequential"]
    assert seq["schedule"] == [16, 32, 64] and seq["looks_taken"] == 1
    assert seq["verdicts"][0]["status"] == "holds"
    assert seq["looks"][0]["claims"][0]["decision"] == "holds"
    rc, out, err = cli("report", "--out", "rep")
    assert rc == 0, err
    page = next((tmp_path / "rep").glob("seq*.html")).read_text()
    assert "decided <strong>sequentially</strong>" in page
    assert 'id="fig-sequential"' in page
    index = (tmp_path / "rep" / "index.html").read_text()
    assert "shift helps" in index


def test_a_worker_goes_on_with_the_decision_the_store_kept():
    """Several workers finish a round; the look the store kept (the first committed)
    decides for all, even where a worker's own statistic fell the other way."""
    from jaxstab.sequential import adopt
    from jaxstab.stats import SequentialVerdict

    mine = SequentialVerdict(claim="c", metric="score", kind="mean", direction="greater",
                             status="holds", looks=(), seeds_used=8, setting_a="A",
                             setting_b="B", correction="holm", alpha=0.05, statement="",
                             settings_needed=())
    kept = {"look": 0, "claims": [{"claim": "c", "status": "undecided"}]}
    (v,) = adopt([mine], kept, (8, 16, 32))
    assert (v.status, v.settings_needed, v.next_seeds) == ("undecided", ("A", "B"), 16)
    same = {"look": 0, "claims": [{"claim": "c", "status": "holds"}]}
    assert adopt([mine], same, (8, 16, 32)) == [mine]
    (v,) = adopt([v], {"look": 1, "claims": [{"claim": "c", "status": "futile"}]},
                 (8, 16, 32))
    assert (v.status, v.settings_needed, v.next_seeds) == ("futile", (), 0)
