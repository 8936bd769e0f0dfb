"""Lint rules, each on a migration that breaks it, and the shipped set is clean (pure)."""

from __future__ import annotations

import pytest

from nexus_ml.migrate.dbmap import load_map
from nexus_ml.migrate.graph import MigrationGraph
from nexus_ml.migrate.lint import RULES, lint_all, lint_migration
from nexus_ml.migrate.parser import load_migrations, parse_migration

from .conftest import EXAMPLES

CASES = {
    "volatile-default": (
        "ALTER TABLE crm.customers ADD COLUMN token uuid DEFAULT gen_random_uuid();"
    ),
    "not-null-without-check": "ALTER TABLE crm.customers ALTER COLUMN email SET NOT NULL;",
    "index-without-concurrently": "CREATE INDEX customers_email_idx ON crm.customers (email);",
    "fk-without-not-valid": (
        "ALTER TABLE crm.customers ADD CONSTRAINT fk_u FOREIGN KEY (owner_id) "
        "REFERENCES user_management.users (id);"
    ),
    "type-change": "ALTER TABLE crm.customers ALTER COLUMN telefone TYPE varchar(20);",
    "drop-used-column": "ALTER TABLE crm.customers DROP COLUMN telefone2;",
    "concurrently-in-transaction": (
        "CREATE INDEX CONCURRENTLY customers_email_idx ON crm.customers (email);"
    ),
}


@pytest.mark.parametrize("rule", RULES)
def test_each_rule_flags_its_statement(rule: str) -> None:
    m = parse_migration(
        "crm", "0009_x.sql", f"-- migrate:up\n{CASES[rule]}\n", path="crm/0009_x.sql"
    )
    findings = lint_migration(m, load_map())
    assert rule in {f.rule for f in findings}
    assert str(findings[0]).startswith("crm/0009_x.sql:2: [")
    ignored = parse_migration(
        "crm", "0009_x.sql", f"-- migrate:lint-ignore {rule}\n-- migrate:up\n{CASES[rule]}\n"
    )
    assert rule not in {f.rule for f in lint_migration(ignored, load_map())}


def test_safe_forms_are_not_flagged() -> None:
    text = """-- migrate:up
ALTER TABLE crm.customers ADD COLUMN seen_at timestamptz DEFAULT now();
ALTER TABLE crm.customers ADD CONSTRAINT email_nn CHECK (email IS NOT NULL) NOT VALID;
ALTER TABLE crm.customers VALIDATE CONSTRAINT email_nn;
ALTER TABLE crm.customers ALTER COLUMN email SET NOT NULL;
ALTER TABLE crm.customers ADD CONSTRAINT fk_u FOREIGN KEY (owner_id)
    REFERENCES user_management.users (id) NOT VALID;
CREATE TABLE crm.notes (id int, customer_id int REFERENCES crm.customers (id));
CREATE INDEX notes_customer_idx ON crm.notes (customer_id);
ALTER TABLE crm.customers DROP COLUMN created_at;
"""
    assert lint_migration(parse_migration("crm", "0009_x.sql", text), load_map()) == []


def test_dropping_a_column_used_elsewhere_names_the_user() -> None:
    m = parse_migration("crm", "0009_x.sql", "-- migrate:up\n" + CASES["drop-used-column"])
    messages = [f.message for f in lint_migration(m, load_map())]
    assert any(
        "agendamento" in msg and "view agendamento.appointment_contacts" in msg for msg in messages
    )
    assert any("user_management" in msg for msg in messages)


def test_the_shipped_migrations_are_lint_clean() -> None:
    graph = MigrationGraph(load_migrations(EXAMPLES))
    assert lint_all(graph.order(), load_map()) == []
