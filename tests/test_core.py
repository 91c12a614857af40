"""The functional core against its references: Keras's Adam, scikit-learn's logistic
regression and metrics, Keras's initializers and L2 penalty."""

import jax
import jax.numpy as jnp
import numpy as np
import optax
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import balanced_accuracy_score, f1_score, roc_auc_score

from jaxstab.builtin.data._synthetic import article_ex1
from jaxstab.builtin.metrics import binary_metrics
from jaxstab.builtin.models import build_model, l2_penalty
from jaxstab.builtin.optim import keras_adam
from jaxstab.builtin.data import DataConfig
from jaxstab.builtin.model_config import ModelConfig
from jaxstab.builtin.optim import TrainConfig
from jaxstab.builtin.train import fit_logistic, make_run


def keras_adam_reference(grads, lr, b1=0.9, b2=0.999, eps=1e-7):
    """Keras's Adam update rule, transcribed from keras/src/optimizers/adam.py."""
    p, m, v, out = 0.0, 0.0, 0.0, []
    for t, g in enumerate(grads, start=1):
        alpha = lr * np.sqrt(1 - b2**t) / (1 - b1**t)
        m += (g - m) * (1 - b1)
        v += (g * g - v) * (1 - b2)
        p -= m * alpha / (np.sqrt(v) + eps)
        out.append(p)
    return np.array(out)


@pytest.mark.parametrize("lr", [1e-4, 0.1])
def test_keras_adam_matches_keras_rule_and_differs_from_optax_adam(lr):
    grads = np.array([1e-6, -2e-6, 3e-7, 1e-6, -5e-7], np.float64)
    want = keras_adam_reference(grads, lr)
    for tx, should_match in ((keras_adam(lr), True), (optax.adam(lr, eps=1e-7), False)):
        p = jnp.zeros(())
        state = tx.init(p)
        got = []
        for g in grads:
            u, state = tx.update(jnp.asarray(g, jnp.float32), state, p)
            p = optax.apply_updates(p, u)
            got.append(float(p))
        close = np.allclose(got, want, rtol=1e-4)
        assert close == should_match


def test_keras_initializers_and_l2():
    model = build_model(ModelConfig(hidden=(64,)), n_classes=2)
    params = model.init(jax.random.PRNGKey(0), jnp.zeros((1, 10)))["params"]
    k0, b0 = params["Dense_0"]["kernel"], params["Dense_0"]["bias"]
    limit = np.sqrt(6 / (10 + 64))  # Glorot-uniform
    assert k0.shape == (10, 64) and float(jnp.abs(k0).max()) <= limit
    assert float(jnp.abs(k0).max()) > 0.9 * limit
    assert np.all(np.asarray(b0) == 0)
    want = float(jnp.sum(k0**2) + jnp.sum(params["Dense_1"]["kernel"] ** 2))
    assert float(l2_penalty({"params": params})) == pytest.approx(want, rel=1e-6)


@pytest.mark.parametrize("resample", ["none", "random_over"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_logistic_coefficients_equal_scikit_learn(resample, seed):
    cfg = DataConfig(name="article_ex1", n_samples=100, n_features=2, test_size=0.2,
                     resample=resample)
    data = article_ex1(cfg, {"data": seed, "split": 42, "resample": 42},
                       {"label_noise": 0.0})
    m = data["m_train"] > 0
    x, y = data["x_train"][m], data["y_train"][m]
    exact = LogisticRegression(tol=1e-12, max_iter=10_000).fit(x, y)
    default = LogisticRegression().fit(x, y)  # the article's call (lbfgs, tol 1e-4)
    theta, _ = jax.jit(fit_logistic, static_argnames=("C", "max_iter"))(
        data["x_train"], data["y_train"], data["m_train"], C=1.0, max_iter=30)
    theta = np.asarray(theta)
    want = np.concatenate([exact.coef_[0], exact.intercept_])
    np.testing.assert_allclose(theta, want, rtol=1e-3, atol=1e-4)
    np.testing.assert_allclose(theta, np.concatenate([default.coef_[0], default.intercept_]),
                               atol=5e-3)
    # and the run's predictions are scikit-learn's
    run = jax.jit(make_run((cfg, ModelConfig(name="logistic"),
                            TrainConfig(optimizer="newton"), (False, False, False))))
    out = run({}, {}, data)
    acc = float(np.mean(exact.predict(data["x_test"]) == data["y_test"]))
    assert float(out["metrics"]["test_accuracy"]) == pytest.approx(acc)


def test_binary_metrics_equal_scikit_learn():
    rng = np.random.default_rng(0)
    # every trial padded to one shape with masked rows (as a sweep's batches are), so
    # one program is compiled, not one per size
    metrics = jax.jit(binary_metrics)
    for trial in range(30):
        n = rng.integers(4, 40)
        y = rng.integers(0, 2, 40).astype(np.float32)
        score = np.round(rng.normal(size=40), 1).astype(np.float32)  # with ties
        m = (rng.random(40) < 0.8).astype(np.float32)
        m[:2], m[n:] = 1, 0
        keep = m > 0
        got = {k: float(v) for k, v in metrics(jnp.asarray(score), jnp.asarray(y),
                                               jnp.asarray(m)).items()}
        yt, pred = y[keep], (score[keep] > 0).astype(float)
        assert got["accuracy"] == pytest.approx(np.mean(yt == pred))
        assert got["f1"] == pytest.approx(f1_score(yt, pred, zero_division=0.0))
        if len(np.unique(yt)) == 2:
            assert got["balanced_accuracy"] == pytest.approx(balanced_accuracy_score(yt, pred))
            assert got["roc_auc"] == pytest.approx(roc_auc_score(yt, score[keep]), abs=1e-6)
        else:
            assert np.isnan(got["roc_auc"])


def test_ex1_recipe_matches_the_article():
    cfg = DataConfig(name="article_ex1", n_samples=100, n_features=2, test_size=0.2,
                     resample="random_over")
    d = article_ex1(cfg, {"data": 5, "split": 42, "resample": 42}, {"label_noise": 0.0})
    assert d["x_test"].shape == (20, 2) and d["m_test"].sum() == 20
    n_tr = int(d["m_train"].sum())
    ytr = d["y_train"][: n_tr]
    # oversampled: classes balanced, 80 training rows before resampling
    assert ytr.sum() * 2 == n_tr and d["y_test"].sum() + (n_tr / 2 - ytr.sum()) >= 0
    # same split as the article's train_test_split(random_state=42)
    from sklearn.model_selection import train_test_split

    y = np.concatenate([np.zeros(90), np.ones(10)])
    _, _, _, y_te = train_test_split(np.zeros((100, 1)), y, test_size=0.2, random_state=42)
    np.testing.assert_array_equal(d["y_test"], y_te)
