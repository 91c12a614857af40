"""One run as a pure function: ``make_run(static)`` does the static setup and returns
``run(keys, hp, data) -> result`` whose whole training is one ``lax.scan``.

``keys``: one PRNG key per seed source; ``hp``: the continuous hyperparameters (scalars,
traced); ``data``: one run's arrays (see ``jaxstab.builtin.data``). ``result`` holds the final
metrics, per-epoch curves and the divergence flag and step. Nothing here knows about
seeds or vmap: the sweep adds that axis.
"""

from __future__ import annotations

import functools
import math

import jax
import jax.numpy as jnp
import optax

from jaxstab._linalg import spd_solve
from jaxstab.builtin.data import get_dataset, signal_step
from jaxstab.builtin.metrics import (binary_metrics, correct, multiclass_loss, multiclass_metrics,
                             scores_and_loss)
from jaxstab.builtin.models import build_model, l2_penalty
from jaxstab.builtin.optim import make_optimizer


def _tree_where(cond, new, old):
    return jax.tree_util.tree_map(lambda a, b: jnp.where(cond, a, b), new, old)


def _evaluate(model, params, data: dict, *, multiclass: bool = False
              ) -> tuple[dict, dict]:
    """End-of-training evaluation: mean cross-entropy (without the L2 penalty) and
    accuracy on the training split, plus scikit-learn's metrics on the test split, the
    train-test accuracy gap and, for ReLU networks, the share of dead units; and, per
    test example, whether it was classified correctly (``test_correct``: the seed-to-
    seed test-set noise of Jordan 2023 needs it, see jaxstab.stats.noise_baseline)."""
    out, per_example = {}, {}
    parts = [("train", "train")] + ([("test", "test")] if "x_test" in data else [])
    for part, prefix in parts:
        x, y, m = data[f"x_{part}"], data[f"y_{part}"], data[f"m_{part}"]
        if model.dead_units and part == "train":
            logits, state = model.module.apply(params, x, mutable=["intermediates"])
            out["dead_relu"] = _dead_share(state["intermediates"], m)
        else:
            logits = model.predict(params, x)
        if multiclass:
            per, hit = multiclass_loss(logits, y)
            mets = multiclass_metrics(logits, y, m)
        else:
            score, per = scores_and_loss(logits, y)
            hit = correct(score, y)
            mets = binary_metrics(score, y, m)
        out[f"{prefix}_loss"] = jnp.sum(m * per) / jnp.sum(m)
        out[f"{prefix}_accuracy"] = mets["accuracy"]
        if part == "test":
            for name in ("balanced_accuracy", "f1", "roc_auc"):
                out[name] = mets[name]
            per_example["test_correct"] = hit.astype(jnp.float32)
    if "test_accuracy" in out:
        out["train_test_gap"] = out["train_accuracy"] - out["test_accuracy"]
    return out, per_example


def _dead_share(intermediates, m) -> jnp.ndarray:
    """Share of hidden ReLU units that output 0 on every real training example: a dead
    unit gets no gradient, so it stays dead."""
    dead, total = 0.0, 0
    for h in jax.tree_util.tree_leaves(intermediates):
        mask = m.reshape((-1,) + (1,) * (h.ndim - 1))
        alive = jnp.any((h > 0) & (mask > 0), axis=0)
        dead = dead + jnp.sum(~alive)
        total += alive.size
    return dead / total


def _curve_shape(loss_curve) -> dict:
    """How erratic the epoch-loss curve is: the share of epochs whose loss rose over the
    previous epoch, and its total variation Σ|Δloss| (NaN / 0 with a single epoch)."""
    diff = jnp.diff(loss_curve)
    rises = (jnp.mean((diff > 0).astype(jnp.float32)) if diff.size
             else jnp.array(jnp.nan, jnp.float32))
    return {"loss_rises": rises, "loss_variation": jnp.sum(jnp.abs(diff))}


@functools.lru_cache(maxsize=None)
def make_run(static: tuple):
    """``static`` is ``Setting.static``: (data, model, train configs, flags)."""
    data_cfg, model_cfg, train_cfg, (use_dropout, _, use_l2, *swept) = static
    swept = ("learning_rate",) + (swept[0] if swept else ())
    n_classes = get_dataset(data_cfg).n_classes
    model = build_model(model_cfg, n_classes=n_classes, dropout=use_dropout)
    if train_cfg.optimizer == "newton":
        return _make_newton_run(model, model_cfg, train_cfg)
    batch, epochs = train_cfg.batch_size, train_cfg.epochs
    padded = get_dataset(data_cfg).host
    multiclass = model_cfg.head == "softmax" and n_classes > 2
    recurrent = model.recurrent
    weighted = data_cfg.resample == "class_weight"

    def fit(logits, y):
        """Per-example loss and correctness (Keras's BinaryAccuracy: p > 0.5)."""
        if multiclass:
            return multiclass_loss(logits, y)
        score, per = scores_and_loss(logits, y)
        return per, correct(score, y)

    def run(keys: dict, hp: dict, data: dict) -> dict:
        x, y, m = data["x_train"], data["y_train"], data["m_train"]
        n_rows = x.shape[0]
        steps = math.ceil(n_rows / batch)
        n_valid = jnp.sum(m)
        params = model.init(keys["init"], x[:1])
        tx = make_optimizer(train_cfg, hp, total_steps=epochs * steps, swept=swept)
        # "Early" is the step holding the label's evidence: the first one, or `lag`
        # steps before the end (long_range).
        early_step = signal_step(x.shape[1], hp["lag"]) if recurrent else 0
        if weighted:
            # scikit-learn's class_weight="balanced": n / (classes present x n_c).
            counts = jnp.sum(m[:, None] * (y[:, None] == jnp.arange(n_classes)), axis=0)
            present = jnp.sum(counts > 0)
            class_w = jnp.where(counts > 0, n_valid / (present * jnp.maximum(counts, 1)), 0.0)

        def loss_fn(p, eps, xb, yb, wb, wl, dkey):
            logits = model.apply(p, xb, hp, dkey, eps)
            per, hit = fit(logits, yb)
            # wl: wb times class weights; normalized by the batch's real examples as
            # Keras normalizes a class-weighted loss.
            data_loss = jnp.sum((wb if wl is None else wl) * per) / jnp.maximum(
                jnp.sum(wb), 1.0)
            # Keras adds c·Σw² per regularized kernel to the loss it minimizes and logs.
            if use_l2:
                data_loss = data_loss + hp["l2"] * l2_penalty(p)
            return data_loss, hit

        def step(carry, inp):
            params, opt_state, div, div_step, t = carry
            idx, valid = inp
            xb, yb = x[idx], y[idx]
            wb = valid * m[idx]
            # None keeps the unweighted program exactly the one the article's studies ran.
            wl = wb * class_w[yb.astype(jnp.int32)] if weighted else None
            if "w_train" in data:  # per-example weights drawn on the host (data._host)
                wl = (wb if wl is None else wl) * data["w_train"][idx]
            # A user's module draws its own dropout (Flax's `dropout` rng), so it always
            # gets a key; built-in models only when the study uses dropout.
            dkey = (jax.random.fold_in(keys["dropout"], t)
                    if use_dropout or model_cfg.user else None)
            # For recurrent models, the gradient with respect to a zero added to every
            # hidden state is dLoss/dh_t: how much the loss still "hears" step t.
            eps = model.module.zeros(batch, x.shape[1]) if recurrent else None
            (loss, hit), (grads, g_eps) = jax.value_and_grad(
                loss_fn, argnums=(0, 1), has_aux=True)(params, eps, xb, yb, wb, wl, dkey)
            updates, new_state = tx.update(grads, opt_state, params)
            new_params = optax.apply_updates(params, updates)
            nb = jnp.sum(wb)
            active = (nb > 0) & ~div
            # The step whose loss is NaN/inf is the divergence step; the run stops
            # updating there (an update that overflows the parameters shows up as a
            # non-finite loss one step later). Recorded, never raised; other runs in the
            # vmapped chunk are unaffected. Checking the loss alone keeps the step cheap.
            ok = jnp.isfinite(loss)
            take = active & ok
            params = _tree_where(take, new_params, params)
            # Only padded (host-resampled) data has empty steps that must not advance
            # the optimizer; elsewhere a diverged run's optimizer state no longer matters
            # (its parameters are frozen above), and skipping this select over the whole
            # state is a measured ~20% of a small network's step.
            opt_state = _tree_where(take, new_state, opt_state) if padded else new_state
            newly = active & ~ok
            div_step = jnp.where(newly, t, div_step)
            stats = (jnp.where(take, loss * nb, 0.0),
                     jnp.where(take, jnp.sum(wb * hit), 0.0),
                     jnp.where(take, nb, 0.0))
            if recurrent:
                stats += (jnp.where(take, jnp.linalg.norm(g_eps[early_step]), 0.0),
                          jnp.where(take, jnp.linalg.norm(g_eps[-1]), 0.0),
                          take.astype(jnp.float32))
            return (params, opt_state, div | newly, div_step, t + (nb > 0)), stats

        def epoch(carry, e):
            r = jax.random.uniform(jax.random.fold_in(keys["order"], e), (n_rows,))
            # A fresh uniform shuffle of the real rows each epoch (Keras's shuffle=True);
            # padding rows sort last and the last partial batch is kept, as in Keras.
            perm = jnp.argsort(jnp.where(m > 0, r, 2.0))
            pad = steps * batch - n_rows
            idx = jnp.concatenate([perm, jnp.zeros(pad, perm.dtype)]).reshape(steps, batch)
            valid = (jnp.arange(steps * batch) < n_valid).astype(jnp.float32)
            carry, (ls, cs, ns, *grad) = jax.lax.scan(
                step, carry, (idx, valid.reshape(steps, batch)))
            n = jnp.maximum(jnp.sum(ns), 1.0)
            # Keras's history reports the running mean over the epoch's batches,
            # weighted by batch size, computed before each batch's update.
            out = (jnp.sum(ls) / n, jnp.sum(cs) / n)
            if recurrent:  # mean gradient norms over the epoch's steps
                early, late, taken = grad
                k = jnp.maximum(jnp.sum(taken), 1.0)
                out += (jnp.sum(early) / k, jnp.sum(late) / k)
            return carry, out

        init = (params, tx.init(params), jnp.array(False), jnp.array(-1, jnp.int32),
                jnp.array(0, jnp.int32))
        (params, _, div, div_step, _), (loss_curve, acc_curve, *grad) = jax.lax.scan(
            epoch, init, jnp.arange(epochs))
        metrics, per_example = _evaluate(model, params, data, multiclass=multiclass)
        metrics["epoch_accuracy"] = acc_curve[-1]
        metrics.update(_curve_shape(loss_curve))
        curves = {"loss": loss_curve, "accuracy": acc_curve, **per_example}
        if recurrent:
            early, late = grad
            curves.update(grad_early=early, grad_late=late)
            metrics.update(grad_early=early[-1], grad_late=late[-1],
                           grad_ratio=early[-1] / late[-1])
        return {"metrics": metrics, "curves": curves,
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
        delta = spd_solve(hess, grad)
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
        metrics, per_example = _evaluate(model, params, data)
        ok = jnp.all(jnp.isfinite(theta))
        return {"metrics": metrics, "curves": {"loss": loss_curve, **per_example},
                "diverged": ~ok, "diverged_step": jnp.where(ok, -1, 0).astype(jnp.int32)}

    return run


@functools.lru_cache(maxsize=None)
def make_program(static: tuple):
    """``(run(keys, hp, data), host)``: ``data`` is None when the run draws its own on
    the device, else one run's host-drawn arrays."""
    run = make_run(static)
    data_cfg = static[0]
    dataset = get_dataset(data_cfg)
    if dataset.host:
        return run, True

    def run_device(keys, hp, data):
        return run(keys, hp, dataset.sample(data_cfg, keys, hp))

    return run_device, False
