"""The HTML statistical report: one self-contained page per study, an index, and a JSON
twin per page. Report data (``_model``) is built apart from rendering (``_render``)."""

from jaxstab.report._model import IndexEntry as IndexEntry
from jaxstab.report._model import IndexReport as IndexReport
from jaxstab.report._model import SettingReport as SettingReport
from jaxstab.report._model import StudyReport as StudyReport
from jaxstab.report._model import build as build
from jaxstab.report._model import build_study as build_study
from jaxstab.report._render import render_index as render_index
from jaxstab.report._render import render_study as render_study
from jaxstab.report._render import study_json as study_json
from jaxstab.report._render import to_toml as to_toml
from jaxstab.report._render import write_report as write_report
