"""The import graph of the project: no circles, and the library never imports an application.

Every ``import`` and ``from … import`` statement counts — also the ones inside functions
(a lazy import hides a circle, it does not remove it) — except those under
``if TYPE_CHECKING:``, which never run. Applications are ``service``, ``pipelines``, ``apps``,
``tests`` and ``bench``; only the CLI (``nexus_ml.cli``), the outermost edge of the library,
may import them.
"""

from __future__ import annotations

import ast
import functools
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("nexus_ml", "service", "pipelines", "apps")
APPLICATIONS = ("service", "pipelines", "apps", "tests", "bench")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _type_checking_only(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def imported(path: Path) -> Iterator[str]:
    """The absolute names of the modules ``path`` imports (outside TYPE_CHECKING blocks)."""
    package = module_name(path) if path.name == "__init__.py" else module_name(path.parent)

    def visit(node: ast.AST) -> Iterator[str]:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _type_checking_only(child):
                continue
            if isinstance(child, ast.Import):
                yield from (alias.name for alias in child.names)
            elif isinstance(child, ast.ImportFrom):
                if child.level:
                    base = package.rsplit(".", child.level - 1)[0] if child.level > 1 else package
                    name = f"{base}.{child.module}" if child.module else base
                else:
                    name = child.module or ""
                yield name
                yield from (f"{name}.{alias.name}" for alias in child.names)
            yield from visit(child)

    yield from visit(ast.parse(path.read_text(encoding="utf-8")))


@functools.cache  # three tests read it; parsing every module once is enough
def graph() -> dict[str, set[str]]:
    files = [p for pkg in PACKAGES for p in (ROOT / pkg).rglob("*.py") if (ROOT / pkg).exists()]
    known = {module_name(p): p for p in files}
    edges: dict[str, set[str]] = {}
    for name, path in known.items():
        targets = set()
        for target in imported(path):
            # `from a.b import c` names a module `a.b.c` or an attribute of `a.b`
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target != name:
                targets.add(target)
        edges[name] = targets
    return edges


def cycles(edges: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def strong(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in edges.get(v, ()):
            if w not in index:
                strong(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(edges):
        if v not in index:
            strong(v)
    return found


def _is_package_parent(a: str, b: str) -> bool:
    return b.startswith(a + ".") or a.startswith(b + ".")


def test_no_import_circles() -> None:
    edges = graph()
    # a package's __init__ re-exporting its modules is not a circle of design
    plain = {a: {b for b in bs if not _is_package_parent(a, b)} for a, bs in edges.items()}
    assert cycles(plain) == []


def test_the_library_imports_no_application() -> None:
    offenders = [
        f"{module} imports {target}"
        for module, targets in graph().items()
        if module.startswith("nexus_ml.") and not module.startswith("nexus_ml.cli")
        for target in targets
        if target.split(".")[0] in APPLICATIONS
    ]
    assert offenders == []


def test_the_walker_sees_a_lazy_import_and_skips_type_checking(tmp_path: Path) -> None:
    source = (
        "from typing import TYPE_CHECKING\n"
        "if TYPE_CHECKING:\n    import hidden.only_for_types\n"
        "def f():\n    import lazy.module\n"
    )
    path = ROOT / "nexus_ml" / "_probe_imports.py"
    try:
        path.write_text(source)
        seen = set(imported(path))
    finally:
        path.unlink()
    assert "lazy.module" in seen and "hidden.only_for_types" not in seen


def test_cycles_finds_a_circle() -> None:
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]


# Layers of the library, lowest first: a package may import its own layer and the ones below.
# ``sim`` (the workload generator) feeds ``ingest`` and the service; the models learn from frames;
# the decision core and the engine use the models; evaluation replays all of them.
FORBIDDEN = {
    "nexus_ml.sim": ("nexus_ml.models", "nexus_ml.decide", "nexus_ml.engine", "nexus_ml.evaluate"),
    "nexus_ml.ingest": (
        "nexus_ml.models",
        "nexus_ml.decide",
        "nexus_ml.engine",
        "nexus_ml.evaluate",
    ),
    "nexus_ml.models": ("nexus_ml.decide", "nexus_ml.engine", "nexus_ml.evaluate"),
    "nexus_ml.decide": ("nexus_ml.engine", "nexus_ml.evaluate"),
    "nexus_ml.engine": ("nexus_ml.evaluate",),
}


def layer_violations(edges: dict[str, set[str]]) -> list[str]:
    return [
        f"{module} imports {target}"
        for module, targets in edges.items()
        for low, above in FORBIDDEN.items()
        if module == low or module.startswith(low + ".")
        for target in targets
        if any(target == a or target.startswith(a + ".") for a in above)
    ]


def test_layers_point_down() -> None:
    assert layer_violations(graph()) == []


def test_layer_check_flags_an_upward_import() -> None:
    edges = {"nexus_ml.sim.demand": {"nexus_ml.evaluate.replay.physics"}}
    assert layer_violations(edges) == [
        "nexus_ml.sim.demand imports nexus_ml.evaluate.replay.physics"
    ]
