"""The structure shows the design (DESIGN.md, "Data flow"): small modules, and no module
importing a layer above its own (lazy imports inside functions included)."""

import ast
from pathlib import Path

ROOT = Path(__file__).parents[1] / "jaxstab"
# study -> task -> sweep -> store -> stats -> report; run_study (api) strings them
# together; the CLI is a shell over it. Lower number: lower layer.
LAYERS = {
    "errors": 0, "_check": 0, "_signals": 0, "_linalg": 0, "env": 0, "runs": 0,
    "data": 1, "model_config": 1, "optim": 1, "metrics": 1, "search_config": 1,
    "stats": 1,
    "models": 2, "train": 3, "usertask": 3, "builtin": 4,
    "study": 5, "loader": 5,
    "sweep": 6, "store": 7, "search": 8, "sequential": 8, "units": 8,
    "summary": 9, "progress": 9, "report": 9,
    "importer": 10, "api": 10, "cli": 11, "__init__": 12,
}


def _layer(module: str) -> int:
    return LAYERS[module.split(".")[0]]


def _modules():
    for path in ROOT.rglob("*.py"):
        rel = path.relative_to(ROOT).with_suffix("")
        yield path, ".".join(rel.parts)


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


def test_components_never_import_the_study_layers_vocabularies():
    for comp in ("data", "models", "model_config", "optim", "metrics", "train"):
        for path in [ROOT / f"{comp}.py", *(ROOT / comp).glob("*.py")]:
            if path.exists():
                text = path.read_text()
                assert "jaxstab.study" not in text and "jaxstab.builtin" not in text, path


def test_every_builtin_study_passes_its_checks_and_records_what_it_claims():
    """Study.check() resolves claims against what each setting records
    (builtin.recorded_metrics); that list must be what the program really returns."""
    import jax

    from jaxstab import builtin
    from jaxstab.study import builtin_names, load_study
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
