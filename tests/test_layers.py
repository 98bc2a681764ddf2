"""The core is built in layers, and no module imports from a layer above its own.

Every import in ``ganlab/`` counts, wherever it is written: at the top of a module, inside a function,
or under ``if TYPE_CHECKING:``. A new module must be given a layer here (docs/architecture.md draws the
same picture), so the shape of the house is decided on purpose, not by accident.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "ganlab"

# Lowest first: a module may import from its own layer and the layers below it.
LAYERS = {
    "leaves": ["ganlab.errors", "ganlab.files", "ganlab.config", "ganlab.version", "ganlab.interrupts",
               "ganlab.data", "ganlab.data.*", "ganlab.junk"],
    "libraries": ["ganlab.hookspecs", "ganlab.runs", "ganlab.checkpoints", "ganlab.metrics", "ganlab.classifier",
                  "ganlab.sampling", "ganlab.figures", "ganlab.evaluation", "ganlab.spread", "ganlab.mode_metrics",
                  "ganlab.views", "ganlab.view_player", "ganlab.distributed"],
    "assembly": ["ganlab.plugins", "ganlab.defaults", "ganlab.networks", "ganlab.training_run", "ganlab.loading"],
    "loop": ["ganlab.trainer", "ganlab.observers", "ganlab.observers.*"],
    "top": ["ganlab", "ganlab.api", "ganlab.cli", "ganlab.__main__", "ganlab.jobs"],
}
RANK = {name: rank for rank, name in enumerate(LAYERS)}


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


MODULES = {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def layer_of(module: str) -> str:
    for layer, patterns in LAYERS.items():
        for pattern in patterns:
            if module == pattern or (pattern.endswith(".*") and module.startswith(pattern[:-1])):
                return layer
    raise AssertionError(f"{module} has no layer: add it to LAYERS in tests/test_layers.py")


def imports_of(module: str) -> list[tuple[str, int, bool]]:
    """(imported ganlab module, line, inside a function?) for every import statement in the module."""
    path = MODULES[module]
    tree = ast.parse(path.read_text(), str(path))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found = []
    for node, in_function in walk(tree):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:  # relative import: from the package, up (level - 1) packages
                parents = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join(parents + ([base] if base else []))
            # `from ganlab import api` imports the submodule; `from ganlab import hookimpl` the package.
            targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in MODULES else base for a in node.names]
        else:
            continue
        found += [(resolve(t), node.lineno, in_function) for t in targets if t.split(".")[0] == "ganlab"]
    return found


def resolve(target: str) -> str:
    while target not in MODULES:
        target = target.rpartition(".")[0]
    return target


def walk(tree, in_function=False):
    for node in ast.iter_child_nodes(tree):
        inside = in_function or isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda))
        yield node, inside
        yield from walk(node, inside)


GRAPH = {module: imports_of(module) for module in MODULES}


def test_every_module_has_a_layer():
    for module in MODULES:
        layer_of(module)


@pytest.mark.parametrize("module", sorted(MODULES))
def test_no_module_imports_from_a_layer_above_its_own(module):
    upward = [f"{target} ({layer_of(target)}), line {line}" for target, line, _ in GRAPH[module]
              if RANK[layer_of(target)] > RANK[layer_of(module)]]
    assert not upward, f"{module} ({layer_of(module)}) imports upward: {'; '.join(upward)}"


def test_no_import_cycles():
    edges = {m: {t for t, _, _ in GRAPH[m] if t != m} for m in MODULES}
    done, path = set(), []

    def visit(module):
        if module in path:
            raise AssertionError("import cycle: " + " -> ".join(path[path.index(module):] + [module]))
        if module in done:
            return
        path.append(module)
        for target in sorted(edges[module]):
            visit(target)
        path.pop()
        done.add(module)

    for module in sorted(edges):
        visit(module)


def test_no_function_local_imports_of_ganlab_modules():
    """A function-local import is how a cycle hides; the layers make them unnecessary."""
    local = [f"{module}:{line} imports {target}" for module, imports in GRAPH.items()
             for target, line, in_function in imports if in_function]
    assert not local, "\n".join(local)


def test_the_graph_is_read_from_the_code():
    """The test itself must see real edges, or it would pass on anything."""
    assert any(t == "ganlab.networks" for t, _, _ in GRAPH["ganlab.training_run"])
    assert any(t == "ganlab.api" for t, _, _ in GRAPH["ganlab.cli"])


def test_every_public_name_of_ganlab_resolves_and_lives_in_a_core_module():
    import importlib

    import ganlab

    for name in ganlab.__all__:
        assert getattr(ganlab, name) is not None
    modules = set(ganlab._PUBLIC.values())
    assert all(module in MODULES for module in modules)
    for module in modules:
        importlib.import_module(module)
    assert layer_of("ganlab.data.mnist") == "leaves" and layer_of("ganlab.observers.progress") == "loop"
