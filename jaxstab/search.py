"""Hyperparameter search over learning rate x weight decay, and what it costs to trust it.

Three methods propose trials: ``grid`` (a log-spaced grid, the same every replicate),
``random`` (log-uniform) and ``bayes`` (Optuna's TPE, asked for ``batch`` trials at a
time with the constant-liar strategy so a batch spreads out). Every batch of trials is
scored over ``seeds`` seeds and trials x seeds train as one vmapped program, through
the sweep's run loop (``jaxstab.sweep.chunks``: one compile for the whole search,
since every call has a fixed size; the out-of-memory fallback and jax.distributed too).

Three rules then pick a configuration from a method's trials: ``best_seed`` (the
highest score of any single seed, as a search that trusts one run does), ``mean`` (the
highest mean over the trial's seeds) and ``lcb`` (the highest lower confidence bound,
mean - z * sd / sqrt(n)). Each pick is re-run on ``fresh_seeds`` seeds never used in the
search: ``optimism`` = search score - fresh score is the winner's curse. The whole
search is repeated ``replicates`` times on disjoint seeds; replicates are the unit of
replication for the verdicts (``jaxstab.stats.verdicts``).

``jaxstab run STUDY`` (``jaxstab.run_study``) runs it after the study's grid, through
the sweep's run loop, storing every run (an interrupted search resumes) and, at the end,
its picks; ``compare`` and the report read the stored picks (no Optuna, no replay).
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from jaxstab.errors import UserError
from jaxstab.search_config import SearchConfig
from jaxstab.study import Setting, Study

RULES = ("best_seed", "mean", "lcb")
# Seed indices: the search of replicate r uses SEARCH_BASE + r * seeds + j, its fresh
# re-runs FRESH_BASE + r * fresh_seeds + j; both far from a study's own 0..seeds-1.
SEARCH_BASE = 100_000
FRESH_BASE = 1_000_000

@dataclass(frozen=True)
class SearchClaim:
    """A claim about search outcomes, read by ``jaxstab.stats.verdicts`` like a study's
    ``Claim`` (whose metrics are a run's; these are a search's)."""

    text: str
    metric: str
    kind: str
    direction: str
    a: dict
    b: dict


_C = SearchClaim
CLAIMS = (
    _C("The best single-seed score overstates the fresh-seed score more than the best "
       "mean does (winner's curse)", "optimism", "mean", "greater",
       {"rule": "best_seed"}, {"rule": "mean"}),
    _C("Selecting by a lower confidence bound gives a better fresh-seed score than "
       "selecting by the mean", "fresh_score", "mean", "greater",
       {"rule": "lcb"}, {"rule": "mean"}),
    _C("Selecting by a lower confidence bound is more consistent across searches",
       "fresh_score", "spread", "less", {"rule": "lcb"}, {"rule": "mean"}),
    _C("Bayesian optimization finds better configurations than random search",
       "fresh_score", "mean", "greater", {"method": "bayes"}, {"method": "random"}),
    _C("Bayesian optimization finds better configurations than grid search",
       "fresh_score", "mean", "greater", {"method": "bayes"}, {"method": "grid"}),
)


def _finite(x: float) -> float | None:
    return x if math.isfinite(x) else None


@dataclass(frozen=True)
class Pick:
    method: str
    rule: str
    replicate: int
    learning_rate: float
    weight_decay: float
    search_score: float  # what the rule saw: the best seed's score, or the trial mean
    fresh_scores: tuple[float, ...]

    def to_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d.update(fresh_scores=[v if math.isfinite(v) else None for v in self.fresh_scores],
                 fresh_score=_finite(self.fresh_score), optimism=_finite(self.optimism),
                 search_score=_finite(self.search_score))
        return d

    @property
    def fresh_score(self) -> float:
        x = np.asarray(self.fresh_scores, float)
        return float(np.nanmean(x)) if np.isfinite(x).any() else float("nan")

    @property
    def optimism(self) -> float:
        return self.search_score - self.fresh_score


@dataclass(frozen=True)
class SearchSetting:
    """Duck-typed like the store's SettingResults, so jaxstab.stats reads it."""

    key: str
    factors: dict
    sources: tuple
    seeds: np.ndarray
    metrics: dict
    diverged: np.ndarray


@dataclass
class SearchResult:
    study: Study
    picks: list[Pick]
    # (method, replicate) -> (points (n, 2), scores (n, seeds))
    trials: dict = field(default_factory=dict)
    runs: int = 0  # trained by this call
    stored: int = 0  # found in ``known`` (the store) instead

    @property
    def settings(self) -> list[SearchSetting]:
        """One setting per rule (pooled over methods; seed = method x replicate) and one
        per method (its `mean` picks; seed = replicate)."""
        methods = list(dict.fromkeys(p.method for p in self.picks))
        reps = max(p.replicate for p in self.picks) + 1
        out = []

        def make(name, value, picks, seed_of):
            seeds = np.array([seed_of(p) for p in picks])
            metrics = {m: np.array([getattr(p, m) for p in picks], float)
                       for m in ("search_score", "fresh_score", "optimism")}
            key = f'{{"{name}":"{value}"}}'
            out.append(SearchSetting(key, {name: value}, ("search",), seeds, metrics,
                                     np.zeros(len(picks), bool)))

        for rule in RULES:
            make("rule", rule, [p for p in self.picks if p.rule == rule],
                 lambda p: methods.index(p.method) * reps + p.replicate)
        for method in methods:
            make("method", method, [p for p in self.picks
                                    if p.method == method and p.rule == "mean"],
                 lambda p: p.replicate)
        return out

    def verdicts(self, claims=CLAIMS, **kwargs):
        from jaxstab.stats import verdicts

        methods = {p.method for p in self.picks}
        usable = [c for c in claims
                  if all(v in methods for v in (c.a.get("method"), c.b.get("method"))
                         if v is not None)]
        return verdicts(self, usable, **kwargs)

    def means(self) -> list[tuple[str, str, int, dict]]:
        """(method, rule, picks, {search_score, fresh_score, optimism: mean over the
        replicates}) for every method and rule; NaN where every pick diverged."""
        out = []
        for method in dict.fromkeys(p.method for p in self.picks):
            for rule in RULES:
                ps = [p for p in self.picks if p.method == method and p.rule == rule]
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore", RuntimeWarning)
                    mean = {a: float(np.nanmean([getattr(p, a) for p in ps]))
                            for a in ("search_score", "fresh_score", "optimism")}
                out.append((method, rule, len(ps), mean))
        return out

    def table(self) -> list[str]:
        reps = len({p.replicate for p in self.picks})
        head = f"{'method':8s} {'rule':10s} {'search':>8s} {'fresh':>8s} {'optimism':>9s}"
        lines = [f"{head}  (means over {reps} replicates)"]
        for method, rule, _, m in self.means():
            lines.append(f"{method:8s} {rule:10s} {m['search_score']:8.4f} "
                         f"{m['fresh_score']:8.4f} {m['optimism']:+9.4f}")
        return lines


# ---------------------------------------------------------------- evaluation


class Missing(Exception):
    """A run the search needs is not in ``known`` and training is off."""


class Evaluator:
    """Scores points (learning rate, weight decay) on seed indices. Runs already in
    ``known`` ((setting key, seed) -> score, e.g. read from the store) are looked up,
    the rest train in calls of exactly ``size`` runs (the last one padded, so one compile
    serves all) and each call's records go to ``on_chunk(records, seconds)`` (the store
    commits them): an interrupted search resumes where it stopped, since every proposal
    is a deterministic function of the scores before it. With ``train=False`` a missing
    run raises ``Missing`` (recomputing a finished search from the store)."""

    def __init__(self, study: Study, size: int, *, known: dict | None = None,
                 on_chunk: Callable | None = None, train: bool = True):
        base = study.settings()[0]
        study.tasked.check_search(base)
        self.study, self.base, self.size = study, base, size
        self.metric = study.main_metric
        self.known = {} if known is None else known
        self.on_chunk, self.train = on_chunk, train
        self.runs = 0  # trained by this evaluator
        self.used: set = set()  # every (setting key, seed) scored

    def setting(self, lr: float, wd: float) -> Setting:
        return self.study.tasked.search_point(self.base, lr, wd)

    def scores(self, pairs) -> np.ndarray:
        """The score of each ((lr, wd), seed) pair; a diverged run scores NaN."""
        import jax

        from jaxstab.runs import Runs
        from jaxstab.sweep import chunks

        wanted = [(self.setting(*point), int(k)) for point, k in pairs]
        self.used.update((s.key, k) for s, k in wanted)
        todo = list({(s.key, k): (s, k) for s, k in wanted
                     if (s.key, k) not in self.known}.values())
        if todo and not self.train:
            raise Missing(f"{len(todo)} search runs are not in the store")
        if todo:
            # The sweep's own loop: fixed-size calls (one compile for the whole search),
            # the out-of-memory fallback and jax.distributed included.
            done = []
            for chunk in chunks(todo, study_seed=self.study.seed, chunk_size=self.size,
                                fixed=True):
                if self.on_chunk is not None and jax.process_index() == 0:
                    self.on_chunk(chunk.runs, chunk.seconds)
                done.append(chunk.runs)
            runs = Runs.concat(done)  # NaN where a run diverged
            self.known.update(zip(runs.pairs(), runs.metrics[self.metric].tolist()))
            self.runs += len(todo)
        return np.array([self.known[(s.key, k)] for s, k in wanted], float)

    def __call__(self, points, seeds) -> np.ndarray:
        pairs = [(tuple(p), int(k)) for p in points for k in seeds]
        return self.scores(pairs).reshape(len(points), len(seeds))


# ---------------------------------------------------------------- proposals


def _log_space(lo: float, hi: float, n: int) -> np.ndarray:
    return np.exp(np.linspace(math.log(lo), math.log(hi), n))


def grid_points(cfg: SearchConfig) -> list[tuple[float, float]]:
    """A g x g log-spaced grid with g*g >= trials, thinned evenly to ``trials`` points."""
    g = math.ceil(math.sqrt(cfg.trials))
    pts = [(lr, wd) for lr in _log_space(*cfg.learning_rate, g)
           for wd in _log_space(*cfg.weight_decay, g)]
    keep = np.unique(np.round(np.linspace(0, len(pts) - 1, cfg.trials)).astype(int))
    return [pts[i] for i in keep]


def random_points(cfg: SearchConfig, rng: np.random.Generator) -> list[tuple[float, float]]:
    lr = np.exp(rng.uniform(*np.log(cfg.learning_rate), cfg.trials))
    wd = np.exp(rng.uniform(*np.log(cfg.weight_decay), cfg.trials))
    return list(zip(lr, wd))


def _batched(points, evaluate, seeds, batch):
    scores = [evaluate(points[i:i + batch], seeds) for i in range(0, len(points), batch)]
    return np.asarray(points, float), np.concatenate(scores)


def _bayes(cfg: SearchConfig, evaluate, seeds, seed: int):
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(seed=seed, n_startup_trials=min(cfg.batch, 10),
                                         constant_liar=True)
    opt = optuna.create_study(direction="maximize", sampler=sampler)
    points, scores = [], []
    while len(points) < cfg.trials:
        asked = [opt.ask() for _ in range(min(cfg.batch, cfg.trials - len(points)))]
        pts = [(t.suggest_float("learning_rate", *cfg.learning_rate, log=True),
                t.suggest_float("weight_decay", *cfg.weight_decay, log=True)) for t in asked]
        sc = evaluate(pts, seeds)
        for t, row in zip(asked, sc):
            # A diverged run scores as the worst possible accuracy, 0.
            opt.tell(t, float(np.mean(np.nan_to_num(row, nan=0.0))))
        points.extend(pts)
        scores.append(sc)
    return np.asarray(points, float), np.concatenate(scores)


# ---------------------------------------------------------------- selection


def select(scores: np.ndarray, rule: str, z: float) -> tuple[int, float]:
    """(index of the chosen trial, the score the rule saw) over (trials, seeds) scores;
    a diverged seed (NaN) counts as the worst."""
    s = np.where(np.isfinite(scores), scores, -np.inf)
    if rule == "best_seed":
        i = int(np.argmax(s.max(axis=1)))
        return i, float(scores[i][np.argmax(s[i])])
    mean = s.mean(axis=1)
    if rule == "mean" or scores.shape[1] < 2:
        key = mean
    else:
        with np.errstate(invalid="ignore"):
            sd = np.where(np.isfinite(mean), scores.std(axis=1, ddof=1), 0.0)
        key = mean - z * sd / math.sqrt(scores.shape[1])
    i = int(np.argmax(key))
    return i, float(mean[i])


def run_search(study: Study, *, replicates: int | None = None,
               progress: Callable[[str], None] | None = None, known: dict | None = None,
               on_chunk: Callable | None = None, train: bool = True) -> SearchResult:
    """Run (or, with ``known`` holding every run and ``train=False``, recompute) the
    search of ``study``; see ``Evaluator`` for ``known`` and ``on_chunk``."""
    cfg = study.search
    if cfg is None:
        raise UserError(f"search: study {study.name} has no [search] section")
    reps = cfg.replicates if replicates is None else replicates
    evaluate = Evaluator(study, cfg.batch * cfg.seeds, known=known, on_chunk=on_chunk,
                         train=train)
    result = SearchResult(study, [])
    pending = []  # (method, rule, replicate, point, search score)
    for r in range(reps):
        seeds = SEARCH_BASE + r * cfg.seeds + np.arange(cfg.seeds)
        for method in cfg.methods:
            if method == "grid":
                pts, sc = _batched(grid_points(cfg), evaluate, seeds, cfg.batch)
            elif method == "random":
                rng = np.random.default_rng([study.seed, r])
                pts, sc = _batched(random_points(cfg, rng), evaluate, seeds, cfg.batch)
            else:
                pts, sc = _bayes(cfg, evaluate, seeds, seed=study.seed * 1000 + r)
            result.trials[(method, r)] = (pts, sc)
            for rule in RULES:
                i, score = select(sc, rule, cfg.lcb_z)
                pending.append((method, rule, r, tuple(pts[i]), score))
            if progress is not None:
                progress(f"replicate {r + 1}/{reps} {method}: {len(pts)} trials")
    # Fresh seeds for every pick, all trained together (a point picked twice trains once).
    fresh = {r: FRESH_BASE + r * cfg.fresh_seeds + np.arange(cfg.fresh_seeds)
             for r in range(reps)}
    values = evaluate.scores([(point, k) for _, _, r, point, _ in pending for k in fresh[r]])
    for i, (method, rule, r, (lr, wd), score) in enumerate(pending):
        vals = values[i * cfg.fresh_seeds:(i + 1) * cfg.fresh_seeds]
        result.picks.append(Pick(method, rule, r, float(lr), float(wd), score,
                                 tuple(float(v) for v in vals)))
    result.runs, result.stored = evaluate.runs, len(evaluate.used) - evaluate.runs
    return result


def picks_to_rows(picks: list[Pick]) -> list[dict]:
    return [dataclasses.asdict(p) for p in picks]


def stored_search(store, fingerprint: str, study: Study) -> SearchResult | None:
    """The search of a study as stored by ``jaxstab run`` (its picks and their fresh
    scores), read without Optuna and without replaying proposals; None when the study
    has no search or it has not finished yet."""
    if study.search is None:
        return None
    rows = store.search_picks(fingerprint)
    if not rows:
        return None
    def num(v):
        return np.nan if v is None else v

    picks = [Pick(**{**r, "search_score": num(r["search_score"]),
                     "fresh_scores": tuple(num(v) for v in r["fresh_scores"])})
             for r in rows]
    return SearchResult(study, picks)
