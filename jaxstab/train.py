"""One run as a pure function: ``make_run(static)`` does the static setup and returns
``run(keys, hp, data) -> result`` whose whole training is one ``lax.scan``.

``keys``: one PRNG key per seed source; ``hp``: the continuous hyperparameters (scalars,
traced); ``data``: one run's arrays (see ``jaxstab.data``). ``result`` holds the final
metrics, per-epoch curves and the divergence flag and step. Nothing here knows about
seeds or vmap: the sweep adds that axis.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import optax

from jaxstab.metrics import binary_metrics, correct, scores_and_loss
from jaxstab.models import build_model, l2_penalty
from jaxstab.optim import make_optimizer


def _tree_where(cond, new, old):
    return jax.tree_util.tree_map(lambda a, b: jnp.where(cond, a, b), new, old)


def _all_finite(tree) -> jnp.ndarray:
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in jax.tree_util.tree_leaves(tree)]))


def _evaluate(apply, params, data: dict) -> dict:
    """End-of-training evaluation: mean cross-entropy (without the L2 penalty) and
    accuracy on the training split, plus scikit-learn's metrics on the test split."""
    out = {}
    parts = [("train", "train")] + ([("test", "test")] if "x_test" in data else [])
    for part, prefix in parts:
        x, y, m = data[f"x_{part}"], data[f"y_{part}"], data[f"m_{part}"]
        score, per = scores_and_loss(apply(params, x), y)
        mets = binary_metrics(score, y, m)
        out[f"{prefix}_loss"] = jnp.sum(m * per) / jnp.sum(m)
        out[f"{prefix}_accuracy"] = mets["accuracy"]
        if part == "test":
            for name in ("balanced_accuracy", "f1", "roc_auc"):
                out[name] = mets[name]
    return out


@functools.lru_cache(maxsize=None)
def make_run(static: tuple):
    """``static`` is ``Setting.static``: (data, model, train configs, flags)."""
    data_cfg, model_cfg, train_cfg, (use_dropout, _) = static
    model = build_model(model_cfg, n_classes=2)
    if train_cfg.optimizer == "newton":
        return _make_newton_run(model, model_cfg, train_cfg)
    batch, epochs = train_cfg.batch_size, train_cfg.epochs

    def run(keys: dict, hp: dict, data: dict) -> dict:
        x, y, m = data["x_train"], data["y_train"], data["m_train"]
        n_rows = x.shape[0]
        steps = math.ceil(n_rows / batch)
        n_valid = jnp.sum(m)
        params = model.init(keys["init"], x[:1])
        tx = make_optimizer(train_cfg, hp)

        def loss_fn(p, xb, yb, wb, dkey):
            logits = (model.apply(p, xb, hp["dropout"], dkey) if use_dropout
                      else model.apply(p, xb))
            score, per = scores_and_loss(logits, yb)
            data_loss = jnp.sum(wb * per) / jnp.maximum(jnp.sum(wb), 1.0)
            # Keras adds c·Σw² per regularized kernel to the loss it minimizes and logs.
            return data_loss + hp["l2"] * l2_penalty(p), score

        def step(carry, inp):
            params, opt_state, div, div_step, t = carry
            idx, valid = inp
            xb, yb = x[idx], y[idx]
            wb = valid * m[idx]
            dkey = jax.random.fold_in(keys["dropout"], t) if use_dropout else None
            (loss, score), grads = jax.value_and_grad(loss_fn, has_aux=True)(
                params, xb, yb, wb, dkey)
            updates, new_state = tx.update(grads, opt_state, params)
            new_params = optax.apply_updates(params, updates)
            nb = jnp.sum(wb)
            active = (nb > 0) & ~div
            ok = jnp.isfinite(loss) & _all_finite(new_params)
            # A blown-up run keeps its last finite parameters and stops updating: the
            # divergence is recorded, never raised, and other runs are unaffected.
            take = active & ok
            params = _tree_where(take, new_params, params)
            opt_state = _tree_where(take, new_state, opt_state)
            newly = active & ~ok
            div_step = jnp.where(newly, t, div_step)
            stats = (jnp.where(take, loss * nb, 0.0),
                     jnp.where(take, jnp.sum(wb * correct(score, yb)), 0.0),
                     jnp.where(take, nb, 0.0))
            return (params, opt_state, div | newly, div_step, t + (nb > 0)), stats

        def epoch(carry, e):
            r = jax.random.uniform(jax.random.fold_in(keys["order"], e), (n_rows,))
            # A fresh uniform shuffle of the real rows each epoch (Keras's shuffle=True);
            # padding rows sort last and the last partial batch is kept, as in Keras.
            perm = jnp.argsort(jnp.where(m > 0, r, 2.0))
            pad = steps * batch - n_rows
            idx = jnp.concatenate([perm, jnp.zeros(pad, perm.dtype)]).reshape(steps, batch)
            valid = (jnp.arange(steps * batch) < n_valid).astype(jnp.float32)
            carry, (ls, cs, ns) = jax.lax.scan(step, carry, (idx, valid.reshape(steps, batch)))
            n = jnp.maximum(jnp.sum(ns), 1.0)
            # Keras's history reports the running mean over the epoch's batches,
            # weighted by batch size, computed before each batch's update.
            return carry, (jnp.sum(ls) / n, jnp.sum(cs) / n)

        init = (params, tx.init(params), jnp.array(False), jnp.array(-1, jnp.int32),
                jnp.array(0, jnp.int32))
        (params, _, div, div_step, _), (loss_curve, acc_curve) = jax.lax.scan(
            epoch, init, jnp.arange(epochs))
        metrics = _evaluate(model.apply, params, data)
        metrics["epoch_accuracy"] = acc_curve[-1]
        return {"metrics": metrics, "curves": {"loss": loss_curve, "accuracy": acc_curve},
                "diverged": div, "diverged_step": div_step}

    return run


def fit_logistic(x, y, m, *, C: float, max_iter: int):
    """scikit-learn's default ``LogisticRegression()`` objective, ½‖w‖² + C·Σ m·log-loss
    (intercept not penalized), minimized by damped Newton steps in one ``lax.scan``.
    Returns ``(theta, nll_curve)`` with ``theta = [w..., b]``. scikit-learn's lbfgs is
    NumPy-only; Newton reaches the same optimum in a few steps on these small convex
    problems. A test compares the coefficients with scikit-learn's.
    """
    d = x.shape[1]
    x1 = jnp.concatenate([x, jnp.ones((x.shape[0], 1), x.dtype)], axis=1)
    pen = jnp.concatenate([jnp.ones(d), jnp.zeros(1)])

    def objective(theta):  # theta: (..., d+1)
        z = theta @ x1.T
        nll = jnp.sum(m * optax.sigmoid_binary_cross_entropy(z, y), axis=-1)
        return 0.5 * jnp.sum(pen * theta**2, axis=-1) + C * nll, nll / jnp.sum(m)

    def newton(theta, _):
        p = jax.nn.sigmoid(x1 @ theta)
        grad = pen * theta + C * x1.T @ (m * (p - y))
        hess = jnp.diag(pen) + C * (x1.T * (m * p * (1 - p))) @ x1
        delta = jnp.linalg.solve(hess, grad)
        cands = theta - (0.5 ** jnp.arange(10.0))[:, None] * delta
        vals, nll = objective(cands)
        f0, nll0 = objective(theta)
        # Backtracking: the longest step that does not raise the objective beyond
        # float32 noise. Near the optimum that is the full Newton step, which keeps
        # converging where comparing values alone would stall on rounding.
        ok = jnp.isfinite(vals) & (vals <= f0 + 1e-6 * (1.0 + jnp.abs(f0)))
        first = jnp.argmax(ok)
        return jnp.where(ok[first], cands[first], theta), jnp.where(ok[first], nll[first], nll0)

    return jax.lax.scan(newton, jnp.zeros(d + 1), None, length=max_iter)


def _make_newton_run(model, model_cfg, train_cfg):
    def run(keys: dict, hp: dict, data: dict) -> dict:
        del keys, hp  # the objective is convex and the solver deterministic
        x, y, m = data["x_train"], data["y_train"], data["m_train"]
        theta, loss_curve = fit_logistic(x, y, m, C=model_cfg.C, max_iter=train_cfg.max_iter)
        d = x.shape[1]
        params = {"params": {"Dense_0": {"kernel": theta[:d, None], "bias": theta[d:]}}}
        metrics = _evaluate(model.apply, params, data)
        ok = jnp.all(jnp.isfinite(theta))
        return {"metrics": metrics, "curves": {"loss": loss_curve},
                "diverged": ~ok, "diverged_step": jnp.where(ok, -1, 0).astype(jnp.int32)}

    return run
