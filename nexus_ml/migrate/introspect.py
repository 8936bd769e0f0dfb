"""Introspect a live database (pg_catalog) and compare it with the database map (drift).

Compared: the map's schemas, their tables and columns (types as ``format_type`` prints them),
their views, and the foreign keys that cross schemas. The comparison itself is pure.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import psycopg

from nexus_ml.migrate.dbmap import DatabaseMap

Conn = psycopg.Connection[Any]


@dataclass
class Snapshot:
    """What the database has, in the map's terms."""

    tables: dict[str, dict[str, str]] = field(default_factory=dict)  # "schema.table" -> columns
    views: set[str] = field(default_factory=set)  # "schema.view"
    foreign_keys: set[tuple[str, str]] = field(default_factory=set)  # (from column, to column)
    schemas: set[str] = field(default_factory=set)


@dataclass(frozen=True)
class Difference:
    """One way the database differs from the map."""

    kind: str
    target: str
    expected: str = ""
    actual: str = ""

    def __str__(self) -> str:
        detail = f": map {self.expected!r}, database {self.actual!r}" if self.expected else ""
        return f"{self.kind} {self.target}{detail}"


def snapshot(conn: Conn, schemas: list[str]) -> Snapshot:
    """Read tables, columns, views and cross-schema foreign keys of ``schemas``."""
    snap = Snapshot()
    snap.schemas = {
        r[0]
        for r in conn.execute(
            "SELECT nspname FROM pg_namespace WHERE nspname = ANY(%s)", (schemas,)
        )
    }
    for schema, rel, kind in conn.execute(
        "SELECT n.nspname, c.relname, c.relkind FROM pg_class c JOIN pg_namespace n "
        "ON n.oid = c.relnamespace WHERE n.nspname = ANY(%s) AND c.relkind IN ('r', 'p', 'v', 'm')",
        (schemas,),
    ):
        if kind in ("v", "m"):
            snap.views.add(f"{schema}.{rel}")
        else:
            snap.tables[f"{schema}.{rel}"] = {}
    for schema, rel, column, type_ in conn.execute(
        "SELECT n.nspname, c.relname, a.attname, format_type(a.atttypid, a.atttypmod) "
        "FROM pg_attribute a JOIN pg_class c ON c.oid = a.attrelid JOIN pg_namespace n "
        "ON n.oid = c.relnamespace WHERE n.nspname = ANY(%s) AND c.relkind IN ('r', 'p') "
        "AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum",
        (schemas,),
    ):
        snap.tables[f"{schema}.{rel}"][column] = type_
    for src_s, src_t, src_c, dst_s, dst_t, dst_c in conn.execute(
        "SELECT sn.nspname, sc.relname, sa.attname, tn.nspname, tc.relname, ta.attname "
        "FROM pg_constraint k "
        "JOIN pg_class sc ON sc.oid = k.conrelid JOIN pg_namespace sn ON sn.oid = sc.relnamespace "
        "JOIN pg_class tc ON tc.oid = k.confrelid JOIN pg_namespace tn ON tn.oid = tc.relnamespace "
        "JOIN pg_attribute sa ON sa.attrelid = k.conrelid AND sa.attnum = k.conkey[1] "
        "JOIN pg_attribute ta ON ta.attrelid = k.confrelid AND ta.attnum = k.confkey[1] "
        "WHERE k.contype = 'f' AND sn.nspname <> tn.nspname "
        "AND (sn.nspname = ANY(%s) OR tn.nspname = ANY(%s))",
        (schemas, schemas),
    ):
        snap.foreign_keys.add((f"{src_s}.{src_t}.{src_c}", f"{dst_s}.{dst_t}.{dst_c}"))
    return snap


def compare(dbmap: DatabaseMap, snap: Snapshot) -> list[Difference]:
    """Every difference between the map and the snapshot, in a stable order."""
    diffs: list[Difference] = []
    for m in dbmap.modules:
        if m.schema_name not in snap.schemas:
            diffs.append(Difference("missing schema", m.schema_name))
            continue
        for table, columns in m.tables.items():
            name = f"{m.schema_name}.{table}"
            live = snap.tables.get(name)
            if live is None:
                diffs.append(Difference("missing table", name))
                continue
            for column, type_ in columns.items():
                if column not in live:
                    diffs.append(Difference("missing column", f"{name}.{column}"))
                elif live[column] != type_:
                    diffs.append(
                        Difference("type differs", f"{name}.{column}", type_, live[column])
                    )
            diffs += [Difference("extra column", f"{name}.{c}") for c in live if c not in columns]
        diffs += [
            Difference("missing view", f"{m.schema_name}.{v}")
            for v in m.views
            if f"{m.schema_name}.{v}" not in snap.views
        ]
    mapped_tables = {f"{m.schema_name}.{t}" for m in dbmap.modules for t in m.tables}
    mapped_views = {f"{m.schema_name}.{v}" for m in dbmap.modules for v in m.views}
    diffs += [Difference("extra table", t) for t in sorted(snap.tables) if t not in mapped_tables]
    diffs += [Difference("extra view", v) for v in sorted(snap.views) if v not in mapped_views]
    mapped_fks = {(r.source, r.to) for r in dbmap.references if r.kind == "foreign_key"}
    diffs += [
        Difference("missing foreign key", f"{a} -> {b}")
        for a, b in sorted(mapped_fks)
        if (a, b) not in snap.foreign_keys and a.rsplit(".", 1)[0] in snap.tables
    ]
    diffs += [
        Difference("extra foreign key", f"{a} -> {b}")
        for a, b in sorted(snap.foreign_keys - mapped_fks)
    ]
    return diffs


def database_drift(conn: Conn, dbmap: DatabaseMap) -> list[Difference]:
    """Where the live database differs from the map."""
    return compare(dbmap, snapshot(conn, list(dbmap.schemas)))
