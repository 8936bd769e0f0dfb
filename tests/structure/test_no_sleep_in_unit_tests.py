"""Unit tests do not sleep: they wait on an injected clock or an event, never on the wall clock.

A ``time.sleep(1.5)`` in a unit test costs every run 1.5 s and still races on a loaded
machine. This walks the syntax trees of ``tests/`` (every ``test_*.py`` and ``conftest.py``)
and fails on a call of ``time.sleep`` or ``asyncio.sleep`` (also imported bare as ``sleep``)
with a literal argument above :data:`LIMIT` in code that a unit test runs: anything not in a
module, class or function marked ``integration`` or ``slow``. Short polls (``sleep(0.02)``
between checks of a condition) stay allowed.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

TESTS = Path(__file__).resolve().parents[1]
LIMIT = 0.05
EXEMPT_MARKS = frozenset({"integration", "slow"})


def _marks(node: ast.expr) -> Iterator[str]:
    """The names of the ``pytest.mark.X`` found in a decorator or ``pytestmark`` value."""
    for sub in ast.walk(node):
        if (
            isinstance(sub, ast.Attribute)
            and isinstance(sub.value, ast.Attribute)
            and sub.value.attr == "mark"
        ):
            yield sub.attr


def _exempt(decorators: list[ast.expr]) -> bool:
    return any(mark in EXEMPT_MARKS for d in decorators for mark in _marks(d))


def _module_exempt(tree: ast.Module) -> bool:
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if any(isinstance(t, ast.Name) and t.id == "pytestmark" for t in targets):
            assert isinstance(node, ast.Assign)
            if any(m in EXEMPT_MARKS for m in _marks(node.value)):
                return True
    return False


def _sleep_names(tree: ast.Module) -> set[str]:
    """Bare names bound to a sleep function (``from time import sleep``)."""
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module in ("time", "asyncio"):
            names |= {a.asname or a.name for a in node.names if a.name == "sleep"}
    return names


def _is_sleep(call: ast.Call, bare: set[str]) -> bool:
    func = call.func
    if isinstance(func, ast.Attribute):
        return (
            func.attr == "sleep"
            and isinstance(func.value, ast.Name)
            and func.value.id in ("time", "asyncio")
        )
    return isinstance(func, ast.Name) and func.id in bare


def _literal_seconds(call: ast.Call) -> float | None:
    arg = call.args[0] if call.args else None
    if arg is None:
        return None
    try:
        value = ast.literal_eval(arg)
    except (ValueError, TypeError):
        return None  # a computed wait (a deadline's remainder): not a fixed sleep
    return float(value) if isinstance(value, int | float) else None


def long_sleeps(source: str) -> Iterator[tuple[int, float]]:
    """(line, seconds) of each sleep above the limit in unit-test code of one file."""
    tree = ast.parse(source)
    if _module_exempt(tree):
        return
    bare = _sleep_names(tree)

    def visit(node: ast.AST) -> Iterator[tuple[int, float]]:
        for child in ast.iter_child_nodes(node):
            decorated = isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef)
            if decorated and _exempt(child.decorator_list):  # type: ignore[union-attr]
                continue
            if isinstance(child, ast.Call) and _is_sleep(child, bare):
                seconds = _literal_seconds(child)
                if seconds is not None and seconds > LIMIT:
                    yield child.lineno, seconds
            yield from visit(child)

    yield from visit(tree)


def test_no_unit_test_sleeps() -> None:
    found = []
    for path in sorted(TESTS.rglob("*.py")):
        if not (path.name.startswith("test_") or path.name == "conftest.py"):
            continue
        source = path.read_text()
        if "sleep" not in source:  # most files: no need to parse them
            continue
        for line, seconds in long_sleeps(source):
            found.append(f"{path.relative_to(TESTS.parent)}:{line} sleeps {seconds:g}s")
    assert not found, (
        "unit tests must not sleep (inject a clock, wait on an event, or mark the test "
        "integration/slow):\n" + "\n".join(found)
    )


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import time\ndef test_a():\n    time.sleep(1.5)\n", [(3, 1.5)]),
        ("import asyncio\nasync def test_a():\n    await asyncio.sleep(1)\n", [(3, 1.0)]),
        ("from time import sleep as nap\ndef helper():\n    nap(0.5)\n", [(3, 0.5)]),
        ("import time\nclass TestA:\n    def test_a(self):\n        time.sleep(2)\n", [(4, 2.0)]),
        ("import time\ndef test_a():\n    time.sleep(0.02)\n", []),
        ("import time\ndef test_a(d):\n    time.sleep(d)\n", []),
        (
            "import time, pytest\n@pytest.mark.integration\ndef test_a():\n    time.sleep(1)\n",
            [],
        ),
        ("import time, pytest\n@pytest.mark.slow\nclass TestA:\n    x = time.sleep(1)\n", []),
        (
            "import time, pytest\npytestmark = [pytest.mark.integration]\n"
            "def test_a():\n    time.sleep(1)\n",
            [],
        ),
        ("def test_a(clock):\n    clock.sleep(60)\n", []),
    ],
)
def test_the_walk_finds_what_it_should(source: str, expected: list[tuple[int, float]]) -> None:
    assert list(long_sleeps(source)) == expected
