"""Classification metrics in JAX, with masks, matching scikit-learn's definitions.

They run inside the compiled sweep so nothing returns to the host until a chunk ends;
scikit-learn's functions are NumPy-only, so they are restated here and a test checks
each against its scikit-learn counterpart.
"""

from __future__ import annotations

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
