"""The coordinator on the real PostgreSQL: the seed's example end to end, failures injected at
every step leave schema and data as they were, drift, rollback and staging."""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

import pytest

from nexus_ml.migrate import commands
from nexus_ml.migrate.dbmap import DatabaseMap, load_map
from nexus_ml.migrate.errors import DriftError, StepFailed
from nexus_ml.migrate.introspect import database_drift
from nexus_ml.migrate.pg import SessionSettings, open_session
from nexus_ml.migrate.runner import Coordinator

from .conftest import SEED_DATA, inject, run_sql, snapshot

pytestmark = pytest.mark.integration

BASE = ("user_management:0001", "crm:0001", "agendamento:0001")
CHAIN = ["crm:0002", "agendamento:0002", "user_management:0002", "crm:0003"]
FAST = SessionSettings(lock_wait_s=5.0)
# advisory locks in this test's database only (other suites take advisory locks elsewhere)
OUR_LOCKS = (
    "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
    "WHERE l.locktype = 'advisory' AND d.datname = current_database()"
)


def graph_of(root: Path) -> commands.MigrationGraph:
    return commands.load_graph(root)


def with_base_and_data(conninfo: str, root: Path) -> None:
    """Apply only the three base schemas (release v1) and insert the seed's rows."""
    only_base = root.parent / "base_only"
    for key in BASE:
        module, number = key.split(":")
        src = next((root / module).glob(f"{number}_*.sql"))
        (only_base / module).mkdir(parents=True, exist_ok=True)
        (only_base / module / src.name).write_text(src.read_text())
    Coordinator(conninfo, load_map(), FAST).apply(graph_of(only_base), release="v1")
    run_sql(conninfo, SEED_DATA)


def test_seed_example_end_to_end(fresh_db: str, migrations_copy: Path) -> None:
    dbmap = load_map()
    graph = graph_of(migrations_copy)
    lines: list[str] = []
    report = Coordinator(fresh_db, dbmap, FAST, progress=lines.append).apply(graph, release="r1")
    # every dependency applied first, the index after the transaction
    assert report.applied == [
        "user_management:0001",
        "crm:0001",
        "crm:0002",
        "agendamento:0001",
        "agendamento:0002",
        "user_management:0002",
        "crm:0003",
    ]
    assert [u[0] for u in report.units] == [
        "user_management",
        "crm",
        "agendamento",
        "user_management",
        "crm",
    ]
    assert report.lock_hold_s > 0 and report.release == "r1" and len(lines) == 5
    with open_session(fresh_db, FAST) as conn:
        assert database_drift(conn, dbmap) == []
    # the chain works: rows flow through Agendamento's view of CRM's telefone2
    run_sql(fresh_db, SEED_DATA)
    run_sql(fresh_db, "UPDATE crm.customers SET telefone2 = '+55 11 99999-0000'")
    rows = run_sql(
        fresh_db,
        "SELECT count(*) FROM agendamento.appointment_contacts WHERE telefone2 IS NOT NULL",
    )
    assert rows == [(2,)]
    # a second run has nothing to do
    again = Coordinator(fresh_db, dbmap, FAST).apply(graph)
    assert again.applied == [] and again.release == ""
    rows = run_sql(
        fresh_db,
        "SELECT module || ':' || number, release_seq FROM "
        "nexus_migrate.history ORDER BY applied_at, module, number",
    )
    assert {r[0] for r in rows} == set(report.applied) and {r[1] for r in rows} == {1}

    # drift of an applied file: refused before anything runs, even with new work pending
    path = migrations_copy / "crm" / "0002_add_telefone2.sql"
    path.write_text(path.read_text().replace("telefone2 text", "telefone2 varchar(20)"))
    (migrations_copy / "crm" / "0004_more.sql").write_text(
        "-- migrate:up\nCREATE TABLE crm.more (id int);\n"
    )
    before = snapshot(fresh_db)
    with pytest.raises(DriftError) as err:
        Coordinator(fresh_db, dbmap, FAST).apply(graph_of(migrations_copy))
    assert err.value.key == "crm:0002" and err.value.path.endswith("0002_add_telefone2.sql")
    assert err.value.recorded != err.value.current
    assert snapshot(fresh_db) == before
    states = {r.key: r.state for r in Coordinator(fresh_db).status(graph_of(migrations_copy))}
    assert states["crm:0002"] == "drifted (file edited)" and states["crm:0004"] == "pending"

    # drift of the live schema against the map
    run_sql(
        fresh_db,
        "ALTER TABLE crm.customers ADD COLUMN fax text; "
        "ALTER TABLE agendamento.appointments DROP COLUMN status CASCADE",
    )
    found = {(d.kind, d.target) for d in commands.map_drift(fresh_db, dbmap)}
    assert found == {
        ("extra column", "crm.customers.fax"),
        ("missing column", "agendamento.appointments.status"),
    }


# (migration, section, text appended, phase expected in the report)
FAILURES = [
    ("crm", "0002", "up", "SELECT 1/0;", "up"),
    ("crm", "0002", "verify", "SELECT false;", "verify"),
    ("agendamento", "0002", "up", "SELECT * FROM crm.no_such_table;", "up"),
    (
        "user_management",
        "0002",
        "up",
        "ALTER TABLE user_management.contact_origins ADD CONSTRAINT o_chk "
        "CHECK (recorded_at IS NOT NULL) NOT VALID;",
        "integrity check",
    ),
    ("user_management", "0002", "verify", "SELECT count(*) = 42 FROM crm.customers;", "verify"),
    ("crm", "0003", "up", "SELECT 1/0;", "up"),
    ("crm", "0003", "verify", "SELECT false;", "verify"),
]


def test_failure_at_each_step_leaves_schema_and_data_identical(
    fresh_db: str, migrations_copy: Path, tmp_path: Path
) -> None:
    # One database for every case: each failed run must leave it exactly as before, so the
    # next case starts from the same state (a leak would show up in every later comparison).
    with_base_and_data(fresh_db, migrations_copy)
    before = snapshot(fresh_db)
    for i, (module, number, section, text, phase) in enumerate(FAILURES):
        case = f"{module}:{number} {section}"
        root = tmp_path / f"case{i}"
        shutil.copytree(migrations_copy, root)
        inject(root, module, number, section, text)
        with pytest.raises(StepFailed) as err:
            Coordinator(fresh_db, load_map(), FAST).apply(graph_of(root))
        assert (err.value.module, err.value.migration, err.value.phase) == (
            module,
            f"{module}:{number}",
            phase,
        ), case
        if phase != "integrity check":
            assert text.rstrip(";") in err.value.statement, case
            assert f"{number}_" in err.value.location, case
        after = snapshot(fresh_db)
        assert after[0] == before[0], f"schema changed after a failure in {case}"
        assert after[1] == before[1], f"data changed after a failure in {case}"
        locks = run_sql(fresh_db, OUR_LOCKS)
        assert locks == [(0,)], case

    # Orphaned cross-module rows: a declared (not enforced) reference, customers.email must
    # match a user's email; the seed's customers do not.
    raw = load_map().model_dump(by_alias=True)
    raw["references"] = [
        *raw["references"],
        {"kind": "foreign_key", "from": "crm.customers.email", "to": "user_management.users.email"},
    ]
    with pytest.raises(StepFailed) as orphan:
        Coordinator(fresh_db, DatabaseMap.model_validate(raw), FAST).apply(
            graph_of(migrations_copy)
        )
    assert orphan.value.phase == "integrity check" and orphan.value.module == "crm"
    assert "2 row(s) of crm.customers.email point at no user_management.users.email" in str(
        orphan.value
    )
    assert snapshot(fresh_db) == before

    # the same NOT VALID constraint, declared deliberate: the run goes through
    inject(migrations_copy, "user_management", "0002", "up", FAILURES[3][3])
    path = next((migrations_copy / "user_management").glob("0002_*.sql"))
    path.write_text(
        path.read_text().replace(
            "-- migrate:up", "-- migrate:allow-not-valid o_chk\n-- migrate:up", 1
        )
    )
    report = Coordinator(fresh_db, load_map(), FAST).apply(graph_of(migrations_copy))
    assert len(report.applied) == 4
    rows = run_sql(fresh_db, "SELECT convalidated FROM pg_constraint WHERE conname = 'o_chk'")
    assert rows == [(False,)]


def test_rollback_to_a_release_runs_downs_in_reverse(fresh_db: str, migrations_copy: Path) -> None:
    graph = graph_of(migrations_copy)
    with_base_and_data(fresh_db, migrations_copy)
    at_v1 = snapshot(fresh_db)
    forward = commands.all_modules(fresh_db, graph, load_map(), release="v2", settings=FAST)
    assert forward.production is not None and set(forward.production.applied) == set(CHAIN)
    report = commands.rollback(fresh_db, graph, load_map(), "v1", settings=FAST)
    assert report.applied == ["crm:0003", "user_management:0002", "agendamento:0002", "crm:0002"]
    assert snapshot(fresh_db) == at_v1
    # and forward again is possible
    again = commands.all_modules(fresh_db, graph, load_map(), release="v2b", settings=FAST)
    assert again.production is not None and len(again.production.applied) == 4

    # a down part that fails at run time (another object now depends on telefone2): the
    # rollback is all or nothing, including the index dropped outside the transaction
    run_sql(fresh_db, "CREATE VIEW crm.phones AS SELECT telefone2 FROM crm.customers")
    before = snapshot(fresh_db)
    with pytest.raises(StepFailed) as err:
        commands.rollback(fresh_db, graph, load_map(), "v1", settings=FAST)
    assert (err.value.migration, err.value.phase) == ("crm:0002", "down")
    assert "DROP COLUMN telefone2" in err.value.statement
    assert snapshot(fresh_db) == before


def test_staging_rehearsal_gates_production(
    fresh_db: str,
    migrations_copy: Path,
    pg_dsn: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="nexus_ml.migrate.staging")
    with_base_and_data(fresh_db, migrations_copy)
    before = snapshot(fresh_db)
    broken = tmp_path / "broken"
    shutil.copytree(migrations_copy, broken)
    inject(broken, "user_management", "0002", "up", "SELECT 1/0;")
    # someone is connected to production: TEMPLATE is refused, the copy is made with pg_dump
    with open_session(fresh_db, FAST), pytest.raises(StepFailed) as err:
        commands.all_modules(fresh_db, graph_of(broken), load_map(), staging=True, settings=FAST)
    assert err.value.migration == "user_management:0002"
    assert 'method="pg_dump (source in use)"' in caplog.text
    assert snapshot(fresh_db) == before, "production changed although staging failed"
    result = commands.all_modules(
        fresh_db, graph_of(migrations_copy), load_map(), staging=True, settings=FAST, release="v2"
    )
    assert result.staging is not None and result.production is not None
    assert set(result.staging.applied) == set(result.production.applied) == set(CHAIN)
    rows = run_sql(fresh_db, "SELECT name FROM nexus_migrate.releases ORDER BY seq")
    assert rows == [("v1",), ("v2",)]
    left = run_sql(pg_dsn, "SELECT datname FROM pg_database WHERE datname LIKE '%\\_staging\\_%'")
    assert [r for r in left if str(r[0]).startswith("mig_test_")] == []
