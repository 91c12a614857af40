"""Classification metrics in JAX, with masks, matching scikit-learn's definitions.

They run inside the compiled sweep so nothing returns to the host until a chunk ends;
scikit-learn's functions are NumPy-only, so they are restated here and a test checks
each against its scikit-learn counterpart.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import optax


def scores_and_loss(logits: jnp.ndarray, y: jnp.ndarray):
    """Positive-class score and per-example loss for a binary problem.

    Keras's binary cross-entropy on a sigmoid output recovers the logits and uses the
    stable form, so we take the loss from logits too.
    """
    if logits.shape[-1] == 1:
        z = logits[..., 0]
        return z, optax.sigmoid_binary_cross_entropy(z, y)
    labels = y.astype(jnp.int32)
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
    return logits[..., 1] - logits[..., 0], loss


def correct(score: jnp.ndarray, y: jnp.ndarray) -> jnp.ndarray:
    # Keras's BinaryAccuracy counts `p > 0.5`, i.e. a positive logit.
    return ((score > 0).astype(jnp.float32) == y).astype(jnp.float32)


def binary_metrics(score: jnp.ndarray, y: jnp.ndarray, m: jnp.ndarray) -> dict:
    """accuracy, balanced_accuracy, f1 (positive class 1) and roc_auc over rows with m=1."""
    pred = (score > 0).astype(jnp.float32)
    n = jnp.sum(m)
    tp = jnp.sum(m * pred * y)
    fp = jnp.sum(m * pred * (1 - y))
    fn = jnp.sum(m * (1 - pred) * y)
    tn = jnp.sum(m * (1 - pred) * (1 - y))
    pos, neg = tp + fn, tn + fp
    # scikit-learn averages recall over the classes present in y_true only.
    rec_pos = jnp.where(pos > 0, tp / jnp.maximum(pos, 1), 0.0)
    rec_neg = jnp.where(neg > 0, tn / jnp.maximum(neg, 1), 0.0)
    n_cls = (pos > 0).astype(jnp.float32) + (neg > 0).astype(jnp.float32)
    balanced = (rec_pos + rec_neg) / jnp.maximum(n_cls, 1.0)
    denom = 2 * tp + fp + fn
    f1 = jnp.where(denom > 0, 2 * tp / jnp.maximum(denom, 1), 0.0)  # zero_division=0
    return {"accuracy": (tp + tn) / n, "balanced_accuracy": balanced, "f1": f1,
            "roc_auc": roc_auc(score, y, m)}


def roc_auc(score: jnp.ndarray, y: jnp.ndarray, m: jnp.ndarray) -> jnp.ndarray:
    """Mann–Whitney form of the ROC AUC with mid-ranks for ties; NaN with one class."""
    s = jnp.where(m > 0, score, jnp.inf)
    srt = jnp.sort(s)
    lo = jnp.searchsorted(srt, s, side="left")
    hi = jnp.searchsorted(srt, s, side="right")
    rank = (lo + hi + 1) / 2.0  # 1-based mid-rank among the masked-in rows
    pos = m * y
    n_pos, n_neg = jnp.sum(pos), jnp.sum(m * (1 - y))
    u = jnp.sum(pos * rank) - n_pos * (n_pos + 1) / 2
    return jnp.where((n_pos > 0) & (n_neg > 0), u / jnp.maximum(n_pos * n_neg, 1), jnp.nan)


def multiclass_loss(logits: jnp.ndarray, y: jnp.ndarray):
    """Per-example softmax cross-entropy and correctness for class indices ``y``."""
    labels = y.astype(jnp.int32)
    loss = optax.softmax_cross_entropy_with_integer_labels(logits, labels)
    return loss, (jnp.argmax(logits, axis=-1) == labels).astype(jnp.float32)


def multiclass_metrics(logits: jnp.ndarray, y: jnp.ndarray, m: jnp.ndarray) -> dict:
    """accuracy; balanced_accuracy (mean recall over the classes present in y, as
    scikit-learn); f1 (macro over the classes present in y or the predictions, zero
    division 0); roc_auc (one-vs-rest on softmax probabilities, macro over the classes
    with both positives and negatives; scikit-learn's ``multi_class="ovr"`` raises
    instead when a class is missing from y)."""
    k = logits.shape[-1]
    labels = y.astype(jnp.int32)
    pred = jnp.argmax(logits, axis=-1)
    onehot_y = (labels[:, None] == jnp.arange(k)) * m[:, None]
    onehot_p = (pred[:, None] == jnp.arange(k)) * m[:, None]
    tp = jnp.sum(onehot_y * onehot_p, axis=0)
    n_true = jnp.sum(onehot_y, axis=0)
    n_pred = jnp.sum(onehot_p, axis=0)
    present = n_true > 0
    recall = jnp.where(present, tp / jnp.maximum(n_true, 1), 0.0)
    balanced = jnp.sum(recall) / jnp.maximum(jnp.sum(present), 1)
    either = present | (n_pred > 0)
    denom = n_true + n_pred
    f1 = jnp.where(denom > 0, 2 * tp / jnp.maximum(denom, 1), 0.0)
    macro_f1 = jnp.sum(jnp.where(either, f1, 0.0)) / jnp.maximum(jnp.sum(either), 1)
    proba = jax.nn.softmax(logits, axis=-1)
    aucs = _ovr_auc(proba, onehot_y, m)
    ok = jnp.isfinite(aucs)
    auc = jnp.where(jnp.any(ok), jnp.sum(jnp.where(ok, aucs, 0.0)) / jnp.maximum(
        jnp.sum(ok), 1), jnp.nan)
    return {"accuracy": jnp.sum(m * (pred == labels)) / jnp.sum(m),
            "balanced_accuracy": balanced, "f1": macro_f1, "roc_auc": auc}


def _ovr_auc(proba: jnp.ndarray, pos: jnp.ndarray, m: jnp.ndarray) -> jnp.ndarray:
    """Per-class one-vs-rest ROC AUC (Mann-Whitney with mid-ranks), all classes with one
    sort: ``proba`` (n, k), ``pos`` (n, k) masked one-hot labels. NaN for a class without
    positives or negatives."""
    n = proba.shape[0]
    s = jnp.where(m[:, None] > 0, proba, jnp.inf)
    order = jnp.argsort(s, axis=0)
    v = jnp.take_along_axis(s, order, axis=0)
    i = jnp.arange(n)[:, None]
    new_group = jnp.concatenate([jnp.ones((1, v.shape[1]), bool), v[1:] != v[:-1]])
    ends = jnp.concatenate([v[1:] != v[:-1], jnp.ones((1, v.shape[1]), bool)])
    first = jax.lax.cummax(jnp.where(new_group, i, 0), axis=0)
    last = jax.lax.cummin(jnp.where(ends, i, n - 1), axis=0, reverse=True)
    rank_sorted = (first + last) / 2.0 + 1.0  # 1-based mid-rank
    rank = jnp.zeros_like(rank_sorted).at[order, jnp.arange(v.shape[1])[None, :]].set(
        rank_sorted)
    n_pos = jnp.sum(pos, axis=0)
    n_neg = jnp.sum(m) - n_pos
    u = jnp.sum(pos * rank, axis=0) - n_pos * (n_pos + 1) / 2
    return jnp.where((n_pos > 0) & (n_neg > 0), u / jnp.maximum(n_pos * n_neg, 1), jnp.nan)
