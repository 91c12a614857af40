"""Sequential seed sweeps (``jaxstab run --until-decided``): seeds in rounds, every claim
tested after each round with group-sequential boundaries (``jaxstab.stats``), until each
claim holds, is refuted or cannot be decided within ``--max-seeds``.

A look of ``n`` seeds uses seed indices ``0..n-1`` of the fixed design (seed k is seed k),
so sequential runs are ordinary runs of the study: resumable, exportable, comparable.
The first round trains every setting; later rounds only the settings that undecided
claims still need. Each look is recorded in the store (seeds, per claim: statistic,
boundaries, decision); the decisions are recomputed from the stored runs by a pure
function, so an interrupted run resumes at the look where it stopped, and ``compare`` and
the report show the sequential verdicts (never a fixed-sample verdict of these data).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Callable, Generator

from jaxstab.errors import UserError
from jaxstab.study import Study

DEFAULT_MAX_SEEDS = 512
# Seeds per setting at the first look when --seeds is not given: a large effect is
# decided at 16 seeds, so starting at a study's own count (64 for article/example1)
# would train seeds a clear claim never needed.
DEFAULT_FIRST = 16
CORRECTION = "holm"  # the study's multiplicity correction (as for fixed-design verdicts)


@dataclass
class SequentialRun:
    """What a sequential run's ``rounds`` decided: the look schedule, the looks taken (recorded ones
    included) and the claims' sequential verdicts at the last look taken."""

    schedule: tuple[int, ...]
    looks: int
    verdicts: list

    @property
    def decided(self) -> bool:
        return _decided(self.verdicts)


def check(study: Study, first: int | None, max_seeds: int | None) -> tuple[int, ...]:
    """The look schedule of ``study``; a study without claims has nothing to decide."""
    if not study.claims:
        raise UserError(f"--until-decided: study {study.name} has no claims to decide; "
                        f"run it without --until-decided")
    for i, c in enumerate(study.claims):
        if c.kind == "curve":
            raise UserError(f"claims[{i}].kind: `curve` (max-t over steps) is decided in "
                            f"fixed runs only; run {study.name} without --until-decided")
    from jaxstab.stats import look_schedule
    from jaxstab.stats._sequential import MIN_FIRST

    top = max_seeds or DEFAULT_MAX_SEEDS
    return tuple(look_schedule(first or max(MIN_FIRST, min(DEFAULT_FIRST, top)), top))


def upto(results, seeds: int):
    """``results`` with only the runs of seed index below ``seeds`` (a look's data)."""
    out = []
    for s in results.settings:
        keep = s.seeds < seeds
        out.append(replace(
            s, seeds=s.seeds[keep], diverged=s.diverged[keep],
            diverged_step=s.diverged_step[keep],
            metrics={k: v[keep] for k, v in s.metrics.items()},
            curves={k: v[keep] for k, v in s.curves.items()}))
    return replace(results, settings=out)


def verdicts_at(results, claims, schedule, look: int, targets=None) -> list:
    """The claims' sequential verdicts at ``look`` (0-based), recomputed from the runs
    (``targets``: of time_to_target claims; default the stored study's)."""
    from jaxstab.stats import sequential_verdicts

    data = upto(results, schedule[look])
    if targets is None:
        targets = results.study.targets
    return sequential_verdicts(data.settings, claims, schedule=schedule, upto=look,
                               correction=CORRECTION, targets=targets)


def look_record(schedule, look: int, verdicts, claims=()) -> dict:
    """What the store keeps of one look (with the claims it decided: fixed thereafter)."""
    return {"look": look, "seeds": schedule[look], "schedule": list(schedule),
            "correction": CORRECTION, "claims_def": [c.to_dict() for c in claims],
            "claims": [{"claim": v.claim, "status": v.status, **v.looks[-1].to_dict()}
                       if v.looks else {"claim": v.claim, "status": v.status}
                       for v in verdicts]}


def check_resume(study: Study, db, fingerprint: str, first, max_seeds):
    """(schedule, recorded looks) of a sequential run to start or resume; its stopping
    rule is fixed once a look is taken: the schedule, and the claims it decides (a claim
    edited between an interruption and its resume was decided on the old one for the
    first looks and on the new one after)."""
    schedule = check(study, first, max_seeds)
    recorded = db.looks(fingerprint)
    if not recorded:
        return schedule, recorded
    if tuple(recorded[0].get("schedule") or ()) != schedule:
        was = ", ".join(str(n) for n in recorded[0].get("schedule") or ())
        raise UserError(f"--max-seeds: {study.name} was run sequentially with looks at "
                        f"{was} seeds in {db.location}; give the same --seeds and --max-seeds "
                        f"to resume it (its stopping rule is fixed), or use another --store")
    now = [c.to_dict() for c in study.claims]
    was = recorded[0].get("claims_def")
    same = (_plain(was) == _plain(now) if was is not None else
            [c.get("claim") for c in recorded[0].get("claims", [])] == [c["text"]
                                                                       for c in now])
    if not same:
        raise UserError(f"claims: {study.name} was run sequentially in {db.location} with "
                        f"other claims, and its looks so far decided those; restore them "
                        f"to resume it (its stopping rule is fixed), or use another --store")
    return schedule, recorded


def _plain(x):
    return json.loads(json.dumps(x, sort_keys=True))


def _barrier(name: str) -> None:
    """Under jax.distributed every process decides from the store: wait until process 0
    has committed the round's runs."""
    import jax

    if jax.process_count() > 1:
        from jax.experimental import multihost_utils

        multihost_utils.sync_global_devices(name)


def rounds(study: Study, *, db, fingerprint: str, save: Callable[[int, dict], dict],
           max_seeds: int | None = None, first: int | None = None
           ) -> Generator[tuple[int, set | None], None, SequentialRun]:
    """The rounds of the look schedule until every claim is decided, driven by the
    caller: each yields ``(n, only)``, and the caller trains the runs of seed index
    below ``n`` of the settings whose keys are in ``only`` (None: all) that the store
    does not hold (``api._train``) before asking for the next; the look is then taken
    and ``save(look, record)`` commits its record unless another worker on the store
    committed it first, and returns the record kept (``BaseStore.write_look``). Returns
    (as ``StopIteration.value``) what the rounds decided."""
    import jax

    from jaxstab.stats import seeds_to_run

    schedule, recorded = check_resume(study, db, fingerprint, first, max_seeds)
    start = len(recorded)
    # Decisions of looks taken before an interruption are recomputed from the runs.
    verdicts = [] if start == 0 else verdicts_at(db.results(fingerprint), study.claims,
                                                  schedule, start - 1, study.targets)
    taken = start
    for look in range(start, len(schedule)):
        if look > 0 and _decided(verdicts):
            break
        # the first round trains every setting; later ones what undecided claims need
        only = None if look == 0 else set(seeds_to_run(verdicts))
        yield schedule[look], only
        _barrier(f"jaxstab look {fingerprint} {look}")
        verdicts = verdicts_at(db.results(fingerprint), study.claims, schedule, look,
                               study.targets)
        if jax.process_index() == 0:
            verdicts = adopt(verdicts, save(look, look_record(schedule, look, verdicts,
                                                              study.claims)), schedule)
        taken = look + 1
    return SequentialRun(schedule, taken, verdicts)


def adopt(verdicts: list, record: dict | None, schedule) -> list:
    """``verdicts`` with the decisions of the look ``record`` the store kept: several
    workers finish a round, and the first to commit its look decides it for all (the
    same runs give the same decisions; this keeps the workers in step even where two
    hosts' floating point would round a statistic at a boundary differently)."""
    if not record:
        return verdicts
    kept = {c["claim"]: c["status"] for c in record.get("claims", ())}
    out = []
    for v in verdicts:
        status = kept.get(v.claim, v.status)
        if status != v.status:
            look = record["look"]
            more = status == "undecided" and look + 1 < len(schedule)
            need = tuple(k for k in (v.setting_a, v.setting_b) if k) if more else ()
            v = replace(v, status=status, settings_needed=need,
                        next_seeds=schedule[look + 1] if more else 0)
        out.append(v)
    return out


def _decided(verdicts) -> bool:
    return all(v.status != "undecided" for v in verdicts)


def stored(db, results) -> tuple[SequentialRun | None, list[dict]]:
    """The sequential verdicts of a stored study that was run with ``--until-decided``
    (recomputed from its runs at its recorded looks, with its stored claims: they fixed
    the stopping rule) and the recorded looks; (None, []) for a fixed design."""
    looks = db.looks(results.fingerprint)
    if not looks:
        return None, []
    schedule = looks[0].get("schedule") if isinstance(looks[0], dict) else None
    if not (isinstance(schedule, list) and schedule and len(looks) <= len(schedule)):
        # (version 1 of the store recorded looks without their schedule)
        raise UserError(f"study: {results.study.name}'s recorded looks have no look "
                        f"schedule (an older jaxstab wrote them), so its sequential "
                        f"verdicts cannot be recomputed; run it again with "
                        f"--until-decided into another --store")
    schedule = tuple(schedule)
    last = len(looks) - 1
    return SequentialRun(schedule, last + 1,
                         verdicts_at(results, results.study.claims, schedule, last)), looks
