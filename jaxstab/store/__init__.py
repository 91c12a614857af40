"""The SQLite results store (``Store``) and what it reads back (``StudyResults``)."""

from jaxstab.store._results import SettingResults as SettingResults
from jaxstab.store._results import StudyResults as StudyResults
from jaxstab.store._schema import SCHEMA_VERSION as SCHEMA_VERSION
from jaxstab.store._store import Store as Store
