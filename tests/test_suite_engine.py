"""The article suite's engine parts: every registered dataset and model conforms,
multiclass metrics match scikit-learn, the new run metrics mean what they say, resamplers
balance, new study fields are validated, and a copied built-in TOML runs from the CLI."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from conftest import write_toml
from sklearn.metrics import balanced_accuracy_score, f1_score, roc_auc_score

from jaxstab.builtin.data import get_dataset, registered
from jaxstab.errors import UserError
from jaxstab.builtin.metrics import multiclass_metrics
from jaxstab.builtin.models import build_model
from jaxstab.builtin.data import FIXED_DATASETS, DataConfig
from jaxstab.builtin.model_config import MODELS, RECURRENT, ModelConfig
from jaxstab.study import SOURCES
from jaxstab.loader import load_study
from jaxstab.builtin.train import _curve_shape, _dead_share

HP = {"label_noise": 0.0, "imbalance": 1.0, "lag": 0.0}


def _keys(i=0):
    root = jax.random.PRNGKey(0)
    return {s: jax.random.fold_in(jax.random.fold_in(root, j), i) for j, s in enumerate(SOURCES)}


def _seeds(i=0):
    return {s: 1000 * j + i for j, s in enumerate(SOURCES)}


def _cfg(name, **kw):
    base = {"n_samples": 120, "n_features": 12, "test_size": 0.25}
    if name == "article_ex1":
        base["n_features"] = 2
    if name == "file":  # a user's CSV (tests/userpkg), read whole
        from pathlib import Path

        base = {"path": str(Path(__file__).parent / "userpkg" / "data.csv"),
                "target": "label", "test_size": 0.25}
    base.update(kw)
    return DataConfig(name=name, **base)


def _draw(cfg, i=0, hp=HP):
    ds = get_dataset(cfg)
    if ds.host:
        return ds, ds.sample(cfg, _seeds(i), hp)
    out = jax.jit(ds.sample, static_argnums=0)(cfg, _keys(i), hp)
    return ds, jax.tree_util.tree_map(np.asarray, out)


@pytest.mark.parametrize("name", registered())
def test_dataset_conformance(name):
    cfg = _cfg(name)
    ds, d = _draw(cfg)
    k = ds.n_classes
    assert k == (FIXED_DATASETS[name][2] if name in FIXED_DATASETS else 2)
    feats = FIXED_DATASETS[name][1] if name in FIXED_DATASETS else cfg.n_features
    for part, rows in (("train", cfg.n_train), ("test", cfg.n_test)):
        x, y, m = d[f"x_{part}"], d[f"y_{part}"], d[f"m_{part}"]
        assert x.shape == (len(y), feats) and m.shape == y.shape and int(m.sum()) == rows
        assert np.isfinite(x).all()
        assert set(np.unique(y[m > 0])) <= set(range(k))
    # same keys/seeds, same draw; another seed index, another draw
    _, again = _draw(cfg)
    _, other = _draw(cfg, i=1)
    np.testing.assert_array_equal(d["x_train"], again["x_train"])
    assert not np.array_equal(d["x_train"], other["x_train"]) or name == "article_ex1"


@pytest.mark.parametrize("name", ["digits", "long_range", "classification"])
def test_label_noise_flips_to_other_classes_at_the_rate(name):
    cfg = _cfg(name, n_samples=1000 if name != "digits" else 1797, test_size=0.0)
    _, clean = _draw(cfg)
    _, noisy = _draw(cfg, hp={**HP, "label_noise": 0.3})
    real = clean["m_train"] > 0
    flipped = (clean["y_train"] != noisy["y_train"])[real]
    assert 0.25 < flipped.mean() < 0.35
    np.testing.assert_array_equal(clean["x_train"], noisy["x_train"])


@pytest.mark.parametrize("resample", ["random_over", "smote", "random_under"])
def test_resamplers_balance_the_training_split_only(resample):
    cfg = _cfg("classification", n_samples=400, resample=resample)
    ds, d = _draw(cfg, hp={**HP, "imbalance": 9.0})
    assert ds.host
    m, y = d["m_train"], d["y_train"]
    counts = np.bincount(y[m > 0].astype(int), minlength=2)
    assert counts[0] == counts[1]
    test_counts = np.bincount(d["y_test"].astype(int), minlength=2)
    assert test_counts[0] > 4 * test_counts[1]  # the test split keeps the imbalance


def test_imbalance_sets_the_class_ratio():
    cfg = _cfg("classification", n_samples=1000, test_size=0.0)
    for r in (1.0, 19.0):
        _, d = _draw(cfg, hp={**HP, "imbalance": r})
        pos = d["y_train"][d["m_train"] > 0].mean()
        assert abs(pos - 1 / (1 + r)) < 0.02


def test_mnist1d_is_generated_locally_with_the_papers_recipe():
    from jaxstab.builtin.data import _real

    x, y = _real.load("mnist1d")
    assert x.shape == (5000, 40) and np.bincount(y).tolist() == [500] * 10
    assert abs(float(x.mean())) < 1e-3 and abs(float(x.std()) - 1) < 1e-3


@pytest.mark.parametrize("name", MODELS)
def test_model_conformance(name):
    k = 10 if name != "logistic" else 2
    cfg = ModelConfig(name=name, hidden=(8,), head="softmax" if k > 2 else "sigmoid",
                      state_size=4, channels=3)
    model = build_model(cfg, k)
    x = jax.random.normal(jax.random.PRNGKey(1), (5, 16))
    params = model.init(jax.random.PRNGKey(0), x[:1])
    out = model.predict(params, x)
    assert out.shape == (5, k if k > 2 else 1) and bool(jnp.all(jnp.isfinite(out)))
    # written for one seed: a different init key, different parameters
    other = model.init(jax.random.PRNGKey(2), x[:1])
    assert any(not np.allclose(a, b) for a, b in zip(jax.tree_util.tree_leaves(params),
                                                      jax.tree_util.tree_leaves(other)))
    if name in RECURRENT:
        eps = model.module.zeros(5, 16)
        g = jax.grad(lambda e: jnp.sum(model.apply(params, x, {}, None, e) ** 2))(eps)
        assert g.shape == (16, 5, 4) and float(jnp.abs(g[-1]).sum()) > 0


def test_mnist1d_cnn_has_the_papers_shape():
    model = build_model(ModelConfig(name="cnn", head="softmax"), 10)
    params = jax.eval_shape(model.init, jax.random.PRNGKey(0), jnp.zeros((1, 40)))
    # 25 channels x 5 positions after three stride-2 convolutions feed the linear layer
    assert params["params"]["Dense_0"]["kernel"].shape == (125, 10)
    gru = build_model(ModelConfig(name="gru", head="softmax", state_size=6,
                                  bidirectional=True, readout="flatten"), 10)
    p = jax.eval_shape(gru.init, jax.random.PRNGKey(0), jnp.zeros((1, 40)))
    assert p["params"]["Dense_0"]["kernel"].shape == (2 * 6 * 40, 10)


@pytest.mark.parametrize("size,length,cin", [(5, 40, 1), (3, 19, 25), (3, 10, 25),
                                             (4, 9, 3)])
def test_conv1d_equals_flax_conv_with_the_same_parameters(size, length, cin):
    import flax.linen as nn

    from jaxstab.builtin.models import Conv1D

    x = jax.random.normal(jax.random.PRNGKey(0), (7, length, cin))
    ours = Conv1D(25, size)
    ref = nn.Conv(25, (size,), strides=(2,), padding=[(1, 1)])
    params = ours.init(jax.random.PRNGKey(1), x)
    ref_params = ref.init(jax.random.PRNGKey(1), x)
    # same parameter shapes and the same initialization (lecun normal, zero bias)
    assert jax.tree_util.tree_map(jnp.shape, params) == \
        jax.tree_util.tree_map(jnp.shape, ref_params)
    np.testing.assert_array_equal(params["params"]["kernel"],
                                  ref_params["params"]["kernel"])
    np.testing.assert_allclose(ours.apply(params, x), ref.apply(params, x),
                               rtol=1e-5, atol=1e-5)
    g_ours = jax.grad(lambda p: jnp.sum(jnp.sin(ours.apply(p, x))))(params)
    g_ref = jax.grad(lambda p: jnp.sum(jnp.sin(ref.apply(p, x))))(params)
    for a, b in zip(jax.tree_util.tree_leaves(g_ours), jax.tree_util.tree_leaves(g_ref)):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-4)


def test_multiclass_metrics_match_scikit_learn():
    rng = np.random.default_rng(0)
    n, k = 300, 6
    logits = rng.normal(size=(n, k)).astype(np.float32)
    logits[:40] = np.round(logits[:40])  # ties in the scores
    y = rng.integers(0, k, n)
    m = np.ones(n, np.float32)
    m[-50:] = 0
    out = multiclass_metrics(jnp.asarray(logits), jnp.asarray(y, jnp.float32), jnp.asarray(m))
    yy, ll = y[:-50], logits[:-50]
    p = np.exp(ll - ll.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    assert float(out["roc_auc"]) == pytest.approx(roc_auc_score(yy, p, multi_class="ovr"),
                                                  abs=1e-6)
    assert float(out["f1"]) == pytest.approx(f1_score(yy, ll.argmax(1), average="macro"),
                                             abs=1e-6)
    assert float(out["balanced_accuracy"]) == pytest.approx(
        balanced_accuracy_score(yy, ll.argmax(1)), abs=1e-6)
    assert float(out["accuracy"]) == pytest.approx(np.mean(ll.argmax(1) == yy), abs=1e-6)


def test_curve_shape_and_dead_units():
    shape = _curve_shape(jnp.array([1.0, 0.5, 0.7, 0.4, 0.4]))
    assert float(shape["loss_rises"]) == pytest.approx(0.25)
    assert float(shape["loss_variation"]) == pytest.approx(0.5 + 0.2 + 0.3)
    h = jnp.array([[0.0, 1.0, 0.0], [0.0, 0.0, 0.0], [0.0, 0.0, 5.0]])
    # unit 3 is active only on a padding row (mask 0): dead on the real examples
    m = jnp.array([1.0, 1.0, 0.0])
    assert float(_dead_share({"h": (h,)}, m)) == pytest.approx(2 / 3)


@pytest.mark.parametrize("text, message", [
    ({"data": {"name": "digits", "n_samples": 5000}},
     r"data.n_samples: 5000 is more than the 1797 examples of digits"),
    ({"data": {"name": "digits", "imbalance": 4.0}},
     r"data.imbalance: only the `classification` dataset"),
    ({"data": {"name": "digits"}, "model": {"head": "sigmoid"}},
     r"model.head: digits has 10 classes, use `softmax`"),
    ({"model": {"depth": 2}}, r"model.depth: `depth` and `width` go together"),
    ({"model": {"readout": "mean"}}, r"model.readout: unknown value 'mean'"),
    ({"data": {"resample": "smote"}},
     r"data.resample: smote \(imbalanced-learn\) needs a dataset drawn on the host"),
    ({"data": {"resample": "adasyn"}}, r"data.resample: unknown value 'adasyn'"),
    ({"model": {"bidirectional": "yes"}}, r"model.bidirectional: expected true or false"),
    ({"search": {"methods": ["hyperband"]}}, r"search.methods: unknown value 'hyperband'"),
    ({"search": {"learning_rate": [0.1, 0.01]}}, r"search.learning_rate: expected \[low"),
    ({"search": {"trails": 3}}, r"unknown key `trails`; did you mean `trials`\?"),
])
def test_new_fields_are_validated(text, message):
    from jaxstab.loader import study_from_dict

    d = load_study("article/example2").to_dict()
    for section, values in text.items():
        d.setdefault(section, {}).update(values)
    with pytest.raises(UserError, match=message):
        study_from_dict(d)


def test_depth_width_and_model_factors_expand():
    s = load_study("article/architecture")
    hidden = {st.model.hidden for st in s.settings()}
    assert hidden == {(4,), (256,), (4,) * 3, (256,) * 3}
    m = load_study("mnist1d/models")
    assert [st.model.name for st in m.settings()] == ["logistic", "mlp", "cnn", "gru"]


def test_class_weights_are_balanced_and_handlings_share_one_program():
    from jaxstab.builtin.data._host import balanced_weights

    y = np.array([0, 0, 0, 1])
    np.testing.assert_allclose(balanced_weights(y, 2), [4 / 6, 4 / 6, 4 / 6, 2.0])
    cfg = _cfg("classification", n_samples=200, resample="class_weight")
    _, d = _draw(cfg, hp={**HP, "imbalance": 4.0})
    w, y, m = d["w_train"], d["y_train"], d["m_train"]
    # balanced: each class carries half of the total weight
    assert np.sum(w * (y == 1) * m) == pytest.approx(np.sum(w * (y == 0) * m), rel=1e-5)
    study = load_study("article/imbalance")
    assert len({s.static for s in study.settings()}) == 1


def test_a_copied_builtin_toml_runs_from_the_cli(cli, tmp_path):
    from jaxstab.loader import _STUDIES

    text = (_STUDIES / "article" / "label_noise.toml").read_text()
    text = (text.replace('name = "article/label_noise"', 'name = "mine/noise"')
            .replace("seeds = 32", "seeds = 2").replace("epochs = 15", "epochs = 1")
            .replace("n_samples = 1797", "n_samples = 150")
            .replace("label_noise = [0.0, 0.1, 0.2, 0.4]", "label_noise = [0.0, 0.4]"))
    text = text.split("[[claims]]")[0] + "[[claims]]" + text.split("[[claims]]")[1]
    write_toml(tmp_path / "my_study.toml", text)
    rc, out, err = cli("run", "my_study.toml", "--store", "r.sqlite", "--chunk-size", "4")
    assert rc == 0, err
    assert "4 runs" in out
    rc, out, err = cli("compare", "mine/noise", "--store", "r.sqlite")
    assert rc == 0, err
    assert "Mislabelled training data" in out
