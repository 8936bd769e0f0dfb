"""Fixtures of the migrate tests: a fresh database per test, copies of the example migrations,
and schema/data dumps to compare before and after."""

from __future__ import annotations

import shutil
import subprocess
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg
import pytest
from psycopg import sql

from nexus_ml.migrate.pg import with_dbname
from nexus_ml.migrate.staging import libpq_env, pg_tool

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = ROOT / "migrations"


@pytest.fixture
def fresh_db(pg_dsn: str) -> Iterator[str]:
    """A new, empty database (unique name) on the test server; dropped afterwards."""
    name = f"mig_test_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(pg_dsn, autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield with_dbname(pg_dsn, name)
    finally:
        with psycopg.connect(pg_dsn, autocommit=True) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
def migrations_copy(tmp_path: Path) -> Path:
    """A writable copy of the shipped example migrations."""
    target = tmp_path / "migrations"
    shutil.copytree(EXAMPLES, target)
    return target


def dump(conninfo: str, *flags: str) -> str:
    """``pg_dump`` output without the lines that differ between two dumps of the same state."""
    dsn, env = libpq_env(conninfo)
    out = subprocess.run(
        [pg_tool("pg_dump"), *flags, "--dbname", dsn],
        capture_output=True,
        text=True,
        env=env,
        check=True,
    ).stdout
    return "\n".join(
        ln for ln in out.splitlines() if not ln.startswith(("\\restrict", "\\unrestrict"))
    )


def snapshot(conninfo: str) -> tuple[str, str]:
    """(``pg_dump --schema-only``, ``pg_dump --data-only``) of a database, run side by side."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        schema = pool.submit(dump, conninfo, "--schema-only")
        data = pool.submit(dump, conninfo, "--data-only")
        return schema.result(), data.result()


def run_sql(conninfo: str, statement: str) -> list[tuple[object, ...]]:
    with psycopg.connect(conninfo, autocommit=True) as conn:
        cur = conn.execute(statement.encode())
        return cur.fetchall() if cur.description else []


def inject(root: Path, module: str, number: str, section: str, text: str) -> None:
    """Append ``text`` to one section (up, verify) of a migration file in ``root``."""
    path = next((root / module).glob(f"{number}_*.sql"))
    lines = path.read_text().splitlines()
    marker = f"-- migrate:{section}"
    start = lines.index(marker)
    end = next(
        (i for i in range(start + 1, len(lines)) if lines[i].startswith("-- migrate:")), len(lines)
    )
    lines.insert(end, text)
    path.write_text("\n".join(lines) + "\n")


SEED_DATA = """
INSERT INTO user_management.users (email, full_name) VALUES
    ('ana@nexus.test', 'Ana'), ('bruno@nexus.test', 'Bruno');
INSERT INTO crm.customers (owner_id, name, email, telefone)
    SELECT id, 'Cliente ' || id, 'c' || id || '@x.test', '+55 11 5555-000' || id
    FROM user_management.users;
INSERT INTO agendamento.appointments (customer_id, professional_id, starts_at, ends_at)
    SELECT c.id, c.owner_id, now() + interval '1 day', now() + interval '1 day 1 hour'
    FROM crm.customers c;
"""
