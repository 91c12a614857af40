"""The read side: what a store holds of one study, read one way for every reader.

``compare`` (``jaxstab.api``) and the report (``jaxstab.report``) read a study through
``read``: its runs (``StudyResults``), its stored search and, for a study run with
``--until-decided``, its sequential verdicts and looks; the numbers they show then come
from ``jaxstab.stats`` with the statistics' own seed, resample count, metric direction
and setting labels (``stats.RNG_SEED``, ``EXPLORE_RESAMPLES``, ``higher_is_better``,
``label``), as the end-of-run summary's do.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from jaxstab.errors import UserError


@dataclass(frozen=True)
class Stored:
    results: Any  # jaxstab.store.StudyResults
    search: Any = None  # jaxstab.search.SearchResult of a study with [search], or None
    sequential: Any = None  # jaxstab.sequential.SequentialRun of an --until-decided run
    looks: tuple = ()  # its recorded looks (dicts, as stored)


def read(store, fingerprint: str) -> Stored:
    """One stored study, as compare and the report read it."""
    from jaxstab.search import stored_search
    from jaxstab.sequential import stored

    results = store.results(fingerprint)
    sequential, looks = stored(store, results)
    return Stored(results, stored_search(store, fingerprint, results.study), sequential,
                  tuple(looks))


def directions(study: Any, lower_is_better: Any = ()) -> dict[str, bool]:
    """``{metric: higher_is_better}`` declared by the study's [metrics] and, over them,
    the names given as lower-is-better (``--lower-is-better``)."""
    if isinstance(lower_is_better, str):
        lower_is_better = [lower_is_better]
    if not isinstance(lower_is_better, (list, tuple)) or not all(
            isinstance(m, str) for m in lower_is_better):
        raise UserError("lower_is_better: expected a list of metric names")
    out = {m: d == "higher" for m, d in (study.metrics or {}).items()}
    out.update({m: False for m in lower_is_better})
    return out
