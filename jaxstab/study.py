"""Studies: frozen, validated configuration and grid expansion, for any task.

A study is everything needed to train its runs; a setting is one point of its factor
grid. The task decides what a setting means (``jaxstab.task``: the built-in
classification task's ``[data]``, ``[model]``, ``[train]`` sections, or a user's
``make_train`` and its ``[config]``); this module asks it and imports none.
Fields that fix array shapes are static (they key the compile cache); the continuous
ones become array leaves vmapped with the seeds. Loading from TOML: ``jaxstab.loader``.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

from jaxstab._check import check_choice, check_range, fail, hashable, int_hint
from jaxstab.env import budget
from jaxstab._strata_check import STATISTICS, check_claim_selects, \
    check_aggregate_claim, check_strata, check_within_stratum
from jaxstab.search_config import SearchConfig
from jaxstab.task import SOURCES, Task, section_dict
from jaxstab.tasks import task_of

# Bumped whenever a change to the engine changes what a run computes, so old results
# are never mixed with new ones in a store. 2: runs also record loss_rises,
# loss_variation, train_test_gap and dead_relu (the numbers of version 1 are unchanged).
# 3: recurrent kernels' orthogonal start and the logistic Newton step are computed
# without LAPACK (jaxstab._linalg), and the CNN's convolutions as matrix products
# (models.Conv1D), which changes their last bits.
ENGINE_VERSION = 3
MAX_RUNS = 100_000_000  # settings x seeds: 15 minutes at a GPU's 110k runs/s
MAX_NAME = 120
DIRECTIONS = ("greater", "less", "two-sided")
# Claims about whole curves: ``time_to_target`` (``metric`` names a target's curve) and
# ``curve`` (the mean curves differ at some step; max-t, so two-sided only).
CLAIM_KINDS = ("mean", "spread", "time_to_target", "curve")
CURVE_KINDS = ("time_to_target", "curve")


@dataclass(frozen=True)
class Target:
    """A level a learning curve must reach: ``curve >= reach`` (an accuracy) or
    ``curve <= below`` (a loss). Analysis like claims: never part of the fingerprint."""

    curve: str
    reach: float | None = None
    below: float | None = None
    where: str = field(default="targets", compare=False, repr=False)  # for messages

    def __post_init__(self) -> None:
        if not isinstance(self.curve, str) or not self.curve.strip():
            fail(f"{self.where}.curve", "must be the name of a recorded curve")
        if (self.reach is None) == (self.below is None):
            fail(self.where, "give exactly one of `reach` (curve >= value) or `below` "
                 "(curve <= value)")
        name = "reach" if self.below is None else "below"
        v = getattr(self, name)
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
            fail(f"{self.where}.{name}", f"must be a finite number, got {v!r}")
        object.__setattr__(self, name, float(v))

    @property
    def text(self) -> str:
        return f"{self.curve} >= {self.reach:g}" if self.below is None \
            else f"{self.curve} <= {self.below:g}"

    def to_dict(self) -> dict:
        return {"curve": self.curve, **({"reach": self.reach} if self.below is None
                                        else {"below": self.below})}


@dataclass(frozen=True)
class Claim:
    """Setting ``a`` has a greater/smaller (or just a different) mean/spread of
    ``metric`` than setting ``b``."""

    text: str
    metric: str
    kind: str
    direction: str
    a: Mapping[str, Any]
    b: Mapping[str, Any]
    # The aggregate of a claim across strata ("" = the IQM): Study.is_aggregate.
    statistic: str = ""

    def __post_init__(self) -> None:
        check_choice("claims.kind", self.kind, CLAIM_KINDS)
        check_choice("claims.direction", self.direction, DIRECTIONS)
        if self.statistic:
            check_choice("claims.statistic", self.statistic, STATISTICS)
        if self.kind == "curve" and self.direction != "two-sided":
            fail("claims.direction", "a claim of kind `curve` says the curves differ "
                 "somewhere (max-t over steps): use direction = \"two-sided\"")
        if not self.text.strip():
            fail("claims.text", "must not be empty")

    def to_dict(self) -> dict:
        return {"text": self.text, "metric": self.metric, "kind": self.kind,  # statistic:
                "direction": self.direction, "a": dict(self.a), "b": dict(self.b),  # if set
                **({"statistic": self.statistic} if self.statistic else {})}


@dataclass(frozen=True)
class Setting:
    """One point of the factor grid, with the configuration its task resolves it to
    (``data``, ``model``, ``train`` for the built-in task; ``config`` for a user's)."""

    study: "Study"
    factors: tuple[tuple[str, Any], ...]
    vary: tuple[str, ...]
    data: Any = None
    model: Any = None
    train: Any = None
    config: Mapping[str, Any] | None = None

    @property
    def key(self) -> str:
        return setting_key(dict(self.factors))

    def value(self, name: str) -> Any:
        return self.study.tasked.value(self, name)

    @property
    def hparams(self) -> dict[str, float]:
        return self.study.tasked.hparams(self)

    @property
    def static(self) -> tuple:
        """What fixes the compiled program; settings with equal statics share one."""
        return self.study.tasked.static(self)

    @property
    def host(self) -> bool:
        return self.study.tasked.host(self)

    def program(self) -> tuple[Callable, bool]:
        """``(run(keys, hp, data) -> result, host)``, one per static."""
        return self.study.tasked.program(self.static)

    def host_sample(self, seeds_by_src: dict) -> dict:
        return self.study.tasked.host_sample(self, seeds_by_src)


def setting_key(factors: Mapping[str, Any]) -> str:
    return json.dumps(dict(factors), sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class Study:
    name: str
    description: str = ""
    question: str = ""
    seeds: int = 64
    seed: int = 0
    vary: tuple[str, ...] = ("data", "init", "order")
    main_metric: str = "test_accuracy"
    # "" = the built-in classification task; "module:function" = a user's make_train
    # (a function given in Python is turned into its path); "imported" = scores made
    # elsewhere (jaxstab import), never trained.
    task: Any = ""
    config: Mapping[str, Any] | None = None
    # The built-in task's sections (filled with their defaults by it): DataConfig,
    # ModelConfig, TrainConfig of jaxstab.builtin.
    data: Any = None
    model: Any = None
    train: Any = None
    factors: tuple[tuple[str, tuple[Any, ...]], ...] = ()
    claims: tuple[Claim, ...] = ()
    # Analysis, like claims: what time to target means for this study's curves.
    targets: tuple[Target, ...] = ()
    search: SearchConfig | None = None
    # The settings that exist, when they are not the whole grid (imported scores).
    points: tuple[Mapping[str, Any], ...] | None = None
    # The hash of the user task's source (set when the task is resolved): identity.
    task_source: str = ""
    # Factors whose values are tasks (datasets): settings are compared within a stratum,
    # aggregates across. Analysis, like claims: not in the fingerprint.
    strata: tuple[str, ...] = ()
    # Declared directions, {metric: "higher" | "lower"} ([metrics]); else guessed by name.
    metrics: Mapping[str, str] | None = None

    def __post_init__(self) -> None:
        _check_name(self.name)
        check_range("seeds", self.seeds, 1, 10_000_000)
        check_range("seed", self.seed, 0, 2**31 - 1)
        object.__setattr__(self, "vary", check_sources("vary", self.vary))
        for k, v in self.tasked.resolve(self).items():
            object.__setattr__(self, k, v)
        metrics, factor_names = self.tasked.metrics, self.tasked.factor_names()
        if metrics is not None:
            check_choice("main_metric", self.main_metric, metrics)
        names = [n for n, _ in self.factors]
        if len(set(names)) != len(names):
            fail("factors", "a factor is listed twice")
        for n, values in self.factors:
            if factor_names is not None and n != "vary" and n not in factor_names:
                check_choice("factors", n, factor_names + ("vary",))
            if len(values) == 0:
                fail(f"factors.{n}", "empty list, give at least one value")
        self._canonical_factors()
        check_strata(self, names)
        if isinstance(self.targets, list):
            object.__setattr__(self, "targets", tuple(self.targets))
        _check_targets(self.targets, self.claims)
        for claim in self.claims:
            if metrics is not None and claim.kind not in CURVE_KINDS:
                check_choice("claims.metric", claim.metric, metrics)
            for side in ("a", "b"):
                for k, v in getattr(claim, side).items():
                    if k not in names:
                        fail(f"claims.{side}", f"`{k}` is not a factor of this study")
                    if not any(_plain(v) == _plain(x) for x in dict(self.factors)[k]):
                        fail(f"claims.{side}", f"{k} = {v!r} is not one of the factor's "
                             f"values{int_hint(k, dict(self.factors)[k])}")
        # Checked before expanding (a typo must not hang the loader), and for imported
        # scores from the settings present, not from the grid their values span.
        size = (math.prod(len(v) for _, v in self.factors) if self.points is None
                else len(self.points))
        most = budget("SETTINGS")
        if size > most:
            fail("factors", f"{size} settings, allowed at most {most:,}")
        # (a scan of the values per point was quadratic: 20,000 labels took minutes)
        allowed = {n: {hashable(x) for x in v} for n, v in self.factors}
        for i, p in enumerate(self.points or ()):
            if not isinstance(p, Mapping) or set(p) != set(names):
                fail(f"points[{i}]", f"expected a table of the factors {', '.join(names)}")
            for k, v in p.items():
                if hashable(v) not in allowed[k]:
                    fail(f"points[{i}]", f"{k} = {v!r} is not one of the factor's values")
        settings = self.settings()  # validates every grid point
        seen: set[str] = set()  # (two settings with one key would share their runs)
        for key in (s.key for s in settings):
            if key in seen or seen.add(key):
                fail("factors", f"the setting {key} is listed twice")
        check_runs(len(settings), self.seeds, "seeds")
        for i, claim in enumerate(self.claims):
            if self.is_aggregate(claim):
                check_aggregate_claim(self, i, claim, names)
            else:
                check_claim_selects(i, claim, settings)
                check_within_stratum(self, i, claim)

    def higher_is_better(self, metric: str) -> bool | None:
        """The declared direction of ``metric`` (None: not declared, guess it)."""
        return {"higher": True, "lower": False}.get((self.metrics or {}).get(metric))

    def is_aggregate(self, claim: Claim) -> bool:
        """A claim whose sides leave every stratum factor out speaks across strata."""
        return bool(self.strata) and not any(k in self.strata for side in (claim.a, claim.b)
                                             for k in side)

    @property
    def tasked(self) -> Task:
        """The task this study's ``task`` field names (``jaxstab.task``)."""
        return task_of(self.task)

    def _canonical_factors(self) -> None:
        """One spelling per value, so that spellings of one number are one setting (and
        one fingerprint): a factor with a float among its values (a user task's) or of a
        float field (the built-in task's) holds floats, `1` as `1.0`, `-0.0` as `0.0`."""
        out = []
        for n, values in self.factors:
            floats = self.tasked.is_float(self, n, values)
            if n != "vary" and floats and all(
                    isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
                values = tuple(float(v) + 0.0 for v in values)
            elif n != "vary" and not self.builtin and floats:
                fail(f"factors.{n}", "mixes numbers with other values")
            out.append((n, tuple(values)))
        object.__setattr__(self, "factors", tuple(out))

    @property
    def builtin(self) -> bool:
        return self.task == ""

    @property
    def float_factors(self) -> frozenset[str]:
        return frozenset(n for n, vs in self.factors
                         if n != "vary" and all(isinstance(v, float) for v in vs))

    def settings(self) -> list[Setting]:
        names = [n for n, _ in self.factors]
        combos = (itertools.product(*(v for _, v in self.factors)) if self.points is None
                  else ([p[n] for n in names] for p in self.points))
        out = []
        for values in combos:
            chosen = dict(zip(names, values))
            where = ", ".join(f"{k}={v!r}" for k, v in chosen.items())
            vary = self.vary
            if "vary" in chosen:
                vary = check_sources("factors.vary", chosen["vary"])
                chosen["vary"] = list(vary)
            factors = tuple((k, chosen[k]) for k in names)
            out.append(Setting(self, factors, vary,
                               **self.tasked.setting(self, chosen, where)))
        return out

    def check(self) -> None:
        """Every check that can be made before training: the task traced once per
        compiled group (user tasks), and the claims' metrics against what it records."""
        recorded = self.tasked.check(self)
        every = set.intersection(*recorded.values()) if recorded else set()
        if self.main_metric not in every:
            fail("main_metric", f"`{self.main_metric}` is not recorded by every setting; "
                 f"recorded: {', '.join(sorted(every))}")
        settings = self.settings()
        for i, c in enumerate(self.claims):
            if c.kind in CURVE_KINDS:  # curves are checked against the stored runs
                continue
            # the claim's own two settings must record its metric
            arms = [s.key for s in settings for side in (c.a, c.b)
                    if all(_plain(dict(s.factors).get(k)) == _plain(v)
                           for k, v in side.items())]
            both = set.intersection(*(recorded[k] for k in arms))
            if c.metric not in both:
                fail(f"claims[{i}].metric", f"`{c.metric}` is not recorded by the claim's "
                     f"settings; they record: {', '.join(sorted(both))}")

    def to_dict(self) -> dict:
        d = {
            "name": self.name, "description": self.description, "question": self.question,
            "seeds": self.seeds, "seed": self.seed, "vary": list(self.vary),
            "main_metric": self.main_metric,
            "factors": {n: [list(x) if isinstance(x, tuple) else x for x in v]
                        for n, v in self.factors},
            "claims": [c.to_dict() for c in self.claims],
        }
        d.update(self.tasked.describe(self))
        if self.targets:  # absent when empty: studies without targets keep their JSON
            d["targets"] = [t.to_dict() for t in self.targets]
        if self.search is not None:
            d["search"] = section_dict(self.search)
        if self.points is not None:
            d["points"] = [dict(p) for p in self.points]
        # absent when empty: the JSON of studies without them stays as it was
        d.update({"strata": list(self.strata)} if self.strata else {},
                 **({"metrics": dict(self.metrics)} if self.metrics else {}))
        return d

    @property
    def fingerprint(self) -> str:
        """Hash of what decides the runs' numbers, and the study's name (not the seed
        count, not the prose): two studies never share or relabel each other's runs."""
        d = self.to_dict()
        keep = {k: d[k] for k in ("name", "seed", "vary", "factors", "points") if k in d}
        keep.update(self.tasked.identity(self))
        keep["engine"] = ENGINE_VERSION
        blob = json.dumps(keep, sort_keys=True, separators=(",", ":"))
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


def _check_targets(targets: Any, claims: tuple[Claim, ...]) -> None:
    if not isinstance(targets, tuple) or not all(isinstance(t, Target) for t in targets):
        fail("targets", "expected a tuple of Target (curve, reach or below)")
    curves = [t.curve for t in targets]
    if len(set(curves)) != len(curves):
        twice = next(c for c in curves if curves.count(c) > 1)
        fail(f"targets[{curves.index(twice, curves.index(twice) + 1)}].curve",
             f"`{twice}` has a target already; one target per curve")
    for i, c in enumerate(claims):
        if c.kind == "time_to_target" and c.metric not in curves:
            have = ", ".join(curves) or "none (add [[targets]])"
            fail(f"claims[{i}].metric", f"`{c.metric}` has no target; a time_to_target "
                 f"claim names a target's curve; targets: {have}")


def _check_name(name: Any) -> None:
    """A name is a file stem in the report and a line in the terminal: short, printable."""
    if not isinstance(name, str) or not name.strip():
        fail("name", "must be a non-empty string")
    if len(name) > MAX_NAME:
        fail("name", f"{len(name)} characters, allowed at most {MAX_NAME}")
    if not name.isprintable() or name != name.strip():
        fail("name", f"{name!r}: use printable characters, no leading or trailing spaces")


def check_runs(n_settings: int, seeds: int, where: str) -> None:
    if n_settings * seeds > MAX_RUNS:
        fail(where, f"{seeds:,} seeds x {n_settings:,} settings = {n_settings * seeds:,} "
             f"runs, allowed at most {MAX_RUNS:,} per study")


def _plain(v: Any) -> Any:
    return tuple(_plain(x) for x in v) if isinstance(v, (list, tuple)) else v


def check_sources(where: str, value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, (list, tuple)):
        fail(where, f"expected a list of seed sources from {', '.join(SOURCES)}")
    for s in value:
        if s == "all":
            return SOURCES
        check_choice(where, s, SOURCES + ("all",))
    return tuple(s for s in SOURCES if s in value)
