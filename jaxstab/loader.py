"""Loading studies: built-in names and TOML files, one loader that rejects unknown keys
("unknown key `lerning_rate` in [train]; did you mean `learning_rate`?") and bad values,
naming the field."""

from __future__ import annotations

import dataclasses
import difflib
import sys
import tomllib
from pathlib import Path
from typing import Any, Mapping

from jaxstab._check import check_type, fail, import_root, is_trusted, unknown_key
from jaxstab.errors import UserError
from jaxstab.search_config import SearchConfig
from jaxstab.study import Claim, Study, Target, check_sources
from jaxstab.tasks import task_of

_TOP = {f.name for f in dataclasses.fields(Study)}
_STUDIES = Path(__file__).resolve().parent / "studies"


def _field_types(cls) -> dict[str, Any]:
    return {f.name: f.type for f in dataclasses.fields(cls)}


def _sections() -> dict[str, type]:
    """The tables of the built-in task: a user task's study naming one is refused."""
    return dict(task_of("").sections)


def _section(origin: str, name: str, v: Any, root: Path | None):
    if not isinstance(v, Mapping):
        fail(f"{origin}: [{name}]", "expected a table")
    cls = _sections().get(name, SearchConfig)
    types = _field_types(cls)
    v = dict(v)
    # `source` / `digest` are set when a model / file is read: a store keeps them.
    internal = () if is_trusted() else ("source", "digest")
    for k, x in v.items():
        if k not in types or k in internal:
            unknown_key(f"{origin}: [{name}]", k, [t for t in types if t not in internal])
        check_type(f"{name}.{k}", x, types[k])
    if name == "data" and "path" in v and root is not None:
        # A data file is found relative to the study file that names it.
        v["path"] = str((root / v["path"]).resolve())
    return cls(**v)


def _tables(origin: str, section: str, v: Any, allowed):
    """(index, table) of an array of tables ``[[section]]``, its keys among ``allowed``."""
    if not isinstance(v, list):
        fail(section, f"expected an array of tables ([[{section}]])")
    for i, t in enumerate(v):
        if not isinstance(t, Mapping):
            fail(f"{section}[{i}]", "expected a table")
        for k in t:
            if k not in allowed:
                unknown_key(f"{origin}: [[{section}]]", k, allowed)
        yield i, t


def _claims(origin: str, v: Any) -> tuple[Claim, ...]:
    claims = []
    fields = _field_types(Claim)
    for i, c in _tables(origin, "claims", v, fields):
        missing = [k for k in fields if k not in c and k != "statistic"]
        if missing:
            fail(f"claims[{i}]", f"missing key `{missing[0]}`")
        for side in ("a", "b"):
            if not isinstance(c[side], Mapping):
                fail(f"claims[{i}].{side}", "expected a table of factor values")
        for k, typ in fields.items():
            if typ == "str" and k in c:
                check_type(f"claims[{i}].{k}", c[k], typ)
        claims.append(Claim(**{k: c[k] for k in fields if k in c}))
    return tuple(claims)


def _targets(origin: str, v: Any) -> tuple[Target, ...]:
    out = []
    for i, t in _tables(origin, "targets", v, ("curve", "reach", "below")):
        if "curve" not in t:
            fail(f"targets[{i}]", "missing key `curve`")
        check_type(f"targets[{i}].curve", t["curve"], "str")
        out.append(Target(t["curve"], t.get("reach"), t.get("below"), where=f"targets[{i}]"))
    return tuple(out)


def _factors(v: Any) -> tuple:
    if not isinstance(v, Mapping):
        fail("factors", "expected a table of lists")
    facs = []
    for k, vals in v.items():
        if not isinstance(vals, list):
            fail(f"factors.{k}", f"expected a list of values, got {vals!r}")
        facs.append((k, tuple(tuple(x) if isinstance(x, list) and k != "vary" else x
                              for x in vals)))
    return tuple(facs)


def study_from_dict(d: Mapping[str, Any], origin: str = "study", *,
                    root: Path | None = None) -> Study:
    """Build a study from parsed TOML, rejecting unknown keys and bad values."""
    if not isinstance(d, Mapping):
        fail(origin, "expected a table")
    for k in d:
        if k not in _TOP:
            unknown_key(origin, k, _TOP)
    kwargs: dict[str, Any] = {}
    sections = _sections()
    for name, typ in _field_types(Study).items():
        if name not in d:
            continue
        v = d[name]
        if name in sections or name == "search":
            kwargs[name] = _section(origin, name, v, root)
        elif name == "factors":
            kwargs[name] = _factors(v)
        elif name == "claims":
            kwargs[name] = _claims(origin, v)
        elif name == "targets":
            kwargs[name] = _targets(origin, v)
        elif name == "vary":
            kwargs[name] = check_sources("vary", v)
        elif name in ("config",):
            if not isinstance(v, Mapping):
                fail(f"{origin}: [{name}]", "expected a table")
            kwargs[name] = dict(v)
        elif name == "points":
            if not isinstance(v, list) or not all(isinstance(p, Mapping) for p in v):
                fail("points", "expected an array of tables")
            kwargs[name] = tuple(dict(p) for p in v)
        elif name == "strata":
            if isinstance(v, str):
                v = [v]
            if not isinstance(v, list) or not all(isinstance(x, str) for x in v):
                fail("strata", "expected a list of factor names")
            kwargs[name] = tuple(v)
        elif name == "metrics":
            if not isinstance(v, Mapping):
                fail(f"{origin}: [metrics]", 'expected a table {metric = "higher" | '
                     '"lower"}')
            kwargs[name] = dict(v)
        elif name == "task":
            kwargs[name] = check_type("task", v, "str")
        else:
            kwargs[name] = check_type(name, v, typ)
    if "name" not in kwargs:
        fail(origin, "missing key `name`")
    if "task" in kwargs and any(s in kwargs for s in sections):
        fail(origin, f"[{next(s for s in sections if s in kwargs)}] is for the built-in "
             f"task; a user's task takes its settings in [config]")
    return Study(**kwargs)


def builtin_names() -> list[str]:
    names = []

    def walk(node, prefix):
        for child in sorted(node.iterdir(), key=lambda c: c.name):
            if child.is_dir():
                walk(child, f"{prefix}{child.name}/")
            elif child.name.endswith(".toml"):
                names.append(prefix + child.name[: -len(".toml")])

    walk(_STUDIES, "")
    return names


def parse_toml(text: str, origin: str) -> dict:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as e:
        raise UserError(f"{origin}: invalid TOML: {e}") from None
    except RecursionError:  # tomllib parses nested arrays and tables recursively
        raise UserError(f"{origin}: invalid TOML: arrays or tables nested too deeply") \
            from None


def read_toml(ref: str) -> dict:
    path = Path(ref)
    try:
        text = path.read_text(encoding="utf-8")  # what TOML files are
    except OSError as e:
        raise UserError(f"{ref}: cannot read study file ({e.strerror})") from None
    except UnicodeDecodeError as e:
        raise UserError(f"{ref}: invalid TOML: not UTF-8 (byte {e.start})") from None
    return parse_toml(text, ref)


def importable(folder: Path) -> None:
    """The study file's own folder is importable (its task and model modules)."""
    folder = str(folder.resolve())
    if folder not in sys.path:
        sys.path.insert(0, folder)


def load_study(ref: str) -> Study:
    """A built-in study name or the path of a TOML file."""
    if ref in builtin_names():
        text = (_STUDIES / f"{ref}.toml").read_text()
        return study_from_dict(parse_toml(text, ref), ref)
    path = Path(ref)
    if ref.endswith(".toml") or path.exists():
        d = read_toml(ref)
        importable(path.parent)
        with import_root(path.parent.resolve()):
            return study_from_dict(d, ref, root=path.parent.resolve())
    hint = difflib.get_close_matches(ref, builtin_names(), n=1)
    extra = f"; did you mean `{hint[0]}`?" if hint else "; see `jaxstab list`"
    raise UserError(f"study: unknown study `{ref}`{extra}")


# Names of groups of built-in studies: `article` (the article's studies) and `suite`
# (the benchmark suites: studies with strata, judged across them).
GROUPS = {"article": "the article's studies", "suite": "the built-in benchmark suite(s)"}


def expand_refs(refs: list[str]) -> list[Study]:
    """`article` names the whole article suite, `suite` the built-in benchmark suite;
    load (and so validate) every study."""
    out = []
    for ref in refs:
        if ref in GROUPS:
            out.extend(load_study(n) for n in builtin_names() if n.startswith(ref + "/"))
        else:
            out.append(load_study(ref))
    return out
