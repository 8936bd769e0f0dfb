"""The history table: which migrations are applied, with their checksums and release.

A *release* is one successful ``all-modules`` run: a row in ``nexus_migrate.releases`` with a
sequence number and a name (``--release v2.3`` or ``release-<seq>``). Each applied migration
points at the release that applied it; ``rollback --to <release>`` undoes every later release.
Sequence numbers are ``max + 1`` under the migration lock, not a SEQUENCE, because sequences
do not roll back and a failed run must leave the database byte-for-byte as it was.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import psycopg

from nexus_ml.migrate.errors import DriftError, UnknownMigrationError
from nexus_ml.migrate.parser import Migration

SCHEMA = "nexus_migrate"
_DDL = (
    f"CREATE SCHEMA IF NOT EXISTS {SCHEMA}",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.releases (
        seq integer PRIMARY KEY,
        name text NOT NULL UNIQUE,
        applied_at timestamptz NOT NULL DEFAULT now()
    )""",
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.history (
        module text NOT NULL,
        number text NOT NULL,
        name text NOT NULL,
        checksum text NOT NULL,
        transactional boolean NOT NULL,
        release_seq integer NOT NULL REFERENCES {SCHEMA}.releases (seq),
        applied_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (module, number)
    )""",
    # non-transactional migrations of a run not finished yet (see nexus_ml.migrate.recovery)
    f"""CREATE TABLE IF NOT EXISTS {SCHEMA}.interrupted (
        module text NOT NULL,
        number text NOT NULL,
        release_seq integer NOT NULL,
        started_at timestamptz NOT NULL DEFAULT now(),
        PRIMARY KEY (module, number)
    )""",
)

Conn = psycopg.Connection[Any]


@dataclass(frozen=True)
class Applied:
    """One row of the history table."""

    key: str
    name: str
    checksum: str
    release_seq: int
    release: str


@dataclass(frozen=True)
class Release:
    seq: int
    name: str
    applied_at: str


def ensure_tables(conn: Conn) -> None:
    """Create the history tables if missing (inside the caller's transaction)."""
    for ddl in _DDL:
        conn.execute(ddl.encode())


def tables_exist(conn: Conn) -> bool:
    """Whether the history table exists (it is created by the first run)."""
    row = conn.execute("SELECT to_regclass(%s) IS NOT NULL", (f"{SCHEMA}.history",)).fetchone()
    return bool(row and row[0])


def drop_tables(conn: Conn) -> None:
    """Remove the history schema (undoing a failed first run)."""
    conn.execute(f"DROP SCHEMA {SCHEMA} CASCADE")


def read_applied(conn: Conn) -> dict[str, Applied]:
    """Applied migrations by key (empty when the history table does not exist yet)."""
    if not tables_exist(conn):
        return {}
    rows = conn.execute(
        f"SELECT h.module || ':' || h.number, h.name, h.checksum, h.release_seq, r.name "
        f"FROM {SCHEMA}.history h JOIN {SCHEMA}.releases r ON r.seq = h.release_seq "
        "ORDER BY h.applied_at, h.module, h.number"
    ).fetchall()
    return {r[0]: Applied(r[0], r[1], r[2], r[3], r[4]) for r in rows}


def read_releases(conn: Conn) -> list[Release]:
    if not tables_exist(conn):
        return []
    rows = conn.execute(
        f"SELECT seq, name, to_char(applied_at, 'YYYY-MM-DD HH24:MI:SS') FROM {SCHEMA}.releases "
        "ORDER BY seq"
    ).fetchall()
    return [Release(r[0], r[1], r[2]) for r in rows]


def check_drift(applied: Mapping[str, Applied], migrations: Mapping[str, Migration]) -> None:
    """Refuse to go on when an applied migration's file changed or disappeared.

    Raises
    ------
    DriftError
        For the first drifted migration (in history order).
    """
    for key, row in applied.items():
        m = migrations.get(key)
        if m is None:
            raise DriftError(key, "", row.checksum, "")
        if m.checksum != row.checksum:
            raise DriftError(key, m.path, row.checksum, m.checksum)


def new_release(conn: Conn, name: str | None) -> Release:
    """Insert the next release row (in the caller's transaction)."""
    row = conn.execute(f"SELECT coalesce(max(seq), 0) + 1 FROM {SCHEMA}.releases").fetchone()
    seq = int(row[0]) if row else 1
    name = name or f"release-{seq}"
    taken = conn.execute(f"SELECT 1 FROM {SCHEMA}.releases WHERE name = %s", (name,)).fetchone()
    if taken:
        raise UnknownMigrationError("--release", f"release name {name!r} is already used")
    conn.execute(f"INSERT INTO {SCHEMA}.releases (seq, name) VALUES (%s, %s)", (seq, name))
    return Release(seq, name, "")


def record(conn: Conn, migrations: Iterable[Migration], release: Release) -> None:
    """Insert history rows for ``migrations`` as part of ``release``."""
    with conn.cursor() as cur:
        cur.executemany(
            f"INSERT INTO {SCHEMA}.history (module, number, name, checksum, transactional, "
            "release_seq) VALUES (%s, %s, %s, %s, %s, %s)",
            [
                (m.module, m.number, m.name, m.checksum, m.transactional, release.seq)
                for m in migrations
            ],
        )


def forget(conn: Conn, keys: Iterable[str], after_seq: int) -> None:
    """Delete the history rows of ``keys`` and the releases after ``after_seq``."""
    pairs = [k.split(":") for k in keys]
    with conn.cursor() as cur:
        cur.executemany(f"DELETE FROM {SCHEMA}.history WHERE module = %s AND number = %s", pairs)
    conn.execute(f"DELETE FROM {SCHEMA}.releases WHERE seq > %s", (after_seq,))


def resolve_release(releases: list[Release], target: str) -> int:
    """The sequence number of ``target`` (a name, a number, or ``base`` for 0).

    Raises
    ------
    UnknownMigrationError
        No such release.
    """
    if target == "base":
        return 0
    for r in releases:
        if target in (r.name, str(r.seq)):
            return r.seq
    known = ", ".join(r.name for r in releases) or "none"
    raise UnknownMigrationError("--to", f"unknown release {target!r}; known: {known}, base")
