"""The package imports one way: no import cycle anywhere in ``audioclf/``, not even inside a function."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "audioclf"


def _module_name(path: Path, package: Path) -> str:
    parts = list(path.relative_to(package.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _resolve(current: str, is_package: bool, level: int, module: str | None) -> str:
    base = current.split(".") if is_package else current.split(".")[:-1]
    if level > 1:
        base = base[: len(base) - (level - 1)]
    return ".".join([*base, *([module] if module else [])])


def import_graph(package: Path = PACKAGE) -> dict[str, set[str]]:
    """Every audioclf module -> the audioclf modules it imports (module level and inside functions).

    ``import a.b.c`` runs ``a.b.c`` and the packages above it; ``from a import n`` runs ``a.n`` when ``n``
    is a submodule, else the package ``a`` itself (its ``__init__``). The packages that hold the importing
    module are already running when it runs, so they count only when a name is taken from them
    (``from . import __version__``: the ``__init__`` that re-exports the module must have run first).
    """
    files = {_module_name(p, package): p for p in package.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for name, path in files.items():
        is_package = path.name == "__init__.py"
        holders = {".".join(name.split(".")[:i]) for i in range(1, name.count(".") + 1)}
        deps: set[str] = set()

        def add(module: str, *, explicit: bool, deps=deps, holders=holders, name=name) -> None:
            parts = module.split(".")
            for i in range(1, len(parts) + 1):
                candidate = ".".join(parts[:i])
                last = i == len(parts)
                if candidate in files and candidate != name and (candidate not in holders or (last and explicit)):
                    deps.add(candidate)

        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), filename=str(path))):
            if isinstance(node, ast.Import):
                for alias in node.names:
                    add(alias.name, explicit=False)
            elif isinstance(node, ast.ImportFrom):
                base = _resolve(name, is_package, node.level, node.module) if node.level else node.module or ""
                for alias in node.names:
                    if f"{base}.{alias.name}" in files:
                        add(f"{base}.{alias.name}", explicit=False)
                    else:
                        add(base, explicit=True)
        graph[name] = deps
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One import cycle as a list of module names (first repeated at the end), or None."""
    state: dict[str, int] = {}  # 1 on the current path, 2 finished
    stack: list[str] = []

    def visit(node: str) -> list[str] | None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                return [*stack[stack.index(nxt):], nxt]
            if nxt not in state and (cycle := visit(nxt)):
                return cycle
        stack.pop()
        state[node] = 2
        return None

    for node in sorted(graph):
        if node not in state and (cycle := visit(node)):
            return cycle
    return None


def test_no_import_cycle_in_the_package():
    cycle = find_cycle(import_graph())
    assert cycle is None, "import cycle: " + " -> ".join(cycle)


def test_cycle_finder_names_a_cycle(tmp_path):
    pkg = tmp_path / "audioclf"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__init__.py").write_text("")
    (pkg / "low.py").write_text("import os\n")
    (pkg / "a.py").write_text("from . import low\n\ndef f():\n    from .sub.b import g\n")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "b.py").write_text("from ..a import f\n")
    graph = import_graph(pkg)
    assert graph["audioclf.a"] == {"audioclf.low", "audioclf.sub", "audioclf.sub.b"}
    assert find_cycle(graph) == ["audioclf.a", "audioclf.sub.b", "audioclf.a"]
    (pkg / "sub" / "b.py").write_text("from ..low import os\n")
    assert find_cycle(import_graph(pkg)) is None
    # a name taken from the package above: its __init__, which imports this module, must run first
    (pkg / "__init__.py").write_text("from .low import os\n__version__ = '1'\n")
    (pkg / "low.py").write_text("from . import __version__\n")
    assert find_cycle(import_graph(pkg)) == ["audioclf", "audioclf.low", "audioclf"]
