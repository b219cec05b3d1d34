"""Layers point down only: core < vocab < transforms < pipeline; trainer uses core (and the
shard schema). Checked by parsing every module's imports, function-level imports included."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "vocab", "transforms", "pipeline", "trainer")
ALLOWED = {
    "core": ("core",),
    "vocab": ("core", "vocab"),
    "transforms": ("core", "vocab", "transforms"),
    "trainer": ("core", "trainer", "transforms.shard_schema"),
}


def project_imports(path: Path) -> list[str]:
    """Every module of this project that `path` imports, at any nesting level."""
    names = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return [n for n in names if n.split(".")[0] in PACKAGES]


def _allowed(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == p or name.startswith(p + ".") for p in prefixes)


def test_project_imports_sees_nested_and_aliased_imports(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("import numpy\nimport pipeline.cli as c\n"
                      "def f():\n    from transforms import stats\n")
    assert project_imports(module) == ["pipeline.cli", "transforms.stats"]


def test_lower_layers_never_import_higher_ones():
    violations = []
    for layer, allowed in ALLOWED.items():
        for path in sorted((ROOT / layer).rglob("*.py")):
            rel = path.relative_to(ROOT).as_posix()
            violations += [f"{rel} imports {name}" for name in project_imports(path)
                           if not _allowed(name, allowed)]
    assert violations == []


def test_nothing_below_pipeline_imports_pipeline():
    offenders = [path.relative_to(ROOT).as_posix()
                 for layer in ("core", "vocab", "transforms", "trainer")
                 for path in sorted((ROOT / layer).rglob("*.py"))
                 if any(name.split(".")[0] == "pipeline" for name in project_imports(path))]
    assert offenders == []
