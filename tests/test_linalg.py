"""The training programs call no LAPACK kernel: jaxlib 0.10's CPU LAPACK kernels can
deadlock a vmapped program (jaxstab/_linalg.py says how), so the two pieces of linear
algebra the engine needs are plain JAX ops that match jnp.linalg."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from jaxstab._linalg import orthogonal, spd_solve
from jaxstab.sweep import _inputs, _program

from conftest import tiny


@pytest.mark.parametrize("shape", [(16, 16), (6, 18), (40, 8), (3, 4, 5)])
def test_orthogonal_matches_jax_initializer(shape):
    key = jax.random.key(3)
    ours = np.asarray(orthogonal(2.0)(key, shape))
    theirs = np.asarray(jax.nn.initializers.orthogonal(2.0)(key, shape))
    np.testing.assert_allclose(ours, theirs, atol=2e-6)
    m = ours.reshape(-1, shape[-1])
    small = m.T @ m if m.shape[0] >= m.shape[1] else m @ m.T
    np.testing.assert_allclose(small, 4.0 * np.eye(len(small)), atol=1e-5)


def test_spd_solve_matches_numpy_and_flags_a_singular_matrix():
    rng = np.random.default_rng(0)
    a = rng.normal(size=(9, 9))
    a = a @ a.T + 0.1 * np.eye(9)
    b = rng.normal(size=9)
    x = np.asarray(spd_solve(jnp.asarray(a, jnp.float32), jnp.asarray(b, jnp.float32)))
    np.testing.assert_allclose(x, np.linalg.solve(a, b), rtol=1e-3, atol=1e-4)
    singular = np.asarray(spd_solve(jnp.zeros((3, 3)), jnp.ones(3)))
    assert not np.isfinite(singular).all()


@pytest.mark.parametrize("name,edits", [
    ("article/rnn_gradients", {"factors": {"model": ["rnn", "lstm", "gru"]}}),
    ("article/example1", {}),  # logistic regression by Newton steps
])
def test_vmapped_programs_call_no_lapack(name, edits):
    study = tiny(name, seeds=2, **edits)
    for setting in study.settings():
        args = _inputs([setting] * 2, [0, 1], study.seed)
        text = _program(setting).lower(*args).as_text()
        assert "lapack" not in text.lower(), setting.key
