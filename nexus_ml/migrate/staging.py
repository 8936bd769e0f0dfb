"""Staging rehearsal: a throwaway copy of the target database to run the plan on first.

``CREATE DATABASE copy TEMPLATE source`` is the fast path, but PostgreSQL refuses it while
anyone else is connected to the source (always the case in production). Then the copy is made
with ``pg_dump | psql`` (schemas and data), which needs no exclusive access. The copy is
dropped afterwards, whatever happened.
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from psycopg import errors, sql
from psycopg.conninfo import conninfo_to_dict

from nexus_ml.errors import MigrationError
from nexus_ml.migrate.pg import connect, database_of, with_dbname

log = logging.getLogger(__name__)

_PG_BIN = Path("/usr/lib/postgresql/15/bin")


def pg_tool(name: str) -> str:
    """Path of a PostgreSQL client tool (PATH first, then the Debian PostgreSQL 15 directory)."""
    found = shutil.which(name) or (str(_PG_BIN / name) if (_PG_BIN / name).exists() else None)
    if found is None:
        raise MigrationError(f"{name} not found on PATH or in {_PG_BIN}", tool=name)
    return found


def libpq_env(conninfo: str) -> tuple[str, dict[str, str]]:
    """A DSN without password plus an environment carrying it (never on a command line)."""
    parts = {k: str(v) for k, v in conninfo_to_dict(conninfo).items() if v is not None}
    env = dict(os.environ)
    if "password" in parts:
        env["PGPASSWORD"] = parts.pop("password")
    return " ".join(f"{k}='{v}'" for k, v in parts.items()), env


@contextmanager
def staging_copy(conninfo: str, maintenance_db: str = "postgres") -> Iterator[str]:
    """Yield the DSN of a fresh copy of ``conninfo``'s database; drop it afterwards."""
    source = database_of(conninfo)
    copy = f"{source[:40]}_staging_{uuid.uuid4().hex[:8]}"
    admin = connect(with_dbname(conninfo, maintenance_db))
    try:
        # PostgreSQL waits 5 s before refusing a template others are connected to: look first.
        busy = admin.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = %s", (source,)
        ).fetchone()
        try:
            if busy and busy[0]:
                raise errors.ObjectInUse("source database in use")
            admin.execute(
                sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(
                    sql.Identifier(copy), sql.Identifier(source)
                )
            )
            log.info("staging copy %s made from template %s", copy, source)
        except errors.ObjectInUse:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(copy)))
            _dump_restore(conninfo, with_dbname(conninfo, copy))
            log.info("staging copy %s made with pg_dump (source in use)", copy)
        yield with_dbname(conninfo, copy)
    finally:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(copy))
        )
        admin.close()


def _dump_restore(source: str, target: str) -> None:
    src_dsn, env = libpq_env(source)
    dst_dsn, _ = libpq_env(target)
    dump = subprocess.Popen(
        [pg_tool("pg_dump"), "--no-owner", "--dbname", src_dsn],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=env,
    )
    restore = subprocess.run(
        [
            pg_tool("psql"),
            "-q",
            "-X",
            "-v",
            "ON_ERROR_STOP=1",
            "--single-transaction",
            "--dbname",
            dst_dsn,
        ],
        stdin=dump.stdout,
        capture_output=True,
        env=env,
        check=False,
    )
    if dump.stdout is not None:
        dump.stdout.close()
    dump_err = dump.stderr.read().decode() if dump.stderr else ""
    if dump.wait() != 0 or restore.returncode != 0:
        why = (dump_err or restore.stderr.decode()).strip()[:300]
        raise MigrationError(f"could not copy the database for staging: {why}")
