"""Time to target and whole curves of a study's settings: the per-setting numbers
``compare`` and the report show for each target, and the tests behind claims of kind
``time_to_target`` and ``curve`` (fixed and sequential).

A target is duck-typed (``curve``, ``reach`` or ``below``, as ``jaxstab.study.Target``);
a setting's curves are ``setting.curves[name]`` (runs x steps, NaN after a run diverged
or past its last recorded step), its divergence ``setting.diverged``. Point k of a
curve is step k (1-based: after k epochs), as ``time_to_target`` counts by default.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from jaxstab.errors import UserError
from jaxstab.stats import _study
from jaxstab.stats._base import Record
from jaxstab.stats._curves import CurveTest, curve_test
from jaxstab.stats._effects import Effect
from jaxstab.stats._groupseq import Stat
from jaxstab.stats._survcompare import (
    TimeComparison,
    compare_time_to_target,
    logrank_parts,
    seeds_needed_time_to_target,
)
from jaxstab.stats._survival import TargetSummary, TimeToTarget, target_summary, time_to_target

CURVE_KINDS = ("time_to_target", "curve")
NAN = float("nan")


def target_text(target: Any) -> str:
    below = getattr(target, "below", None)
    return f"{target.curve} >= {target.reach:g}" if below is None \
        else f"{target.curve} <= {below:g}"


def curve_runs(setting: Any, curve: str, where: str = "targets") -> tuple[np.ndarray, ...]:
    """``(curves, diverged, seeds)`` of one setting, runs in seed order."""
    curves = getattr(setting, "curves", None) or {}
    if curve not in curves:
        known = ", ".join(sorted(curves)) or "none"
        raise UserError(f"{where}: curve `{curve}` is not recorded for setting "
                        f"{setting.key} (recorded curves: {known})")
    c = np.asarray(curves[curve], dtype=float)
    div = np.asarray(getattr(setting, "diverged", np.zeros(c.shape[0], bool)), bool)
    return c, div, np.asarray(setting.seeds)


def setting_ttt(setting: Any, target: Any, where: str = "targets",
                rows: np.ndarray | None = None) -> TimeToTarget:
    """Each run's first step at ``target`` (censored, or diverged: ``time_to_target``);
    ``rows``: only these runs."""
    c, div, _ = curve_runs(setting, target.curve, where)
    if rows is not None:
        c, div = c[rows], div[rows]
    return time_to_target(c, reach=target.reach, below=getattr(target, "below", None),
                          diverged=div)


@dataclass(frozen=True)
class TargetRow(Record):
    """One setting's time to one target (``summary`` None with ``note`` when the
    setting has no runs)."""

    target: str
    curve: str
    setting: str
    key: str
    summary: TargetSummary | None
    note: str = ""


def target_rows(results: Any, targets: Sequence[Any], *, level: float = 0.95
                ) -> tuple[TargetRow, ...]:
    """Kaplan-Meier median, share reached and restricted mean time to each target of
    every setting (``target_summary``); horizon: the setting's last step."""
    out = []
    for i, t in enumerate(targets):
        for s in _study.settings_of(results):
            name = _study.label(s.factors) or s.key
            if len(np.atleast_1d(s.seeds)) == 0:
                out.append(TargetRow(target_text(t), t.curve, name, s.key, None, "no runs"))
                continue
            ttt = setting_ttt(s, t, f"targets[{i}]")
            out.append(TargetRow(target_text(t), t.curve, name, s.key,
                                 target_summary(ttt, level=level)))
    return tuple(out)


@dataclass(frozen=True)
class ClaimTest(Record):
    """The test behind a claim of kind ``time_to_target`` or ``curve``, in the shape a
    verdict reads (as ``Comparison``): ``direction`` "less" when A reaches the target in
    fewer steps (or "greater"), "different" when curves differ, "equal" when no
    difference shows; ``detail`` the full ``TimeComparison`` or ``CurveTest``."""

    primary: str
    p_value: float
    direction: str
    n_a: int
    n_b: int
    paired: bool
    metric_kind: str
    effects: tuple[Effect, ...]
    difference: Effect
    note: str
    detail: TimeComparison | CurveTest
    reach_share: float = NAN


def find_target(claim: Any, targets: Sequence[Any], where: str) -> Any:
    for t in targets:
        if t.curve == claim.metric:
            return t
    have = ", ".join(t.curve for t in targets) or "none"
    raise UserError(f"{where}: metric `{claim.metric}` has no target; a time_to_target "
                    f"claim names a target's curve (targets: {have})")


def claim_settings(claim: Any, settings: list[Any], where: str) -> tuple[Any, Any]:
    sa = _study.find(settings, claim.a, f"{where}: a")
    sb = _study.find(settings, claim.b, f"{where}: b")
    if sa is sb:
        raise UserError(f"{where}: a and b select the same setting {sa.key}")
    return sa, sb


def claim_groups(claim: Any, settings: list[Any], targets: Sequence[Any], where: str,
                 strata: Sequence[str] = ()):
    """The claim's settings as groups of their curves' last points (NaN: diverged), for
    the run counts and divergence test a verdict shows, and whether they pair (never
    across strata: each side then pools its setting of every stratum)."""
    if claim.kind == "time_to_target":
        find_target(claim, targets, where)
    pairs = _strata_pairs(claim, settings, strata, where)
    out = []
    for side in (0, 1):
        lasts, seeds = [], []
        for p in pairs:
            c, div, sd = curve_runs(p[side], claim.metric, where)
            lasts.append(np.where(div, NAN, c[:, -1] if c.shape[1] else NAN))
            seeds.append(sd)
        s = pairs[0][side]
        name = _study.label({k: v for k, v in s.factors.items() if k not in strata})
        out.append(_study.Group(name or s.key, s.key, np.concatenate(lasts),
                                None if strata else seeds[0], frozenset(s.sources)))
    return out[0], out[1], _study.can_pair(*out)


def _strata_pairs(claim: Any, settings: list[Any], strata: Sequence[str], where: str
                  ) -> list[tuple[Any, Any]]:
    """One (a, b) pair of settings per stratum value: the claim's sides name the other
    factors, the strata factors vary (settings are compared within a stratum only)."""
    if not strata:
        return [claim_settings(claim, settings, where)]
    values = sorted({tuple(_study.value_text(s.factors[k]) for k in strata)
                     for s in settings}, key=str)
    out = []
    for v in values:
        inside = [s for s in settings
                  if tuple(_study.value_text(s.factors[k]) for k in strata) == v]
        out.append(claim_settings(claim, inside, f"{where} (stratum {', '.join(v)})"))
    return out


def time_claim(claim: Any, settings: list[Any], targets: Sequence[Any], *, level: float,
               rng: Any, n_resamples: int, strata: Sequence[str] = (),
               where: str = "claim") -> ClaimTest:
    """Log-rank (stratified over ``strata`` factors when given: the claim's sides then
    name a setting within each stratum) and the restricted mean difference."""
    target = find_target(claim, targets, where)
    pairs = _strata_pairs(claim, settings, strata, where)
    ta = [setting_ttt(a, target, where) for a, _ in pairs]
    tb = [setting_ttt(b, target, where) for _, b in pairs]
    tc = compare_time_to_target(ta if strata else ta[0], tb if strata else tb[0],
                                level=level, rng=rng, n_resamples=n_resamples)
    hr = tc.hazard_ratio
    direction = "equal" if not math.isfinite(hr) or hr == 1 else \
        ("less" if hr > 1 else "greater")
    reached = sum(t.counts()["reached"] for t in ta + tb)
    share = reached / max(sum(t.n for t in ta + tb), 1)
    d = tc.rmst_difference
    name = "log-rank" + (f" stratified by {', '.join(strata)}" if strata else "") + \
        f" ({tc.method})"
    rmst = Effect(f"restricted mean steps to {target_text(target)}, A - B", d.point,
                  d.low, d.high, d.method, level,
                  f"up to step {tc.horizon:g}; negative: A is faster")
    return ClaimTest(
        primary=name, p_value=tc.p_value, direction=direction, n_a=tc.n_a, n_b=tc.n_b,
        paired=False, metric_kind="time_to_target",
        effects=(rmst, Effect("hazard ratio of reaching (A / B)", hr, NAN, NAN, "peto",
                              level, "above 1: A reaches the target sooner")),
        difference=rmst,
        note="; ".join(n for n in (tc.note,) if n), detail=tc, reach_share=share)


def curve_claim(claim: Any, settings: list[Any], *, level: float, rng: Any,
                n_resamples: int, where: str = "claim") -> ClaimTest:
    """The max-t test that the mean curves differ at some step, paired by seed index
    when both settings vary the same seed sources."""
    sa, sb = claim_settings(claim, settings, where)
    (ca, _, seeds_a), (cb, _, seeds_b) = (curve_runs(s, claim.metric, where)
                                          for s in (sa, sb))
    paired = (frozenset(sa.sources) == frozenset(sb.sources)
              and _study.share_seeds(np.asarray(seeds_a), np.asarray(seeds_b)))
    if paired:
        _, ia, ib = np.intersect1d(seeds_a, seeds_b, return_indices=True)
        ca, cb = ca[ia], cb[ib]
    ct = curve_test(ca, cb, paired=paired, rng=rng, n_resamples=n_resamples)
    big = int(np.argmin(ct.step_p))
    ok_a, ok_b = np.isfinite(ca).all(1), np.isfinite(cb).all(1)
    if paired:
        ok_a = ok_b = ok_a & ok_b
    diff = float(ca[ok_a, big].mean() - cb[ok_b, big].mean())
    where_differ = ct.steps[ct.step_p <= 0.05]
    return ClaimTest(
        primary=ct.method, p_value=ct.p_value,
        direction="equal" if ct.statistic == 0 else "different", n_a=ct.n_a, n_b=ct.n_b,
        paired=paired, metric_kind="curve",
        effects=(Effect("largest |t| over steps", ct.statistic, NAN, NAN, ct.method,
                        level, ""),),
        difference=Effect(f"mean {claim.metric} A - B at step {ct.steps[big]:g} (largest "
                          f"|t|)", diff, NAN, NAN, "", level,
                          f"{where_differ.size} of {ct.steps.size} steps with adjusted "
                          f"p <= 0.05"),
        note=ct.note, detail=ct)


def claim_test(claim: Any, settings: list[Any], targets: Sequence[Any], **kw) -> ClaimTest:
    if claim.kind == "time_to_target":
        return time_claim(claim, settings, targets, **kw)
    kw.pop("strata", None)
    return curve_claim(claim, settings, **kw)


def shortfall(claim: Any, ga: Any, gb: Any, paired: bool) -> str:
    """Why the claim cannot be tested ("" when it can)."""
    if claim.kind == "time_to_target":
        return "" if ga.n_total and gb.n_total else \
            f"no runs: {ga.name}: {ga.n_total}, {gb.name}: {gb.n_total}"
    return _study.shortfall(ga, gb, paired=paired, min_n=3)


def seeds_needed(comp: ClaimTest, n_a: int, n_b: int, *, alpha: float, power: float
                 ) -> tuple[int | None, str]:
    """Seeds per setting that would decide a time_to_target claim (Schoenfeld, at the
    observed hazard ratio and share reaching); none for the curve test."""
    if comp.metric_kind != "time_to_target":
        return None, "no sample-size formula for the max-t curve test"
    hr = comp.detail.hazard_ratio
    if not math.isfinite(hr) or hr == 1 or not comp.reach_share > 0:
        return None, "no runs reached the target or no difference: no effect to size"
    n = seeds_needed_time_to_target(hr, min(comp.reach_share, 1.0), alpha=alpha,
                                    power=power)
    if n is None:
        return None, "more than 1,000,000 seeds per setting (Schoenfeld)"
    used = max(n_a, n_b)
    why = (f"Schoenfeld's log-rank size at the observed hazard ratio {hr:.3g} with "
           f"{100 * comp.reach_share:.0f}% of runs reaching")
    if n <= used:
        n, why = used + 1, why + f"; at least one more than the {used} seeds already run"
    return n, why


def sequential_stat(claim: Any, sa: Any, sb: Any, target: Any, n: int) -> Stat | None:
    """The look statistic of a time_to_target claim on seed indices below ``n``: the
    log-rank z (asymptotically normal with independent increments, as the boundaries
    need), signed positive when A needs more steps; None while seeds are missing."""
    rows = []
    for s in (sa, sb):
        seeds = np.asarray(s.seeds)
        sel = np.flatnonzero(seeds < n)
        if sel.size != n:
            return None
        rows.append(sel)
    ta, tb = (setting_ttt(s, target, "claim", r) for s, r in zip((sa, sb), rows))
    (da, ea), (db, eb) = ta.durations(), tb.durations()
    label = np.r_[np.ones(ta.n, bool), np.zeros(tb.n, bool)]
    oe, var = (float(v[0]) for v in logrank_parts(np.r_[da, db][None],
                                                   np.r_[ea, eb][None], label))
    test = "log-rank z"
    if var <= 0:
        return Stat(0.0, 0.0, ta.n, tb.n, test, "no run reached the target in a risk set "
                    "holding both settings")
    tc = compare_time_to_target(ta, tb, method="asymptotic")
    # more events than expected for A (oe > 0): A is faster, fewer steps
    z = -oe / math.sqrt(var)
    return Stat(z, tc.rmst_difference.point, ta.n, tb.n, test, tc.note)
