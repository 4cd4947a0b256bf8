"""The import graph points one way: each module imports only its own layer and those below.

The layers are DESIGN.md's: the search core (``space`` <- ``trial`` <- ``storage`` <- samplers and
pruners <- ``study``) knows nothing of how trials run, what trains them or how results are
shown, so that it stays small, light to import and easy to extend. Imports under
``TYPE_CHECKING`` are for annotations only and do not count; an import inside a function
counts, since it runs.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

import tunelab

SOURCE = Path(tunelab.__file__).parent

# Lowest first. A module belongs to the layer of its longest listed prefix.
LAYERS: list[tuple[str, ...]] = [
    ("exceptions", "_attrs", "_direction", "_pickling", "registry", "_options", "space",
     "constraints", "quantities", "devices", "logging", "distributions"),
    ("trial",),
    ("storage",),
    ("samplers.base", "pruners.base", "search_space"),
    ("samplers", "pruners"),
    ("heartbeat", "progress", "dataframe", "telemetry", "storages"),
    ("study", "cv", "tunelab", "artifacts"),
    ("execution",),
    ("torch",),
    ("analysis", "viz", "_display", "integrations", "sklearn", "importance", "visualization"),
    ("report", "dashboard", "config", "cli", "testing"),
]

# Deferred imports that go up on purpose, each for a reason that no layering could avoid.
UPWARD_ON_PURPOSE = {
    # optimize(n_jobs=..., executor=...) hands the trials to the runner the call asks for.
    ("tunelab.study.optimize", "tunelab.execution"),
    ("tunelab.study.optimize", "tunelab.execution.dask"),
}

HEAVY = ("scipy", "torch", "pandas", "plotly", "sklearn", "pydantic", "yaml", "typer", "rich")


def layer_of(module: str) -> int:
    name = module.removeprefix("tunelab.") if module != "tunelab" else "tunelab"
    best, depth = None, -1
    for index, prefixes in enumerate(LAYERS):
        for prefix in prefixes:
            if (name == prefix or name.startswith(prefix + ".")) and len(prefix) > depth:
                best, depth = index, len(prefix)
    assert best is not None, f"{module} is in no layer; add it to LAYERS"
    return best


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SOURCE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports(tree: ast.AST) -> Iterator[tuple[str, int]]:
    """(module imported, line) for each tunelab import, outside ``if TYPE_CHECKING:``."""
    for node in ast.iter_child_nodes(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            continue
        if isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names = [node.module]
            if node.module == "tunelab":  # "from tunelab import cv" imports a submodule
                names += [f"tunelab.{a.name}" for a in node.names if (SOURCE / a.name).exists()
                          or (SOURCE / f"{a.name}.py").exists()]
            yield from ((name, node.lineno) for name in names)
        elif isinstance(node, ast.Import):
            yield from ((a.name, node.lineno) for a in node.names)
        yield from imports(node)


def upward_imports() -> list[str]:
    found = []
    for path in sorted(SOURCE.rglob("*.py")):
        importer = module_name(path)
        for imported, line in imports(ast.parse(path.read_text(encoding="utf-8"))):
            if imported.split(".")[0] != "tunelab" or (importer, imported) in UPWARD_ON_PURPOSE:
                continue
            if layer_of(imported) > layer_of(importer):
                found.append(f"{path.relative_to(SOURCE.parent)}:{line}: {importer} -> {imported}")
    return found


def test_no_module_imports_a_layer_above_its_own():
    assert upward_imports() == []


def test_every_module_is_in_a_layer():
    for path in SOURCE.rglob("*.py"):
        layer_of(module_name(path))


@pytest.mark.parametrize(
    ("importer", "imported"),
    [("tunelab.study._study", "tunelab.execution.processes"),
     ("tunelab.trial._trial", "tunelab.study"),
     ("tunelab.samplers.base", "tunelab.samplers.tpe")],
)
def test_an_upward_import_is_seen(importer, imported):
    assert layer_of(imported) > layer_of(importer)


def test_importing_tunelab_loads_no_heavy_library():
    code = (
        "import sys, tunelab; "
        f"print(sorted({{m.split('.')[0] for m in sys.modules}} & set({HEAVY!r})))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"
