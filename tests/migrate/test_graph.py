"""The dependency graph is pure: built in memory, no database, no files."""

from __future__ import annotations

import pytest

from nexus_ml.migrate.errors import CycleError, MigrationInputError, UnknownDependencyError
from nexus_ml.migrate.graph import MigrationGraph, module_units
from nexus_ml.migrate.parser import Migration
from nexus_ml.migrate.sqlsplit import Statement


def mig(key: str, *deps: str, transactional: bool = True) -> Migration:
    module, number = key.split(":")
    return Migration(
        module=module,
        number=number,
        name=f"m{number}",
        up=(Statement("SELECT 1", 1),),
        depends_on=deps,
        transactional=transactional,
        path=f"migrations/{module}/{number}_m.sql",
    )


SEED = [
    mig("agendamento:0001", "crm:0001", "user_management:0001"),
    mig("crm:0002"),
    mig("user_management:0002", "crm:0002", "agendamento:0002"),
    mig("crm:0001", "user_management:0001"),
    mig("agendamento:0002", "crm:0002"),
    mig("user_management:0001"),
]


def keys(ms: tuple[Migration, ...] | list[Migration]) -> list[str]:
    return [m.key for m in ms]


def test_order_puts_every_dependency_first_across_modules() -> None:
    order = keys(MigrationGraph(SEED).order())
    pos = {k: i for i, k in enumerate(order)}
    for m in SEED:
        for dep in m.depends_on:
            assert pos[dep] < pos[m.key], (dep, m.key)
    # implicit edge: a module's migrations keep their numeric order
    assert (
        pos["crm:0001"] < pos["crm:0002"]
        and pos["user_management:0001"] < pos["user_management:0002"]
    )


def test_order_is_deterministic_and_keeps_module_runs_together() -> None:
    a = keys(MigrationGraph(SEED).order())
    b = keys(MigrationGraph(list(reversed(SEED))).order())
    assert (
        a
        == b
        == [
            "user_management:0001",
            "crm:0001",
            "crm:0002",
            "agendamento:0001",
            "agendamento:0002",
            "user_management:0002",
        ]
    )
    units = module_units(MigrationGraph(SEED).order())
    assert [u[0] for u in units] == ["user_management", "crm", "agendamento", "user_management"]


def test_module_order_breaks_ties() -> None:
    ms = [mig("b:0001"), mig("a:0001")]
    assert keys(MigrationGraph(ms).order()) == ["a:0001", "b:0001"]
    assert keys(MigrationGraph(ms, module_order=["b", "a"]).order()) == ["b:0001", "a:0001"]


def test_cycle_is_named_and_a_split_suggested() -> None:
    ms = [mig("crm:0001", "agendamento:0001"), mig("agendamento:0001", "crm:0001")]
    with pytest.raises(CycleError) as err:
        MigrationGraph(ms)
    assert err.value.cycle == ("agendamento:0001", "crm:0001")
    text = str(err.value)
    assert "agendamento:0001 -> crm:0001 -> agendamento:0001" in text
    assert "split agendamento:0001" in text and "foreign key" in text
    assert err.value.path == "migrations/agendamento/0001_m.sql"


def test_longer_cycle_through_implicit_edges() -> None:
    ms = [
        mig("crm:0001"),
        mig("crm:0002", "agendamento:0001"),
        mig("agendamento:0001", "user_management:0001"),
        mig("user_management:0001", "crm:0002"),
    ]
    with pytest.raises(CycleError) as err:
        MigrationGraph(ms)
    assert set(err.value.cycle) == {"crm:0002", "agendamento:0001", "user_management:0001"}


def test_unknown_dependency_names_the_file() -> None:
    with pytest.raises(UnknownDependencyError) as err:
        MigrationGraph([mig("crm:0001", "user_management:0009")])
    assert err.value.dependency == "user_management:0009"
    assert str(err.value) == (
        "migrations/crm/0001_m.sql: depends on unknown migration 'user_management:0009'"
    )


def test_pending_and_descendants() -> None:
    g = MigrationGraph(SEED)
    assert keys(g.pending({"user_management:0001", "crm:0001"}))[0] == "crm:0002"
    assert g.descendants("crm:0002") == {"agendamento:0002", "user_management:0002"}
    assert "user_management:0001" in g.ancestors("user_management:0002")
    plan = g.plan({"user_management:0001"})
    assert plan.modules_in_order == ("crm", "agendamento", "user_management")
    assert plan.steps[0].number == "0001" and plan.steps[0].module == "crm"


def test_transactional_step_cannot_wait_for_a_deferred_one() -> None:
    g = MigrationGraph([mig("crm:0001", transactional=False), mig("agendamento:0001", "crm:0001")])
    with pytest.raises(MigrationInputError, match="non-transactional crm:0001"):
        g.plan()
    assert keys(g.pending({"crm:0001"})) == ["agendamento:0001"]
    g.plan({"crm:0001"})  # fine once the index exists
