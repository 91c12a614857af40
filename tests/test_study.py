import dataclasses

import pytest

from jaxstab.errors import UserError
from jaxstab.study import SOURCES
from jaxstab.loader import builtin_names, expand_refs, load_study, study_from_dict

BASE = """
name = "t/x"
seeds = 3
[data]
name = "article_uniform"
n_samples = 64
[model]
name = "mlp"
hidden = [8]
[train]
optimizer = "adam"
epochs = 1
batch_size = 16
[factors]
learning_rate = [0.001, 0.01]
"""


def load_text(tmp_path, text):
    p = tmp_path / "s.toml"
    p.write_text(text)
    return load_study(str(p))


def test_builtins_load_and_validate():
    names = builtin_names()
    for n in ("article/example1", "article/example2", "article/example3"):
        assert n in names
        s = load_study(n)
        assert s.name == n and s.seeds == 64 and set(s.vary) == {"data", "init", "order"}
        assert len(s.settings()) == 2 and len(s.claims) == 1
    assert [s.name for s in expand_refs(["article"])] == [n for n in names
                                                          if n.startswith("article/")]


def test_grid_expansion_and_static_grouping(tmp_path):
    s = load_text(tmp_path, BASE.replace("[factors]", "[factors]\nbatch_size = [8, 16]"))
    settings = s.settings()
    assert len(settings) == 4
    assert {st.key for st in settings} == {
        '{"batch_size":8,"learning_rate":0.001}', '{"batch_size":8,"learning_rate":0.01}',
        '{"batch_size":16,"learning_rate":0.001}', '{"batch_size":16,"learning_rate":0.01}'}
    # learning rate is continuous (one program), batch size changes shapes (two)
    assert len({st.static for st in settings}) == 2
    assert {st.hparams["learning_rate"] for st in settings} == {0.001, 0.01}


def test_fingerprint_ignores_seed_count_and_prose(tmp_path):
    s = load_text(tmp_path, BASE)
    assert dataclasses.replace(s, seeds=99, description="x").fingerprint == s.fingerprint
    d = s.to_dict()
    d["train"]["epochs"] = 2
    assert study_from_dict(d).fingerprint != s.fingerprint
    assert study_from_dict(s.to_dict()) == s


@pytest.mark.parametrize("edit, message", [
    (("[train]", "[train]\nlerning_rate = 0.1"),
     r"unknown key `lerning_rate`; did you mean `learning_rate`\?"),
    (("[model]", "[modle]"), r"unknown key `modle`; did you mean `model`\?"),
    (("seeds = 3", "seeds = 0"), r"^seeds: 0 is out of range"),
    (("seeds = 3", "seeds = -4"), r"^seeds: -4 is out of range"),
    (("seeds = 3", 'seeds = "many"'), r"^seeds: expected an integer, got 'many'"),
    (("batch_size = 16", "batch_size = 640"),
     r"train.batch_size: 640 is larger than the 64 training examples"),
    (("optimizer = \"adam\"", "optimizer = \"adamm\""),
     r"train.optimizer: unknown value 'adamm', allowed: .*did you mean `adam`\?"),
    (('name = "article_uniform"', 'name = "mnist9"'), r"data.name: unknown value 'mnist9'"),
    (('name = "mlp"', 'name = "transformer"'), r"model.name: unknown value 'transformer'"),
    (("learning_rate = [0.001, 0.01]", "learning_rate = []"),
     r"factors.learning_rate: empty list"),
    (("learning_rate = [0.001, 0.01]", "learning_rate = [0.001, -1.0]"),
     r"factors \(learning_rate=-1.0\): train.learning_rate: -1.0 is out of range"),
    (("learning_rate = [0.001, 0.01]", "learning_rate = 0.1"),
     r"factors.learning_rate: expected a list of values"),
    (("learning_rate = [0.001, 0.01]", "lr = [1]"), r"factors: unknown value 'lr'"),
    (("hidden = [8]", "hidden = [8, 0]"), r"model.hidden\[1\]: 0 is out of range"),
    (("hidden = [8]", 'hidden = "wide"'), r"model.hidden: expected a list of integers"),
    (("n_samples = 64", "n_samples = 64\ntest_size = 1.5"), r"data.test_size: 1.5 is out"),
    (("seeds = 3", "seeds = 3\nvary = [\"weights\"]"), r"vary: unknown value 'weights'"),
    (("seeds = 3", "seeds = 3\nmain_metric = \"acc\""), r"main_metric: unknown value 'acc'"),
    (("epochs = 1", "epochs = 0"), r"train.epochs: 0 is out of range"),
    (("[model]", "[model]\ndropout = 1.0"), r"model.dropout: 1.0 is out of range"),
    (('name = "t/x"', ""), r"missing key `name`"),
    (("[factors]", "[factors]\nlearning_rate = [1]\n"), r"invalid TOML"),
    (('optimizer = "adam"', 'optimizer = "newton"'),
     r"`newton` .* goes with model `logistic`"),
])
def test_invalid_studies_name_the_field(tmp_path, edit, message):
    old, new = edit
    assert old in BASE
    with pytest.raises(UserError, match=message):
        load_text(tmp_path, BASE.replace(old, new, 1))


def test_claims_are_validated(tmp_path):
    claim = ('\n[[claims]]\ntext = "t"\nmetric = "train_accuracy"\nkind = "spread"\n'
             'direction = "less"\na = {learning_rate = 0.01}\nb = {learning_rate = 0.001}\n')
    s = load_text(tmp_path, BASE + claim)
    assert s.claims[0].kind == "spread" and dict(s.claims[0].a) == {"learning_rate": 0.01}
    with pytest.raises(UserError, match=r"claims.kind: unknown value 'variance'"):
        load_text(tmp_path, BASE + claim.replace('"spread"', '"variance"'))
    with pytest.raises(UserError, match=r"claims.a: `l2` is not a factor of this study"):
        load_text(tmp_path, BASE + claim.replace("{learning_rate = 0.01}", "{l2 = 0.1}"))
    with pytest.raises(UserError, match=r"claims\[0\]: missing key `direction`"):
        load_text(tmp_path, BASE + claim.replace('direction = "less"\n', ""))


def test_vary_factor_and_sources(tmp_path):
    s = load_text(tmp_path, BASE.replace("learning_rate = [0.001, 0.01]",
                                         'vary = [["init"], ["order"], ["all"]]'))
    assert [st.vary for st in s.settings()] == [("init",), ("order",), SOURCES]


def test_unknown_study_and_unreadable_file():
    with pytest.raises(UserError, match=r"unknown study `article/exampl2`; did you mean"):
        load_study("article/exampl2")
    with pytest.raises(UserError, match=r"nope.toml: cannot read study file"):
        load_study("nope.toml")
