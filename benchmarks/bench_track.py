"""Stability numbers of the article studies, tracked from commit to commit.

Every tracked study is trained once, at a fixed small seed count (``TRACK_SEEDS``), in
``setup_cache``: one process for the whole file, whose numbers asv hands to each
``track_`` benchmark. The numbers are deterministic on a given platform (same study, same
seed indices), so a step in one of these graphs means a commit changed what the runs
compute or how the statistics read them. Default: the article's three code examples;
with JAXSTAB_BENCH_SLOW=1 every ``article/*`` study.
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

from ._base import EXAMPLES, SLOW, jax_cache, setting_label, study

TRACK_SEEDS = 32
_NONE = "(no study of this kind)"


def _tracked() -> list[str]:
    from jaxstab.loader import builtin_names

    names = builtin_names()
    wanted = [n for n in names if n.startswith("article/")] if SLOW else list(EXAMPLES)
    return [n for n in wanted if n in names]


STUDIES = _tracked()
_LOADED = {name: study(name) for name in STUDIES}
SETTINGS = [setting_label(x) for s in _LOADED.values() for x in s.settings()]
_FIRST_CLAIM = {name: s.claims[0].kind for name, s in _LOADED.items() if s.claims}
MEAN_CLAIMS = [n for n, k in _FIRST_CLAIM.items() if k == "mean"] or [_NONE]
SPREAD_CLAIMS = [n for n, k in _FIRST_CLAIM.items() if k == "spread"] or [_NONE]


def _measure() -> dict:
    """Sweep every tracked study twice (the first compiles) and read its numbers."""
    jax_cache()
    from jaxstab import stats
    from jaxstab.errors import UserError
    from jaxstab.store import Store
    from jaxstab.sweep import sweep

    out: dict = {"setting": {}, "study": {}}
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "track.sqlite")
        for name in STUDIES:
            s = study(name, seeds=TRACK_SEEDS)
            sweep(s, seeds=TRACK_SEEDS)
            fp = store.ensure_study(s)
            done = sweep(s, seeds=TRACK_SEEDS, on_chunk=lambda recs, sec, fp=fp:
                         store.write_chunk(fp, recs, sec, {}))
            results = store.results(fp)
            labels = {x.key: setting_label(x) for x in s.settings()}
            for r in results.settings:
                summ = stats.summarize(r.metrics[s.main_metric], diverged=r.diverged)
                iv = summ.mean_interval
                out["setting"][labels[r.key]] = {
                    "mean": summ.mean, "std": summ.std,
                    "half_width": (iv.high - iv.low) / 2 if iv is not None else math.nan,
                    "divergence_rate": summ.divergence_rate,
                }
            effect = math.nan
            if s.claims:
                try:
                    effect = stats.verdicts(results, s.claims)[0].effect.point
                except UserError:
                    pass  # e.g. every run of a side diverged: no effect to track
            out["study"][name] = {"runs_per_second": done.runs / done.seconds,
                                  "effect": effect}
        store.close()
    return out


class _Stability:
    """Shares one ``setup_cache`` (asv keys it by where it is defined) among the
    classes below, so the studies are trained once per run of the suite."""

    timeout = 120.0

    def setup_cache(self):
        return _measure()

    setup_cache.timeout = 1800.0

    @staticmethod
    def _get(cache, part, key, field):
        if key not in cache[part]:
            raise NotImplementedError(f"{key}: not measured in this run")
        return float(cache[part][key][field])


class TrackSetting(_Stability):
    """Per setting of each tracked study, over ``TRACK_SEEDS`` seeds, of the study's
    main metric (``main_metric`` in its TOML): diverged runs left out of the value
    statistics, as jaxstab.stats.summarize does."""

    params = SETTINGS
    param_names = ["setting"]

    def track_mean(self, cache, setting):
        return self._get(cache, "setting", setting, "mean")

    track_mean.unit = "main metric (mean over seeds)"

    def track_std(self, cache, setting):
        return self._get(cache, "setting", setting, "std")

    track_std.unit = "main metric (std over seeds, ddof=1)"

    def track_interval_half_width(self, cache, setting):
        return self._get(cache, "setting", setting, "half_width")

    track_interval_half_width.unit = "main metric (95% interval of the mean, half-width)"

    def track_divergence_rate(self, cache, setting):
        return self._get(cache, "setting", setting, "divergence_rate")

    track_divergence_rate.unit = "fraction of runs diverged"


class TrackStudy(_Stability):
    """Per tracked study."""

    params = STUDIES
    param_names = ["study"]

    def track_runs_per_second(self, cache, name):
        """Runs per second of a warm sweep at ``TRACK_SEEDS`` seeds, store writes
        included (what ``jaxstab run`` reports, less compilation)."""
        return self._get(cache, "study", name, "runs_per_second")

    track_runs_per_second.unit = "runs/s"


class TrackMeanClaim(_Stability):
    """Studies whose first claim is about a mean: the effect jaxstab.stats.verdicts
    reports for it, Hedges' g of setting a against setting b."""

    params = MEAN_CLAIMS
    param_names = ["study"]

    def track_hedges_g(self, cache, name):
        return self._get(cache, "study", name, "effect")

    track_hedges_g.unit = "Hedges' g (claim's a vs b)"


class TrackSpreadClaim(_Stability):
    """Studies whose first claim is about a spread: the effect jaxstab.stats.verdicts
    reports for it, the ratio of the standard deviations of setting a and setting b."""

    params = SPREAD_CLAIMS
    param_names = ["study"]

    def track_std_ratio(self, cache, name):
        return self._get(cache, "study", name, "effect")

    track_std_ratio.unit = "std ratio (claim's a / b)"
