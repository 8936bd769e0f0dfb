"""``nexus-ml migrate``: bad input exits 2 with one line; the verbs render what they compute."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import typer
from typer.testing import CliRunner

from nexus_ml.cli.migrate import register
from nexus_ml.migrate.pg import redact

from .conftest import run_sql


def cli_app() -> typer.Typer:
    app = typer.Typer(pretty_exceptions_enable=False, add_completion=False)
    register(app)
    return app


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(cli_app(), ["migrate", *args])
    return result.exit_code, result.stdout, result.stderr


UP = "-- migrate:up\nSELECT 1;\n"
BAD_INPUT = {
    "unparseable": (
        {"crm/0009_x.sql": "ALTER TABLE crm.customers ADD COLUMN x int;\n"},
        "crm/0009_x.sql:1: SQL before the `-- migrate:up` section",
    ),
    "unknown dependency": (
        {"crm/0009_x.sql": "-- migrate:depends billing:0001\n" + UP},
        "crm/0009_x.sql: depends on unknown migration 'billing:0001'",
    ),
    "duplicate number": (
        {"crm/0001_again.sql": UP},
        "crm/0001_base.sql: duplicate number 0001 in module 'crm' (also 0001_again.sql)",
    ),
    "cycle": (
        {
            "crm/0009_x.sql": "-- migrate:depends agendamento:0009\n" + UP,
            "agendamento/0009_y.sql": "-- migrate:depends crm:0009\n" + UP,
        },
        "dependency cycle agendamento:0009 -> crm:0009 -> agendamento:0009; split",
    ),
}


@pytest.mark.integration
def test_bad_input_exits_2_with_one_line_and_applies_nothing(
    fresh_db: str, migrations_copy: Path, tmp_path: Path
) -> None:
    for case, (files, expected) in BAD_INPUT.items():
        root = tmp_path / case.replace(" ", "_")
        shutil.copytree(migrations_copy, root)
        for rel, text in files.items():
            (root / rel).write_text(text)
        code, _, err = invoke("all-modules", "--dsn", fresh_db, "--migrations-dir", str(root))
        lines = err.strip().splitlines()
        assert code == 2, (case, err)
        assert len(lines) == 1 and expected in lines[0], (case, lines)
        assert str(root) in lines[0], case
    assert run_sql(
        fresh_db,
        "SELECT count(*) FROM pg_namespace WHERE nspname IN "
        "('crm', 'agendamento', 'user_management', 'nexus_migrate')",
    ) == [(0,)]


@pytest.mark.integration
def test_verbs_on_a_database(fresh_db: str, migrations_copy: Path) -> None:
    code, out, _ = invoke("all-modules", "--dsn", fresh_db, "--dry-run")
    assert code == 0 and "crm:0002" in out and "after commit" in out
    assert run_sql(fresh_db, "SELECT to_regnamespace('crm') IS NULL") == [(True,)]
    code, out, err = invoke("all-modules", "--dsn", fresh_db, "--release", "v1")
    assert code == 0, err
    assert "release v1: 7 migrations applied" in out
    code, out, _ = invoke("map", "--from-db", fresh_db)
    assert code == 0 and "matches the map" in out
    # a dangerous pending migration is stopped by lint before it runs
    (migrations_copy / "crm" / "0004_email_idx.sql").write_text(
        "-- migrate:up\nCREATE INDEX customers_email_idx ON crm.customers (email);\n"
    )
    code, _, err = invoke(
        "all-modules", "--dsn", fresh_db, "--migrations-dir", str(migrations_copy)
    )
    assert code == 6 and "[index-without-concurrently]" in err and "0004_email_idx.sql:2" in err
    assert run_sql(fresh_db, "SELECT to_regclass('crm.customers_email_idx') IS NULL") == [(True,)]
    run_sql(fresh_db, "ALTER TABLE crm.customers ADD COLUMN fax text")
    code, out, err = invoke("map", "--from-db", fresh_db)
    assert code == 6 and "crm.customers.fax" in out and "differs from the map" in err
    code, out, _ = invoke("status", "--dsn", fresh_db)
    assert code == 0 and out.count("applied") == 7
    code, out, err = invoke("rollback", "--to", "nope", "--dsn", fresh_db)
    assert code == 2 and "unknown release 'nope'; known: v1, base" in err
    code, out, err = invoke("rollback", "--to", "base", "--dsn", fresh_db)
    assert code == 0, err
    assert "rolled back 7 migrations to base" in out
    assert run_sql(fresh_db, "SELECT to_regnamespace('crm') IS NULL") == [(True,)]


def test_pure_verbs() -> None:
    for key in ("crm:0002", "nexus-crm:0002"):
        code, out, _ = invoke("impact", key)
        assert code == 0
        assert "modules affected: agendamento, user_management" in out
    code, out, _ = invoke("lint")
    assert code == 0 and "7 migrations, no finding" in out
    code, out, _ = invoke("plan")
    assert code == 0 and out.index("user_management:0001") < out.index("agendamento:0001")
    code, _, err = invoke("impact", "crm:9999")
    assert code == 2 and len(err.strip().splitlines()) == 1


def test_dsn_password_is_never_shown() -> None:
    code, out, err = invoke("status", "--dsn", "postgresql://app:s3cret@127.0.0.1:1/erp")
    assert code == 6 and "cannot connect to app@127.0.0.1:1/erp" in err
    assert "s3cret" not in out + err and len(err.strip().splitlines()) == 1
    assert redact("postgresql://app:s3cret@db.local:5433/erp") == "app@db.local:5433/erp"
    assert "s3cret" not in redact("host=h user=u password=s3cret dbname=d")
