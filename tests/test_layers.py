"""The shared layers name no paper: a module outside ``medadv_lib/papers/`` may use the papers'
registry (``medadv_lib.papers``: specs, presets, parameter checks) but imports no one paper's
package, so that what only one chapter needs lives in ``papers/<paper>/`` (CONTRIBUTING.md); and
no import loops, between files or between the layers (folders), lazy imports included."""
from __future__ import annotations

import ast
from pathlib import Path

LIB = Path(__file__).resolve().parents[1] / "medadv_lib"


def _imports(source: str, package: list[str]) -> list[str]:
    """Every module ``source`` imports, absolute: relative imports are resolved against
    ``package`` (the importing module's package, e.g. ``["medadv_lib", "metrics"]``)."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[:len(package) - node.level + 1] if node.level else []
            module = ".".join(base + ([node.module] if node.module else []))
            found.append(module)
            if not node.module:                # from .. import x: x may be a module
                found += [f"{module}.{alias.name}" for alias in node.names]
    return found


def _papers_named(path: Path) -> list[str]:
    package = ["medadv_lib", *path.relative_to(LIB).parent.parts]
    return [m for m in _imports(path.read_text(), package) if m.startswith("medadv_lib.papers.")]


def test_no_shared_module_imports_one_papers_package():
    offenders = {str(p.relative_to(LIB)): _papers_named(p) for p in sorted(LIB.rglob("*.py"))
                 if "papers" not in p.relative_to(LIB).parts and _papers_named(p)}
    assert not offenders, f"shared modules importing one paper's code: {offenders}"


def test_the_check_resolves_relative_and_absolute_imports_of_a_paper():
    # the check above could pass by seeing nothing
    source = ("from ..papers.backdoor.published import PUBLISHED\nfrom .. import papers\n"
              "import medadv_lib.papers.smia\nfrom .papers import get_paper\n")
    assert _imports(source, ["medadv_lib", "metrics"]) == [
        "medadv_lib.papers.backdoor.published", "medadv_lib", "medadv_lib.papers", "medadv_lib.papers.smia",
        "medadv_lib.metrics.papers"]
    assert _imports("from .papers.backdoor.published import X\n", ["medadv_lib"]) == [
        "medadv_lib.papers.backdoor.published"]


def _module_graph() -> dict[str, set[str]]:
    """Every module of ``medadv_lib`` to the modules of ``medadv_lib`` it imports, anywhere in the
    file (lazy imports inside functions and ``TYPE_CHECKING`` blocks included). ``from pkg import
    name`` is an arrow to ``pkg.name`` when that is a module, else to ``pkg`` (its ``__init__``)."""
    modules = {}
    for path in LIB.rglob("*.py"):
        parts = ["medadv_lib", *path.relative_to(LIB).with_suffix("").parts]
        package = parts[:-1] if parts[-1] != "__init__" else parts[:-1]
        if parts[-1] == "__init__":
            parts = parts[:-1]
        modules[".".join(parts)] = (path, package)
    graph = {}
    for name, (path, package) in modules.items():
        found = set()
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Import):
                found |= {alias.name for alias in node.names}
            elif isinstance(node, ast.ImportFrom):
                base = package[:len(package) - node.level + 1] if node.level else []
                module = ".".join(base + ([node.module] if node.module else []))
                found |= {f"{module}.{a.name}" if f"{module}.{a.name}" in modules else module for a in node.names}
        graph[name] = {m for m in found if m in modules and m != name}
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected components of more than one node (Tarjan): every import loop."""
    index, low, stack, on, found = {}, {}, [], set(), []

    def visit(v):
        index[v] = low[v] = len(index)
        stack.append(v)
        on.add(v)
        for w in graph.get(v, ()):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in list(graph):
        if v not in index:
            visit(v)
    return found


def _layer(module: str) -> str:
    """A module's layer: its folder below ``medadv_lib`` (``attacks``, ``verdicts``, ...), or the
    module itself at the top (``training``, ``cli``)."""
    parts = module.split(".")
    return ".".join(parts[:2])


def test_no_import_cycle_between_files_or_layers_lazy_imports_included():
    graph = _module_graph()
    assert len(graph) > 60 and graph["medadv_lib.attacks.budget"] >= {"medadv_lib.attacks.base"}
    assert not _cycles(graph), f"import loops between files: {_cycles(graph)}"
    layers: dict[str, set[str]] = {}
    for module, imported in graph.items():
        layers.setdefault(_layer(module), set()).update(_layer(m) for m in imported if _layer(m) != _layer(module))
    # the package's face (medadv_lib/__init__.py) hands names on and is imported by no layer
    assert not _cycles(layers), f"import loops between layers (an arrow running up): {_cycles(layers)}"


def test_the_cycle_check_sees_a_loop_and_a_lazy_import():
    # the checks above could pass by seeing nothing
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert not _cycles({"a": {"b"}, "b": set()})
    # an import inside a function (autoattack_flags) is an arrow too
    assert "medadv_lib.evaluation.flags" in _module_graph()["medadv_lib.papers.robustness_matrix.experiment"]
