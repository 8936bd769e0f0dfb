"""Staging rehearsal: a throwaway copy of the target database to run the plan on first.

``CREATE DATABASE copy TEMPLATE source`` is the fast path, but PostgreSQL refuses it while
anyone else is connected to the source (always the case in production). Then the copy is made
with ``pg_dump | psql`` (schemas and data), which needs no exclusive access. The copy is
dropped afterwards, whatever happened.

A coordinator killed during a rehearsal cannot drop its copy. Each live rehearsal therefore
holds a session advisory lock named after its copy (on the maintenance database) from before
the copy exists until it is dropped: a ``<source>_staging_<8 hex>`` database whose lock is free
is abandoned. :func:`abandoned_copies` lists them (``nexus-ml migrate status``) and the next
rehearsal drops them.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import psycopg
from psycopg import errors, sql
from psycopg.conninfo import conninfo_to_dict

from nexus_ml.errors import MigrationError
from nexus_ml.logs import get_logger
from nexus_ml.migrate.pg import connect, database_of, with_dbname

log = get_logger(__name__)

Conn = psycopg.Connection[tuple[object, ...]]
_LOCK_PREFIX = "nexus-ml staging copy "

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


def _copy_pattern(source: str) -> re.Pattern[str]:
    return re.compile(re.escape(source[:40]) + r"_staging_[0-9a-f]{8}")


def _copy_is_live(admin: Conn, copy: str) -> bool:
    row = admin.execute("SELECT pg_try_advisory_lock(hashtext(%s))", (_LOCK_PREFIX + copy,))
    got = row.fetchone()
    if got and got[0]:
        admin.execute("SELECT pg_advisory_unlock(hashtext(%s))", (_LOCK_PREFIX + copy,))
        return False
    return True


def _abandoned(admin: Conn, source: str) -> list[str]:
    pattern = _copy_pattern(source)
    names = [
        str(r[0])
        for r in admin.execute("SELECT datname FROM pg_database ORDER BY datname").fetchall()
    ]
    return [n for n in names if pattern.fullmatch(n) and not _copy_is_live(admin, n)]


def abandoned_copies(conninfo: str, maintenance_db: str = "postgres") -> list[str]:
    """Staging copies of ``conninfo``'s database left by a rehearsal that was killed."""
    with connect(with_dbname(conninfo, maintenance_db)) as admin:
        return _abandoned(admin, database_of(conninfo))


@contextmanager
def staging_copy(conninfo: str, maintenance_db: str = "postgres") -> Iterator[str]:
    """Yield the DSN of a fresh copy of ``conninfo``'s database; drop it afterwards.

    Copies abandoned by earlier, killed rehearsals of the same database are dropped first.
    """
    source = database_of(conninfo)
    copy = f"{source[:40]}_staging_{uuid.uuid4().hex[:8]}"
    admin = connect(with_dbname(conninfo, maintenance_db))
    try:
        # held until the copy is dropped (or this session dies): marks the copy as live
        admin.execute("SELECT pg_advisory_lock(hashtext(%s))", (_LOCK_PREFIX + copy,))
        for stale in _abandoned(admin, source):
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(stale))
            )
            log.warning(
                "migrate.staging_stale_dropped",
                copy=stale,
                reason="abandoned by an interrupted rehearsal",
            )
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
            log.info("migrate.staging_copy_made", copy=copy, source=source, method="template")
        except errors.ObjectInUse:
            admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(copy)))
            _dump_restore(conninfo, with_dbname(conninfo, copy))
            log.info(
                "migrate.staging_copy_made",
                copy=copy,
                source=source,
                method="pg_dump (source in use)",
            )
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
