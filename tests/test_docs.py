"""What the README and the guide say is what the code does: the run-key formula, the
std that compare shows, and the user-task features the guide must mention."""

from __future__ import annotations

from pathlib import Path

import jax
import numpy as np

ROOT = Path(__file__).parent.parent
FORMULA = "fold_in(fold_in(PRNGKey(study.seed), i), k)"


def test_readme_and_guide_give_the_exact_key_formula_the_sweep_uses():
    from jaxstab.study import SOURCES
    from jaxstab.sweep import _keys

    readme = (ROOT / "README.md").read_text()
    guide = (ROOT / "docs" / "guide.md").read_text()
    assert FORMULA in readme and FORMULA in guide
    assert "key(seed), source" not in readme
    seed, k = 7, 5
    idx = np.array([k if s in ("init", "data") else 0 for s in SOURCES], np.uint32)
    got = _keys(seed, idx)
    for i, s in enumerate(SOURCES):
        want = jax.random.fold_in(jax.random.fold_in(jax.random.PRNGKey(seed), i), idx[i])
        assert (np.asarray(got[s]) == np.asarray(want)).all(), s


def test_readme_snippet_prints_the_sample_std_compare_shows():
    readme = (ROOT / "README.md").read_text()
    assert "acc.std(ddof=1)" in readme and "acc.std())" not in readme


def test_guide_mentions_the_vary_factor_and_the_test_noise_baseline():
    guide = (ROOT / "docs" / "guide.md").read_text()
    assert "the `vary` factor" in guide and 'vary = [["init"], ["order"]' in guide
    assert "`test_correct`" in guide and "Test-set noise" in guide
