"""The structure shows the design (DESIGN.md, "Data flow"): small modules, and no module
importing a layer above its own (lazy imports inside functions included)."""

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1] / "jaxstab"
# study -> task -> sweep -> store -> stats -> report; run_study (api) strings them
# together; the CLI is a shell over it. Lower number: lower layer.
LAYERS = {
    "errors": 0, "_check": 0, "_strata_check": 0, "_signals": 0, "_linalg": 0, "env": 0, "runs": 0,
    "task": 0,
    "builtin.data": 1, "builtin.model_config": 1, "builtin.optim": 1,
    "builtin.metrics": 1, "search_config": 1, "stats": 1,
    "builtin.models": 2, "builtin.train": 3, "usertask": 3, "builtin": 4,
    "tasks": 5, "study": 5, "loader": 5,
    "sweep": 6, "store": 7, "search": 8, "sequential": 8, "units": 8,
    "reading": 9, "summary": 9, "progress": 9, "report": 9,
    "_import_columns": 1, "importer": 10, "api": 10, "_export_cli": 10, "cli": 11, "__init__": 12,
}


def _layer(module: str) -> int:
    parts = module.split(".")
    return next(LAYERS[".".join(parts[:i])] for i in range(len(parts), 0, -1)
                if ".".join(parts[:i]) in LAYERS)


def _modules():
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT).with_suffix("")
        yield path, ".".join(rel.parts)


def test_no_binary_or_archive_is_tracked():
    """Built artifacts (wheels, archives, compiled files) never enter the repository;
    the fixtures (a version-1 store to upgrade) are the exception."""
    import subprocess

    repo = ROOT.parent
    try:
        files = subprocess.run(["git", "ls-files"], cwd=repo, capture_output=True,
                               text=True, check=True).stdout.splitlines()
    except (OSError, subprocess.CalledProcessError):
        pytest.fail("git ls-files failed: the tests run from a git checkout")
    suffixes = (".whl", ".zip", ".tar", ".gz", ".tgz", ".egg", ".so", ".pyc")
    bad = [f for f in files if f.endswith(suffixes) and not f.startswith("tests/fixtures/")]
    assert not bad, bad


def test_no_module_over_400_lines():
    big = {str(p.relative_to(ROOT)): n for p, _ in _modules()
           if (n := len(p.read_text().splitlines())) > 400}
    assert not big, big


def test_no_module_imports_a_layer_above_its_own():
    bad = []
    for path, name in _modules():
        mine = _layer(name)
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ImportFrom) and node.module and \
                    node.module.startswith("jaxstab."):
                target = node.module[len("jaxstab."):]
            elif isinstance(node, ast.Import):
                targets = [a.name[len("jaxstab."):] for a in node.names
                           if a.name.startswith("jaxstab.")]
                target = targets[0] if targets else None
            else:
                continue
            if target and _layer(target) > mine and name.split(".")[0] != "__init__":
                bad.append(f"{name} imports jaxstab.{target}")
    assert not bad, bad


def _is_type_checking(node) -> bool:
    return isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)


def _imports(tree) -> list[str]:
    """Every ``jaxstab.*`` import of a module, lazy ones inside functions included
    (those under ``if TYPE_CHECKING:`` never run and are left out)."""
    out, todo = [], [tree]
    while todo:
        node = todo.pop()
        if _is_type_checking(node):
            continue
        todo.extend(ast.iter_child_nodes(node))
        if isinstance(node, ast.ImportFrom) and node.module and (
                node.module == "jaxstab" or node.module.startswith("jaxstab.")):
            # `from jaxstab.pkg import sub` imports the module jaxstab.pkg.sub
            out.extend(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            out.extend(a.name for a in node.names if a.name.startswith("jaxstab."))
    return out


def import_graph() -> dict[str, set[str]]:
    """module -> the jaxstab modules it imports (``jaxstab.`` left off; a package is
    its ``__init__``: ``builtin.data``)."""
    names = {}
    for path, name in _modules():
        names[name.removesuffix(".__init__") if name != "__init__" else ""] = path
    graph = {}
    for name, path in names.items():
        deps = set()
        for target in _imports(ast.parse(path.read_text())):
            target = target.removeprefix("jaxstab").removeprefix(".")
            while target not in names:  # `from mod import name`: the module is mod
                target = target.rpartition(".")[0]
            if target != name:
                deps.add(target)
        graph[name] = deps
    return graph


def with_tasks(graph) -> dict[str, set[str]]:
    """The graph with the registry's tasks (imported by path, ``jaxstab.tasks``)."""
    from jaxstab.tasks import IMPLEMENTATIONS, USER

    out = {n: set(deps) for n, deps in graph.items()}
    for path in {*IMPLEMENTATIONS.values(), USER}:
        out["tasks"].add(path.partition(":")[0].removeprefix("jaxstab."))
    return out


def _cycle(graph) -> list[str] | None:
    state, stack = {}, []

    def visit(n):
        state[n] = 1
        stack.append(n)
        for m in sorted(graph[n]):
            if state.get(m) == 1:
                return stack[stack.index(m):] + [m]
            if m not in state and (found := visit(m)):
                return found
        stack.pop()
        state[n] = 2
        return None

    for n in sorted(graph):
        if n not in state and (found := visit(n)):
            return found
    return None


def test_no_import_circles():
    graph = with_tasks(import_graph())
    assert _cycle(graph) is None, " -> ".join(_cycle(graph))


def test_the_generic_layers_reach_a_task_only_through_the_contract():
    """study, sweep, store, stats, report, api, cli... never import the built-in task:
    ``jaxstab.task.task_of`` finds it, as it finds a user's ``make_train``."""
    bad = [f"{n} imports {m}" for n, deps in import_graph().items()
           if not n.startswith("builtin") and n != "tasks"
           for m in deps if m.startswith("builtin")]
    assert not bad, bad


def rooms() -> dict[str, set[str]]:
    """The import graph between rooms: a module, a package (``stats``, ``store``,
    ``report``) or one component of the built-in task (``builtin.data``...)."""
    def room(n):
        parts = n.split(".")
        return ".".join(parts[:2] if parts[0] == "builtin" else parts[:1])

    out: dict[str, set[str]] = {}
    for n, deps in import_graph().items():
        out.setdefault(room(n), set()).update(room(m) for m in deps if room(m) != room(n))
    return out


def test_the_import_graph_has_at_most_11_floors():
    """Counted on the static imports: a task (built-in or a user's) is reached by its
    import path through the registry and sits beneath the contract, not beneath the
    generic layers (docs/architecture.md)."""
    graph = rooms()
    floors: dict[str, int] = {}

    def floor(n):
        if n not in floors:
            floors[n] = 1 + max((floor(m) for m in graph[n]), default=0)
        return floors[n]

    top = max(graph, key=floor)
    chain = [top]
    while graph[chain[-1]]:
        chain.append(max(graph[chain[-1]], key=floor))
    assert floor(top) <= 11, " -> ".join(chain)


def test_components_never_import_the_study_layers_vocabularies():
    for comp in ("data", "models", "model_config", "optim", "metrics", "train"):
        for path in [ROOT / "builtin" / f"{comp}.py", *(ROOT / "builtin" / comp).glob("*.py")]:
            if path.exists():
                text = path.read_text()
                assert "jaxstab.study" not in text and "jaxstab.builtin.config" not in text, path


def test_every_builtin_study_passes_its_checks_and_records_what_it_claims():
    """Study.check() resolves claims against what each setting records
    (builtin.recorded_metrics); that list must be what the program really returns."""
    import jax

    from jaxstab.builtin import config as builtin
    from jaxstab.loader import builtin_names, load_study
    from jaxstab.sweep import _inputs, _program

    for name in builtin_names():
        study = load_study(name)
        study.check()
        seen = set()
        for s in study.settings():
            if s.static in seen:
                continue
            seen.add(s.static)
            out = jax.eval_shape(_program(s), *_inputs([s] * 2, [0, 1], study.seed))
            got = set(out["metrics"]) | {"diverged"}
            assert got == builtin.recorded_metrics(s), (name, s.key)
            for t in study.targets:  # a target names a curve the program returns
                assert t.curve in out["curves"], (name, s.key, t.curve)
