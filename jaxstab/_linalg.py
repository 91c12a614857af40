"""The two pieces of dense linear algebra that run inside a vmapped training program,
written in plain JAX ops instead of calling LAPACK.

Why not ``jnp.linalg``: on the CPU, jaxlib 0.10's LAPACK kernels (``geqrf`` behind
``jnp.linalg.qr``, ``getrf`` behind ``jnp.linalg.solve``) split a vmapped batch over
XLA's intra-op thread pool and block until the pieces finish. When the pool's threads
are themselves busy running such kernels, nobody is left to run the pieces and the
program waits forever at 0% CPU. It happened on the 2-core CI machine with a chunk of 48
LSTM runs (Flax's recurrent cells start from ``orthogonal()``, a QR); gdb showed every
pool thread parked and one in ``jax::ParallelBatchMap`` under ``QrFactorization``.
The matrices here are tiny (a recurrent kernel, a logistic Hessian), so loops of
vector operations cost nothing measurable.
"""

from __future__ import annotations

import math

import jax
import jax.numpy as jnp


def _orthonormal_columns(a: jnp.ndarray) -> jnp.ndarray:
    """Q of the QR factorization of ``a`` (m x k, m >= k) with R's diagonal positive,
    by classical Gram-Schmidt applied twice per column ("twice is enough": orthogonal
    to float precision)."""
    def column(j, q):
        v = a[:, j]
        for _ in range(2):
            v = v - q @ (q.T @ v)  # columns j.. of q are still zero
        return q.at[:, j].set(v / jnp.linalg.norm(v))

    return jax.lax.fori_loop(0, a.shape[1], column, jnp.zeros_like(a))


def orthogonal(scale: float = 1.0):
    """``jax.nn.initializers.orthogonal()`` (column axis -1): the same normal draw and
    the same matrix up to rounding, without LAPACK."""
    def init(key, shape, dtype=jnp.float32):
        n_cols = shape[-1]
        n_rows = math.prod(shape) // n_cols
        wide = n_rows < n_cols
        a = jax.random.normal(key, (n_cols, n_rows) if wide else (n_rows, n_cols), dtype)
        q = _orthonormal_columns(a)
        return scale * (q.T if wide else q).reshape(shape)

    return init


def spd_solve(a: jnp.ndarray, b: jnp.ndarray) -> jnp.ndarray:
    """Solve ``a x = b`` for a symmetric positive definite ``a`` by Cholesky (``a =
    L L^T``) and two triangular solves. A singular ``a`` gives non-finite ``x``."""
    n = a.shape[-1]
    rows = jnp.arange(n)

    def factor(j, low):
        v = a[:, j] - low @ low[j]  # low[j, j:] is still zero
        return low.at[:, j].set(jnp.where(rows >= j, v / jnp.sqrt(v[j]), 0.0))

    low = jax.lax.fori_loop(0, n, factor, jnp.zeros_like(a))

    def forward(i, y):  # L y = b; y[i:] is still zero
        return y.at[i].set((b[i] - low[i] @ y) / low[i, i])

    y = jax.lax.fori_loop(0, n, forward, jnp.zeros_like(b))

    def backward(k, x):  # L^T x = y; x[:i+1] is still zero
        i = n - 1 - k
        return x.at[i].set((y[i] - low[:, i] @ x) / low[i, i])

    return jax.lax.fori_loop(0, n, backward, jnp.zeros_like(b))
