"""Running a migration's parts, and the integrity checks after each module.

Every failure becomes a :class:`StepFailed` naming module, migration, file line and statement.
Checks after a module: its verify parts return true; no constraint of the touched schemas is
left NOT VALID; no index is invalid; no cross-module reference of the map has orphaned rows.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Sequence
from typing import Any

import psycopg
from psycopg import sql

from nexus_ml.migrate.dbmap import DatabaseMap
from nexus_ml.migrate.errors import StepFailed
from nexus_ml.migrate.parser import Migration
from nexus_ml.migrate.sqlsplit import Statement

Conn = psycopg.Connection[Any]


def _cause(exc: psycopg.Error) -> str:
    diag = exc.diag
    text = diag.message_primary or str(exc).strip().splitlines()[0]
    return f"{text} (SQLSTATE {diag.sqlstate})" if diag.sqlstate else text


def run_part(conn: Conn, migration: Migration, part: str) -> None:
    """Execute ``migration``'s ``part`` (``up`` or ``down``) statement by statement."""
    statements: Sequence[Statement] = getattr(migration, part)
    for st in statements:
        try:
            conn.execute(st.text.encode())
        except psycopg.Error as exc:
            raise _failed(migration, part, st, _cause(exc)) from exc


def run_verify(conn: Conn, migration: Migration) -> None:
    """Each verify statement must return one row whose first value is true."""
    for st in migration.verify:
        try:
            row = conn.execute(st.text.encode()).fetchone()
        except psycopg.Error as exc:
            raise _failed(migration, "verify", st, _cause(exc)) from exc
        if not row or row[0] is not True:
            raise _failed(migration, "verify", st, f"returned {row[0] if row else 'no row'!r}")


def _failed(migration: Migration, phase: str, st: Statement, cause: str) -> StepFailed:
    return StepFailed(
        module=migration.module,
        migration=migration.key,
        phase=phase,
        statement=st.text,
        cause=cause,
        location=f"{migration.path}:{st.line}" if migration.path else "",
    )


def check_integrity(
    conn: Conn,
    unit: Sequence[Migration],
    dbmap: DatabaseMap | None,
    *,
    verify: bool = True,
    allowed_not_valid: Collection[str] = (),
) -> None:
    """The checks after a module's migrations ran (inside the caller's savepoint).

    ``allowed_not_valid`` names constraints a migration declared may stay NOT VALID
    (``-- migrate:allow-not-valid``, e.g. a foreign key on a huge table validated later).
    """
    last = unit[-1]
    if verify:
        for m in unit:
            run_verify(conn, m)
    schemas = _touched_schemas(unit, dbmap)
    rows = conn.execute(
        "SELECT c.conname, c.conrelid::regclass::text FROM pg_constraint c "
        "JOIN pg_namespace n ON n.oid = c.connamespace "
        "WHERE NOT c.convalidated AND n.nspname = ANY(%s) ORDER BY 1",
        (schemas,),
    ).fetchall()
    rows = [r for r in rows if r[0] not in allowed_not_valid]
    if rows:
        _raise_check(
            last,
            "constraints valid",
            f"constraint {rows[0][0]} on {rows[0][1]} is "
            "NOT VALID: VALIDATE CONSTRAINT it in the same migration (or declare "
            "`-- migrate:allow-not-valid` if validation is deliberately later)",
        )
    rows = conn.execute(
        "SELECT i.indexrelid::regclass::text FROM pg_index i JOIN pg_class c "
        "ON c.oid = i.indexrelid JOIN pg_namespace n ON n.oid = c.relnamespace "
        "WHERE NOT i.indisvalid AND n.nspname = ANY(%s) ORDER BY 1",
        (schemas,),
    ).fetchall()
    if rows:
        _raise_check(last, "indexes valid", f"index {rows[0][0]} is invalid")
    if dbmap is not None:
        _check_orphans(conn, last, dbmap, set(schemas))


def _touched_schemas(unit: Iterable[Migration], dbmap: DatabaseMap | None) -> list[str]:
    schemas = {m.module for m in unit}
    if dbmap is not None:
        schemas |= {dbmap.module_schema(m.module).schema_name for m in unit}
    return sorted(schemas)


def _check_orphans(conn: Conn, last: Migration, dbmap: DatabaseMap, schemas: set[str]) -> None:
    for ref in dbmap.references:
        if ref.kind != "foreign_key":
            continue
        src = ref.source.split(".")
        dst = list(ref.target)
        if src[0] not in schemas and dst[0] not in schemas:
            continue
        if not (_column_exists(conn, *src) and _column_exists(conn, *dst)):
            continue  # the map describes the final schema; this part is not there yet
        query = sql.SQL(
            "SELECT count(*) FROM {s}.{t} f WHERE f.{c} IS NOT NULL AND NOT EXISTS "
            "(SELECT 1 FROM {ds}.{dt} d WHERE d.{dc} = f.{c})"
        ).format(
            s=sql.Identifier(src[0]),
            t=sql.Identifier(src[1]),
            c=sql.Identifier(src[2]),
            ds=sql.Identifier(dst[0]),
            dt=sql.Identifier(dst[1]),
            dc=sql.Identifier(dst[2]),
        )
        row = conn.execute(query).fetchone()
        if row and row[0]:
            _raise_check(
                last, "orphaned rows", f"{row[0]} row(s) of {ref.source} point at no {ref.to}"
            )


def _column_exists(conn: Conn, schema: str, table: str, column: str) -> bool:
    row = conn.execute(
        "SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attname = %s "
        "AND NOT attisdropped",
        (f"{schema}.{table}", column),
    ).fetchone()
    return row is not None


def _raise_check(last: Migration, check: str, cause: str) -> None:
    raise StepFailed(
        module=last.module,
        migration=last.key,
        phase="integrity check",
        statement=check,
        cause=cause,
        location="",
    )
