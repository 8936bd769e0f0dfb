"""Killed and concurrent coordinators on the real PostgreSQL."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import psycopg
import pytest
from typer.testing import CliRunner

from nexus_ml.migrate import commands
from nexus_ml.migrate.dbmap import load_map
from nexus_ml.migrate.errors import StepFailed
from nexus_ml.migrate.pg import SessionSettings
from nexus_ml.migrate.runner import Coordinator, RunReport

from .conftest import ROOT, inject, run_sql, snapshot
from .test_cli import cli_app

pytestmark = pytest.mark.integration

LOCKS = (
    "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database "
    "WHERE l.locktype = 'advisory' AND d.datname = current_database()"
)


def wait_for(conninfo: str, query: str, deadline_s: float) -> bool:
    end = time.monotonic() + deadline_s
    while time.monotonic() < end:
        rows = run_sql(conninfo, query)
        if rows and rows[0][0]:
            return True
        time.sleep(0.05)
    return False


def test_sigkill_mid_run_leaves_database_unchanged_and_lock_free(
    fresh_db: str, migrations_copy: Path
) -> None:
    base = ROOT / "migrations"
    Coordinator(fresh_db, load_map()).apply(commands.load_graph(base))  # everything, v1
    (migrations_copy / "crm" / "0004_slow.sql").write_text(
        "-- migrate:up\nALTER TABLE crm.customers ADD COLUMN fax text;\nSELECT pg_sleep(30);\n"
        "-- migrate:down\nALTER TABLE crm.customers DROP COLUMN fax;\n"
    )
    before = snapshot(fresh_db)
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "nexus_ml.cli.migrate",
            "migrate",
            "all-modules",
            "--dsn",
            fresh_db,
            "--migrations-dir",
            str(migrations_copy),
        ],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        sleeping = (
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND query LIKE 'SELECT pg_sleep%' AND state = 'active'"
        )
        assert wait_for(fresh_db, sleeping, 20), "the coordinator never reached pg_sleep"
        assert run_sql(fresh_db, LOCKS) == [(1,)]
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    # the server notices the dead client (client_connection_check_interval) and frees the lock
    assert wait_for(fresh_db, LOCKS.replace("count(*)", "count(*) = 0"), 10), "lock still held"
    assert snapshot(fresh_db) == before
    # and the next coordinator gets the lock at once
    (migrations_copy / "crm" / "0004_slow.sql").write_text(
        "-- migrate:up\nALTER TABLE crm.customers ADD COLUMN fax text;\n"
    )
    report = Coordinator(fresh_db, settings=SessionSettings(lock_wait_s=1.0)).apply(
        commands.load_graph(migrations_copy)
    )
    assert report.applied == ["crm:0004"] and report.lock_wait_s < 1.0


def test_two_coordinators_exactly_one_applies(fresh_db: str, migrations_copy: Path) -> None:
    inject(migrations_copy, "crm", "0002", "up", "SELECT pg_sleep(2);")
    graph = commands.load_graph(migrations_copy)
    results: dict[str, RunReport | BaseException] = {}

    def run(name: str, wait_s: float) -> None:
        try:
            results[name] = Coordinator(
                fresh_db, load_map(), SessionSettings(lock_wait_s=wait_s)
            ).apply(graph)
        except BaseException as exc:  # collected and asserted on below
            results[name] = exc

    first = threading.Thread(target=run, args=("first", 5.0))
    first.start()
    assert wait_for(fresh_db, LOCKS, 10)
    waiter = threading.Thread(target=run, args=("waiter", 20.0))
    waiter.start()
    # a third one, impatient, through the CLI: fails with exit 7 and one clear line
    result = CliRunner().invoke(
        cli_app(),
        [
            "migrate",
            "all-modules",
            "--dsn",
            fresh_db,
            "--migrations-dir",
            str(migrations_copy),
            "--lock-wait",
            "0.3",
        ],
    )
    first.join()
    waiter.join()
    assert result.exit_code == 7
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and "another coordinator holds the migration lock" in lines[0]
    assert "gave up after 0." in lines[0] and "held by pid" in lines[0]
    first_report, waiter_report = results["first"], results["waiter"]
    assert isinstance(first_report, RunReport) and isinstance(waiter_report, RunReport)
    assert len(first_report.applied) == 7 and waiter_report.applied == []
    assert waiter_report.lock_wait_s > 0.5  # it waited for the first to finish
    rows = run_sql(
        fresh_db, "SELECT count(*), count(DISTINCT (module, number)) FROM nexus_migrate.history"
    )
    assert rows == [(7, 7)]

    # lock_timeout: a migration that waits on a busy table gives up quickly and names it
    (migrations_copy / "crm" / "0004_fax.sql").write_text(
        "-- migrate:up\nALTER TABLE crm.customers ADD COLUMN fax text;\n"
    )
    with psycopg.connect(fresh_db) as reader:
        reader.execute("SELECT count(*) FROM crm.customers")  # holds ACCESS SHARE until rollback
        settings = SessionSettings(lock_timeout="300ms", lock_wait_s=1.0)
        with pytest.raises(StepFailed) as err:
            Coordinator(fresh_db, load_map(), settings).apply(commands.load_graph(migrations_copy))
        reader.rollback()
    assert err.value.migration == "crm:0004" and "lock timeout" in err.value.cause
    assert "55P03" in err.value.cause
