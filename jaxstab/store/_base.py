"""The store's contract, in the shape of Optuna's ``BaseStorage``.

A backend is a class implementing ``BaseStore``, opened by ``open_store`` (``_open``);
the SQL backends share everything but their ``Dialect`` and how they connect
(``jaxstab.store._sql``), so a third one is one new module.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator
from typing import TYPE_CHECKING

from jaxstab.errors import UserError

if TYPE_CHECKING:  # (the study layer imports JAX; exporting a store needs none of it)
    from jaxstab.store._leases import Heartbeat, Taken
    from jaxstab.store._results import StudyResults
    from jaxstab.study import Study


class BaseStore(abc.ABC):
    """A results store: studies, their runs (committed a chunk at a time, each chunk in
    one transaction), the leases processes share a study's work by, a sequential run's
    looks, a search's picks. ``location``: the path or URL (passwords hidden), for
    messages."""

    location: str
    where: str  # what open_store opens again (another process's own connection)
    name: str  # a short name for the store, shown in the report

    # --- studies and versions
    @abc.abstractmethod
    def ensure_study(self, study: Study) -> str:
        """Record ``study`` (created or its config refreshed); its fingerprint."""

    @abc.abstractmethod
    def studies(self) -> list[tuple[str, str, float]]:
        """(name, fingerprint, last run) of every study, the most recently run version
        of a name last."""

    def latest(self, name: str) -> str:
        """The fingerprint of the most recently run version of ``name``."""
        rows = self.versions(name)
        if not rows:
            known = sorted({n for n, _, _ in self.studies()})
            raise UserError(f"study: no results for `{name}` in {self.location}; it holds: "
                            f"{', '.join(known) or 'nothing'}")
        return rows[-1]

    def versions(self, name: str) -> list[str]:
        """Every stored version (fingerprint) of ``name``, the most recently run last."""
        return [fp for n, fp, _ in self.studies() if n == name]

    # --- runs
    @abc.abstractmethod
    def write_chunk(self, fingerprint: str, records, seconds: float, env: dict, *,
                    release: tuple[str, str] | None = None) -> int:
        """Commit one chunk's runs atomically, leaving runs already stored alone;
        ``release``: (unit, owner) of a lease given back in the same transaction.
        Returns the runs added."""

    @abc.abstractmethod
    def results(self, fingerprint: str) -> StudyResults:
        """A study's runs as NumPy arrays per setting."""

    @abc.abstractmethod
    def seeds_by_setting(self, fingerprint: str) -> dict:
        """Setting key -> the sorted seeds stored for it."""

    @abc.abstractmethod
    def values(self, fingerprint: str, metric: str) -> dict[tuple[str, int], float]:
        """(setting, seed) -> ``metric`` of every stored run (NaN where it diverged)."""

    def done(self, fingerprint: str) -> set[tuple[str, int]]:
        return {(k, s) for k, seeds in self.seeds_by_setting(fingerprint).items()
                for s in seeds.tolist()}

    @abc.abstractmethod
    def export_rows(self, curves: bool = False) -> Iterator[tuple]:
        """(study, fingerprint, setting, seed, metric, value, diverged, diverged_step),
        ordered by study name, fingerprint, setting, seed and metric, streamed.
        ``curves``: a ``step`` ends each row, and the curves follow each run's metrics,
        a row per (curve, step)."""

    # --- chunk sizes: runs are bit-identical only at one chunk size
    @abc.abstractmethod
    def chunk_size(self, fingerprint: str) -> int | None:
        """The chunk size of the study's last recorded chunk (stores from before sizes
        were agreed per group)."""

    @abc.abstractmethod
    def group_chunk_size(self, fingerprint: str, group: str, size: int | None = None
                         ) -> int | None:
        """The chunk size agreed for one compiled group: the first to give one records
        it. None: none recorded for this group; -1: none for any group of the study."""

    # --- leases between processes (jaxstab.units)
    @abc.abstractmethod
    def take_lease(self, fingerprint: str, owner: str, units: list, timeout: float
                   ) -> Taken:
        """Lease the first free unit with runs left to store."""

    @abc.abstractmethod
    def release_leases(self, owner: str) -> None:
        """Give back every lease of ``owner``."""

    @abc.abstractmethod
    def heartbeat(self, owner: str, timeout: float) -> Heartbeat:
        """Start renewing ``owner``'s leases from a thread of its own (``stop()``)."""

    # --- sequential looks and search picks
    @abc.abstractmethod
    def write_look(self, fingerprint: str, look: int, value: dict) -> dict:
        """Record a look unless one is recorded already; the recorded one (the first
        worker to finish a round decides it, the others read its decision)."""

    @abc.abstractmethod
    def looks(self, fingerprint: str) -> list[dict]:
        """The recorded looks of a sequential run, in order ([] for a fixed design)."""

    @abc.abstractmethod
    def write_search_picks(self, fingerprint: str, rows: list[dict]) -> None:
        """A finished search's picks, replacing any earlier copy."""

    @abc.abstractmethod
    def search_picks(self, fingerprint: str) -> list[dict]:
        ...

    @abc.abstractmethod
    def close(self) -> None:
        ...

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        self.close()
