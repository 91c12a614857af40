"""Permutation tests switch to their normal limit at ``ASYMPTOTIC_N`` runs a side
(issue 26: 300,000 runs per setting in seconds). Just below the switch (resampling) and
at it (normal form), on the same data, p agrees within the Monte Carlo error of the
resamples and the decisions at 0.05 agree."""

import numpy as np
import pytest

from jaxstab.stats._tests import ASYMPTOTIC_N, paired_permutation, permutation

RESAMPLES = 4_000
TOL = 0.03  # ~4 Monte Carlo standard errors of p at p = 0.5 and 4,000 resamples


@pytest.mark.parametrize("test", [paired_permutation, permutation])
@pytest.mark.parametrize("shift", [0.0, 0.02, 0.04])
@pytest.mark.parametrize("alternative", ["two-sided", "less"])
def test_the_switch_keeps_p_and_decisions(test, shift, alternative):
    rng = np.random.default_rng(7)
    n = ASYMPTOTIC_N
    a, b = rng.normal(0.0, 1.0, n), rng.normal(shift, 1.0, n)
    _, p_limit = test(a, b, alternative, np.random.default_rng(1), RESAMPLES)
    # one run fewer a side: the resampling form
    _, p_perm = test(a[:-1], b[:-1], alternative, np.random.default_rng(1), RESAMPLES)
    assert abs(float(p_limit) - float(p_perm)) <= TOL, (p_limit, p_perm)
    assert (p_limit < 0.05) == (p_perm < 0.05)


def test_a_constant_difference_is_not_an_error():
    a = np.ones(ASYMPTOTIC_N)
    _, p = paired_permutation(a, a, "two-sided", np.random.default_rng(0), 100)
    assert p == 1.0


def test_placements_equal_the_midrank_form_to_the_bit():
    """P(A>B) and DeLong's placements from two sorted samples (issue 26) are the same
    floats as from the pooled midranks they replaced, ties included."""
    import scipy.stats as st

    from jaxstab.stats._ranks import placements

    rng = np.random.default_rng(3)
    for x, y in ((rng.normal(size=3001), rng.normal(size=2000)),
                 (np.round(rng.normal(size=4000), 1), np.round(rng.normal(size=999), 1))):
        pooled = st.rankdata(np.concatenate([x, y]))
        v10 = (pooled[:x.size] - st.rankdata(x)) / y.size
        v01 = 1.0 - (pooled[x.size:] - st.rankdata(y)) / x.size
        u = pooled[:x.size].sum() - x.size * (x.size + 1) / 2
        got = placements(x, y)
        assert np.array_equal(got[0], v10) and np.array_equal(got[1], v01)
        assert got[2] == u == st.mannwhitneyu(x, y).statistic
