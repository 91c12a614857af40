"""The results store: ``open_store(path_or_url)`` gives a ``BaseStore`` (SQLite for a
path, PostgreSQL for a ``postgresql://`` URL); what it reads back is ``StudyResults``."""

from jaxstab.store._base import BaseStore as BaseStore
from jaxstab.store._open import open_store as open_store
from jaxstab.store._results import SettingResults as SettingResults
from jaxstab.store._results import StudyResults as StudyResults
from jaxstab.store._schema import SCHEMA_VERSION as SCHEMA_VERSION
from jaxstab.store._sqlite import SQLiteStore as SQLiteStore
from jaxstab.store._sqlite import Store as Store
