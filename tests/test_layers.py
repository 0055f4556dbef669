"""The shared layers name no paper: a module outside ``medadv_lib/papers/`` may use the papers'
registry (``medadv_lib.papers``: specs, presets, parameter checks) but imports no one paper's
package, so that what only one chapter needs lives in ``papers/<paper>/`` (CONTRIBUTING.md)."""
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
