"""Speed of the statistics (jaxstab.stats) on per-seed values.

Inputs are synthetic and fixed (NumPy generator seeded with 0): the cost of these
functions depends on the number of seeds and the method, not on where the values came
from. Resampling uses each function's default of 9999 resamples, as a report does.
"""

from __future__ import annotations

import tempfile

from ._base import EXAMPLES, fake_store

_KEEP: dict = {}  # per process: asv re-runs setup before every sample


def _values(n: int, centre: float, spread: float, rng_seed: int):
    import numpy as np

    return centre + spread * np.random.default_rng(rng_seed).standard_normal(n)


class TimeInterval:
    """``interval`` of the mean at 256 seeds, method "auto": the BCa bootstrap
    (scipy.stats.bootstrap and its jackknife), the costliest interval a report uses.
    The t interval, used below 50 seeds, costs next to nothing."""

    timeout = 120.0

    def setup(self):
        import jaxstab.stats  # noqa: F401

        self.x = _values(256, 0.8, 0.03, 0)

    def time_interval(self):
        from jaxstab.stats import interval

        interval(self.x, rng=0)


class TimeCompare:
    """``compare`` of two settings at 64 seeds each, unpaired: every test and effect
    the report shows (Welch t, Mann-Whitney, permutation; Hedges' g, P(A>B) for means;
    Brown-Forsythe, Fligner-Killeen, std ratio and difference for spreads)."""

    params = ["mean", "spread"]
    param_names = ["metric_kind"]
    timeout = 120.0

    def setup(self, kind):
        import jaxstab.stats  # noqa: F401

        self.a = _values(64, 0.80, 0.03, 1)
        self.b = _values(64, 0.78, 0.05, 2)

    def time_compare(self, kind):
        from jaxstab.stats import compare

        compare(self.a, self.b, metric_kind=kind, rng=0)


class TimeCompareAtScale:
    """``compare`` of two settings at 300,000 seeds each (issue 26): the tests in their
    normal limit, P(A>B) with DeLong's interval from two sorts; what ``jaxstab
    compare`` computes per pair at that size (under a second on a 2-core machine)."""

    params = [False, True]
    param_names = ["paired"]
    timeout = 120.0

    def setup(self, paired):
        import jaxstab.stats  # noqa: F401

        self.a = _values(300_000, 0.0, 1.0, 4)
        self.b = _values(300_000, 0.01, 1.0, 5)

    def time_compare(self, paired):
        from jaxstab.stats import compare

        compare(self.a, self.b, paired=paired, rng=0)


class TimeSummarize:
    """``summarize`` of one setting at 64 seeds, 2 of them diverged: mean interval
    (BCa at 64 seeds), std interval, median, IQM."""

    timeout = 120.0

    def setup(self):
        import numpy as np

        import jaxstab.stats  # noqa: F401

        self.x = _values(64, 0.8, 0.03, 3)
        self.diverged = np.zeros(64, bool)
        self.diverged[[5, 40]] = True

    def time_summarize(self):
        from jaxstab.stats import summarize

        summarize(self.x, diverged=self.diverged, rng=0)


class TimeVerdicts:
    """``verdicts`` of the claims of the article's three examples, on stored
    (synthetic) results of 64 seeds per setting, read back from a results store."""

    timeout = 120.0

    def setup(self):
        if "results" not in _KEEP:
            tmp = tempfile.TemporaryDirectory()
            store = fake_store(f"{tmp.name}/stats.sqlite", EXAMPLES, 64)
            _KEEP["results"] = [store.results(fp) for _, fp, _ in store.studies()]
            store.close()
            _KEEP["tmp"] = tmp
        self.results = _KEEP["results"]

    def time_verdicts(self):
        from jaxstab.stats import verdicts

        for r in self.results:
            verdicts(r, r.study.claims, rng=0)
