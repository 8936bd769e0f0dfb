"""Impact analysis, the database map, its generated doc and the pure drift comparison."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from nexus_ml.catalog import load_catalog
from nexus_ml.domain.migration import ChangeType
from nexus_ml.errors import ConfigError
from nexus_ml.migrate.changes import statement_changes
from nexus_ml.migrate.dbmap import BUNDLED_MAP, load_map
from nexus_ml.migrate.docs import render_markdown
from nexus_ml.migrate.errors import UnknownMigrationError
from nexus_ml.migrate.graph import MigrationGraph
from nexus_ml.migrate.impact import analyse_impact
from nexus_ml.migrate.introspect import Snapshot, compare
from nexus_ml.migrate.parser import load_migrations

from .conftest import EXAMPLES, ROOT


@pytest.fixture(scope="module")
def graph() -> MigrationGraph:
    return MigrationGraph(load_migrations(EXAMPLES))


def test_impact_of_crm_0002_reaches_agendamento_and_user_management(graph: MigrationGraph) -> None:
    report = analyse_impact(graph, load_map(), "crm:0002")
    first = report.changes[0]
    assert (first.table, first.column, first.change_type) == (
        "customers",
        "telefone2",
        ChangeType.ADD_COLUMN,
    )
    assert ChangeType.ADD_CONSTRAINT in {c.change_type for c in report.changes}
    assert report.modules == ("agendamento", "user_management")
    vias = {(a.module, a.target, a.change_type, a.via.split(" (")[0]) for a in report.affected}
    assert (
        "agendamento",
        "crm.customers.telefone2",
        ChangeType.ADD_COLUMN,
        "view agendamento.appointment_contacts",
    ) in vias
    assert (
        "user_management",
        "crm.customers.telefone2",
        ChangeType.ADD_COLUMN,
        "declared usage user_management",
    ) in vias
    assert (
        "agendamento",
        "crm.customers.id",
        ChangeType.ADD_COLUMN,
        "foreign key agendamento.appointments.customer_id",
    ) in vias
    assert (
        "agendamento",
        "agendamento.contact_notifications",
        ChangeType.ADD_TABLE,
        "migration agendamento:0002 depends on crm:0002",
    ) in vias
    assert (
        "user_management",
        "user_management.contact_origins",
        ChangeType.ADD_TABLE,
        "migration user_management:0002 depends on crm:0002",
    ) in vias


def test_impact_of_a_leaf_touches_only_its_module(graph: MigrationGraph) -> None:
    report = analyse_impact(graph, load_map(), "user_management:0002")
    assert report.modules == ()
    assert [c.change_type for c in report.changes] == [ChangeType.ADD_TABLE]


def test_impact_of_unknown_migration(graph: MigrationGraph) -> None:
    with pytest.raises(UnknownMigrationError, match="crm:0042"):
        analyse_impact(graph, load_map(), "crm:0042")


@pytest.mark.parametrize(
    ("sql", "expected"),
    [
        (
            "ALTER TABLE crm.c DROP COLUMN IF EXISTS x, ADD COLUMN y int",
            [(ChangeType.REMOVE_COLUMN, "x"), (ChangeType.ADD_COLUMN, "y")],
        ),
        ("ALTER TABLE ONLY crm.c ALTER COLUMN x TYPE bigint", [(ChangeType.ALTER_COLUMN, "x")]),
        (
            "ALTER TABLE crm.c ADD CONSTRAINT k FOREIGN KEY (o) REFERENCES u.u (id) NOT VALID",
            [(ChangeType.ADD_CONSTRAINT, "o")],
        ),
        ("CREATE UNIQUE INDEX CONCURRENTLY i ON crm.c (x)", [(ChangeType.ADD_CONSTRAINT, None)]),
        ("DROP TABLE IF EXISTS crm.c", [(ChangeType.REMOVE_TABLE, None)]),
        ("CREATE FUNCTION crm.f() RETURNS int AS $$ SELECT 1 $$ LANGUAGE sql", []),
    ],
)
def test_statement_changes(sql: str, expected: list[tuple[ChangeType, str | None]]) -> None:
    assert [(c.change_type, c.column) for c in statement_changes("crm", sql)] == expected


def test_generated_doc_is_up_to_date() -> None:
    doc = ROOT / "docs" / "nexus_database_map.md"
    assert doc.read_text() == render_markdown(load_map()), (
        "docs/nexus_database_map.md is out of date: run "
        "`nexus-ml migrate map --write-docs docs/nexus_database_map.md`"
    )


def test_map_rejects_a_reference_to_an_unknown_column(tmp_path: Path) -> None:
    raw = yaml.safe_load(BUNDLED_MAP.read_text())
    raw["references"].append(
        {
            "kind": "foreign_key",
            "from": "crm.customers.owner_id",
            "to": "user_management.users.nope",
        }
    )
    path = tmp_path / "map.yaml"
    path.write_text(yaml.safe_dump(raw))
    with pytest.raises(ConfigError, match=r"user_management\.users\.nope"):
        load_map(path)


def test_compare_reports_each_kind_of_drift() -> None:
    dbmap = load_map()
    snap = Snapshot(schemas=set(dbmap.schemas))
    for m in dbmap.modules:
        for t, cols in m.tables.items():
            snap.tables[f"{m.schema_name}.{t}"] = dict(cols)
        snap.views |= {f"{m.schema_name}.{v}" for v in m.views}
    snap.foreign_keys = {(r.source, r.to) for r in dbmap.references if r.kind == "foreign_key"}
    assert compare(dbmap, snap) == []
    snap.tables["crm.customers"]["fax"] = "text"
    snap.tables["crm.customers"]["telefone"] = "character varying(20)"
    del snap.tables["crm.customers"]["telefone2"]
    snap.tables["crm.leads"] = {"id": "bigint"}
    snap.foreign_keys.discard(("crm.customers.owner_id", "user_management.users.id"))
    kinds = {(d.kind, d.target) for d in compare(dbmap, snap)}
    assert kinds == {
        ("extra column", "crm.customers.fax"),
        ("type differs", "crm.customers.telefone"),
        ("missing column", "crm.customers.telefone2"),
        ("extra table", "crm.leads"),
        ("missing foreign key", "crm.customers.owner_id -> user_management.users.id"),
    }


def test_map_modules_match_the_catalog() -> None:
    catalog = load_catalog()
    for module in load_map().modules:
        assert module.catalog is not None
        assert catalog.get(module.catalog).schema_name == module.schema_name
