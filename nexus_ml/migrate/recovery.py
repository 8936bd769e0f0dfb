"""What a killed coordinator leaves behind, found and repaired by the next run.

- The non-transactional phase runs after the commit, one migration at a time. Before it starts,
  the coordinator writes each of its migrations to ``nexus_migrate.interrupted`` (in the same
  transaction as the transactional part) and deletes each row once that migration is recorded
  in the history. A row still there means the phase was cut short: ``status`` says so, and the
  next run finishes it.
- ``CREATE INDEX CONCURRENTLY`` killed half-way leaves an *invalid* index. ``IF NOT EXISTS``
  would then skip the build and the verify fails, so before a non-transactional migration runs,
  the invalid indexes it creates are dropped (only those: an invalid index that is someone
  else's build in progress is left alone).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from psycopg import sql

from nexus_ml.logs import get_logger
from nexus_ml.migrate.history import SCHEMA, Conn
from nexus_ml.migrate.parser import Migration

log = get_logger(__name__)

_CREATE_INDEX = re.compile(
    r"CREATE\s+(?:UNIQUE\s+)?INDEX\s+CONCURRENTLY\s+(?:IF\s+NOT\s+EXISTS\s+)?"
    r"(?:\"?(?P<schema>\w+)\"?\.)?\"?(?P<name>\w+)\"?\s+ON\s+(?:ONLY\s+)?"
    r"(?:\"?(?P<table_schema>\w+)\"?\.)?",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Interrupted:
    """A non-transactional migration whose run was cut short."""

    key: str
    release_seq: int
    started_at: str


def mark_started(conn: Conn, migrations: Iterable[Migration], release_seq: int) -> None:
    """Note the non-transactional migrations about to run (in the caller's transaction)."""
    with conn.cursor() as cur:
        cur.executemany(
            f"INSERT INTO {SCHEMA}.interrupted (module, number, release_seq) VALUES (%s, %s, %s) "
            "ON CONFLICT (module, number) DO UPDATE SET release_seq = EXCLUDED.release_seq, "
            "started_at = now()",
            [(m.module, m.number, release_seq) for m in migrations],
        )


def mark_done(conn: Conn, keys: Iterable[str]) -> None:
    """Forget the notes of ``keys`` (recorded in the history, or undone)."""
    if not _table_exists(conn):
        return
    with conn.cursor() as cur:
        cur.executemany(
            f"DELETE FROM {SCHEMA}.interrupted WHERE module = %s AND number = %s",
            [k.split(":", 1) for k in keys],
        )


def forget_after(conn: Conn, release_seq: int) -> None:
    """Forget the notes of the releases after ``release_seq`` (a run undone as a whole)."""
    if _table_exists(conn):
        conn.execute(f"DELETE FROM {SCHEMA}.interrupted WHERE release_seq > %s", (release_seq,))


def read_interrupted(conn: Conn) -> dict[str, Interrupted]:
    """The non-transactional migrations of a run that did not finish, by key."""
    if not _table_exists(conn):
        return {}
    rows = conn.execute(
        f"SELECT module || ':' || number, release_seq, "
        f"to_char(started_at, 'YYYY-MM-DD HH24:MI:SS') FROM {SCHEMA}.interrupted"
    ).fetchall()
    return {r[0]: Interrupted(r[0], r[1], r[2]) for r in rows}


def _table_exists(conn: Conn) -> bool:
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{SCHEMA}.interrupted",)).fetchone()
    return bool(row and row[0])


def concurrent_indexes(migration: Migration) -> list[tuple[str | None, str]]:
    """(schema or None, name) of every index ``migration`` builds with ``CONCURRENTLY``."""
    found = []
    for st in migration.up:
        for m in _CREATE_INDEX.finditer(st.text):
            found.append((m["schema"] or m["table_schema"], m["name"]))
    return found


def drop_invalid_indexes(conn: Conn, migrations: Sequence[Migration]) -> list[str]:
    """Drop the invalid indexes that ``migrations`` would build; returns their names.

    An index is matched by name, in its schema when the statement names one (an index lives
    in its table's schema).
    """
    dropped: list[str] = []
    for migration in migrations:
        for schema, name in concurrent_indexes(migration):
            rows = conn.execute(
                "SELECT n.nspname, c.relname FROM pg_index i "
                "JOIN pg_class c ON c.oid = i.indexrelid "
                "JOIN pg_namespace n ON n.oid = c.relnamespace "
                "WHERE NOT i.indisvalid AND c.relname = %s "
                "AND (%s::text IS NULL OR n.nspname = %s)",
                (name, schema, schema),
            ).fetchall()
            for nsp, rel in rows:
                conn.execute(
                    sql.SQL("DROP INDEX CONCURRENTLY IF EXISTS {}.{}").format(
                        sql.Identifier(nsp), sql.Identifier(rel)
                    )
                )
                log.warning(
                    "migrate.invalid_index_dropped",
                    index=f"{nsp}.{rel}",
                    reason="left by an interrupted build",
                )
                dropped.append(f"{nsp}.{rel}")
    return dropped
