"""Issue 19, migrations: what a killed coordinator leaves behind is reported and repaired by
the next run (real PostgreSQL, real SIGKILL)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import uuid
from pathlib import Path

import psycopg
import pytest
from psycopg import sql
from typer.testing import CliRunner

from nexus_ml.migrate import commands
from nexus_ml.migrate.dbmap import load_map
from nexus_ml.migrate.pg import with_dbname
from nexus_ml.migrate.runner import Coordinator
from nexus_ml.migrate.staging import abandoned_copies, staging_copy

from .conftest import ROOT, run_sql
from .test_cli import cli_app
from .test_concurrency import wait_for

pytestmark = pytest.mark.integration

INVALID = (
    "SELECT count(*) FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
    "WHERE c.relname = 'customers_telefone2_idx' AND NOT i.indisvalid"
)


def _states(db: str, root: Path) -> dict[str, str]:
    return {r.key: r.state for r in Coordinator(db).status(commands.load_graph(root))}


def test_kill_during_create_index_concurrently_is_reported_and_finished_in_one_run(
    fresh_db: str, migrations_copy: Path
) -> None:
    # everything but the concurrent index (0003 moved away), then the run that builds it
    parked = migrations_copy.parent / "0003_index_telefone2.sql"
    (migrations_copy / "crm" / "0003_index_telefone2.sql").rename(parked)
    Coordinator(fresh_db, load_map()).apply(commands.load_graph(migrations_copy))
    parked.rename(migrations_copy / "crm" / "0003_index_telefone2.sql")
    with psycopg.connect(fresh_db) as blocker:  # an open writer: the build waits for it
        blocker.execute("LOCK TABLE crm.customers IN ROW EXCLUSIVE MODE")
        proc = subprocess.Popen(
            [
                *(sys.executable, "-m", "nexus_ml.cli.migrate", "migrate", "all-modules"),
                *("--dsn", fresh_db, "--migrations-dir", str(migrations_copy)),
            ],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        try:
            started = wait_for(fresh_db, INVALID, 30)
        finally:
            os.kill(proc.pid, signal.SIGKILL)
            output = proc.communicate()[0].decode(errors="replace")
        assert started, f"the index build never started: {output[-2000:]}"
        # the server ends the dead client's build (client_connection_check_interval) before
        # the writer goes away: else the build would finish on its own
        gone = (
            "SELECT count(*) = 0 FROM pg_stat_activity WHERE datname = current_database() "
            "AND application_name = 'nexus-ml migrate'"
        )
        assert wait_for(fresh_db, gone, 15), "the killed coordinator's session stayed"
        blocker.rollback()
    # the killed build left an invalid index, and the history knows the phase was cut short
    assert run_sql(fresh_db, INVALID) == [(1,)]
    state = _states(fresh_db, migrations_copy)["crm:0003"]
    assert state.startswith("interrupted (non-transactional phase"), state
    result = CliRunner().invoke(
        cli_app(),
        ["migrate", "status", "--dsn", fresh_db, "--migrations-dir", str(migrations_copy)],
    )
    assert result.exit_code == 0 and "interrupted" in result.output
    # the next run drops the invalid index and builds it: one run, not three
    report = Coordinator(fresh_db, load_map()).apply(commands.load_graph(migrations_copy))
    assert report.applied == ["crm:0003"]
    assert run_sql(fresh_db, INVALID) == [(0,)]
    valid = (
        "SELECT indisvalid FROM pg_index WHERE indexrelid = 'crm.customers_telefone2_idx'::regclass"
    )
    assert run_sql(fresh_db, valid) == [(True,)]
    assert set(_states(fresh_db, migrations_copy).values()) == {"applied"}


def test_crlf_rewrite_is_not_drift_but_an_edit_is(fresh_db: str, migrations_copy: Path) -> None:
    Coordinator(fresh_db, load_map()).apply(commands.load_graph(migrations_copy))
    path = next((migrations_copy / "crm").glob("0002_*.sql"))
    text = path.read_bytes()
    path.write_bytes(text.replace(b"\n", b"\r\n"))  # what core.autocrlf does on checkout
    assert _states(fresh_db, migrations_copy)["crm:0002"] == "applied"
    assert Coordinator(fresh_db).apply(commands.load_graph(migrations_copy)).applied == []
    path.write_bytes(text.replace(b"ADD COLUMN", b"ADD COLUMN  "))  # same SQL, edited text
    assert _states(fresh_db, migrations_copy)["crm:0002"] == "drifted (file edited)"


def test_abandoned_staging_copies_are_listed_and_dropped_by_the_next_rehearsal(
    fresh_db: str,
) -> None:
    source = psycopg.conninfo.conninfo_to_dict(fresh_db)["dbname"]
    orphan = f"{source}_staging_{uuid.uuid4().hex[:8]}"  # what a killed --staging leaves
    admin = with_dbname(fresh_db, "postgres")
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(orphan)))
    try:
        assert abandoned_copies(fresh_db) == [orphan]
        result = CliRunner().invoke(cli_app(), ["migrate", "status", "--dsn", fresh_db])
        assert result.exit_code == 0 and orphan in result.output
        with staging_copy(fresh_db) as copy:
            live = psycopg.conninfo.conninfo_to_dict(copy)["dbname"]
            assert abandoned_copies(fresh_db) == []  # the orphan is gone, the live copy is not
            assert run_sql(admin, f"SELECT count(*) FROM pg_database WHERE datname = '{live}'") == [
                (1,)
            ]
        assert abandoned_copies(fresh_db) == []
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(orphan))
            )
