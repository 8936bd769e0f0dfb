"""What a migration changes, read from its SQL: a list of :class:`DatabaseChange` (pure).

Recognises the statements migrations are made of (CREATE/DROP TABLE, CREATE VIEW, ALTER TABLE
actions, CREATE INDEX) with schema-qualified names, which our migrations always use. Anything
else (functions, triggers, grants) changes no table and is ignored here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from nexus_ml.domain.migration import ChangeType, DatabaseChange
from nexus_ml.migrate.sqlsplit import Statement

_NAME = r'"?([a-z_][a-z0-9_]*)"?\."?([a-z_][a-z0-9_]*)"?'
CREATE_TABLE = re.compile(
    rf"^CREATE\s+(?:UNLOGGED\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?{_NAME}", re.I
)
CREATE_VIEW = re.compile(
    rf"^CREATE\s+(?:OR\s+REPLACE\s+)?(?:MATERIALIZED\s+)?VIEW\s+(?:IF\s+NOT\s+EXISTS\s+)?{_NAME}",
    re.I,
)
DROP_TABLE = re.compile(rf"^DROP\s+TABLE\s+(?:IF\s+EXISTS\s+)?{_NAME}", re.I)
ALTER_TABLE = re.compile(
    rf"^ALTER\s+TABLE\s+(?:IF\s+EXISTS\s+)?(?:ONLY\s+)?{_NAME}\s+(.*)$", re.I | re.S
)
CREATE_INDEX = re.compile(
    r"^CREATE\s+(?:UNIQUE\s+)?INDEX\s+(CONCURRENTLY\s+)?(?:IF\s+NOT\s+EXISTS\s+)?"
    rf"(?:\"?[a-z_][a-z0-9_]*\"?\s+)?ON\s+(?:ONLY\s+)?{_NAME}",
    re.I,
)
_COLUMN = r'"?([a-z_][a-z0-9_]*)"?'
ADD_CONSTRAINT = re.compile(
    r"^ADD\s+(?:CONSTRAINT\s+\S+\s+)?(CHECK|UNIQUE|PRIMARY|FOREIGN|EXCLUDE)\b", re.I
)
ADD_COLUMN = re.compile(rf"^ADD\s+(?:COLUMN\s+)?(?:IF\s+NOT\s+EXISTS\s+)?{_COLUMN}", re.I)
DROP_COLUMN = re.compile(rf"^DROP\s+(?:COLUMN\s+)?(?:IF\s+EXISTS\s+)?{_COLUMN}", re.I)
ALTER_COLUMN = re.compile(rf"^ALTER\s+(?:COLUMN\s+)?{_COLUMN}\s+(.*)$", re.I | re.S)
VALIDATE = re.compile(r"^VALIDATE\s+CONSTRAINT\s+(\S+)", re.I)
_PUNCT = re.compile(r"[(),]")
FOREIGN_COLUMN = re.compile(rf"FOREIGN\s+KEY\s*\(\s*{_COLUMN}", re.I)


@dataclass(frozen=True)
class TableAction:
    """One action of an ``ALTER TABLE`` (``ADD COLUMN x``, ``VALIDATE CONSTRAINT c``...)."""

    schema: str
    table: str
    text: str


def strip_comments(sql: str) -> str:
    return "\n".join(ln for ln in sql.splitlines() if not ln.strip().startswith("--")).strip()


def table_actions(statement: str) -> list[TableAction]:
    """The comma-separated actions of an ``ALTER TABLE`` statement (none for other statements)."""
    m = ALTER_TABLE.match(strip_comments(statement))
    if not m:
        return []
    schema, table, rest = m.group(1), m.group(2), m.group(3)
    parts: list[str] = []
    depth, start = 0, 0
    for mark in _PUNCT.finditer(rest):
        ch = mark.group()
        if ch == ",":
            if depth == 0:
                parts.append(rest[start : mark.start()])
                start = mark.end()
        else:
            depth += 1 if ch == "(" else -1
    parts.append(rest[start:])
    return [TableAction(schema, table, " ".join(p.split())) for p in parts if p.strip()]


def statement_changes(module: str, statement: str) -> list[DatabaseChange]:
    """The changes one statement makes."""
    sql = strip_comments(statement)

    def change(
        kind: ChangeType, schema: str, table: str, column: str | None = None, detail: str = ""
    ) -> DatabaseChange:
        return DatabaseChange(
            module=module,
            schema_name=schema,
            table=table,
            column=column,
            change_type=kind,
            detail=detail,
        )

    if m := CREATE_TABLE.match(sql):
        return [change(ChangeType.ADD_TABLE, m.group(1), m.group(2), detail="table")]
    if m := CREATE_VIEW.match(sql):
        return [change(ChangeType.ADD_TABLE, m.group(1), m.group(2), detail="view")]
    if m := DROP_TABLE.match(sql):
        return [change(ChangeType.REMOVE_TABLE, m.group(1), m.group(2))]
    if m := CREATE_INDEX.match(sql):
        return [change(ChangeType.ADD_CONSTRAINT, m.group(2), m.group(3), detail="index")]
    out: list[DatabaseChange] = []
    for action in table_actions(sql):
        s, t, text = action.schema, action.table, action.text
        if m := ADD_CONSTRAINT.match(text):
            fk = FOREIGN_COLUMN.search(text)
            out.append(
                change(
                    ChangeType.ADD_CONSTRAINT,
                    s,
                    t,
                    fk.group(1) if fk else None,
                    detail=m.group(1).lower(),
                )
            )
        elif m := VALIDATE.match(text):
            out.append(change(ChangeType.ADD_CONSTRAINT, s, t, detail=f"validate {m.group(1)}"))
        elif re.match(r"^DROP\s+CONSTRAINT\b", text, re.I):
            continue
        elif m := ADD_COLUMN.match(text):
            out.append(change(ChangeType.ADD_COLUMN, s, t, m.group(1)))
        elif m := DROP_COLUMN.match(text):
            out.append(change(ChangeType.REMOVE_COLUMN, s, t, m.group(1)))
        elif m := ALTER_COLUMN.match(text):
            out.append(change(ChangeType.ALTER_COLUMN, s, t, m.group(1), detail=m.group(2)))
    return out


def migration_changes(module: str, statements: Iterable[Statement]) -> list[DatabaseChange]:
    """Every change of a migration's statements, in order, without repeats."""
    seen: dict[tuple[object, ...], DatabaseChange] = {}
    for st in statements:
        for c in statement_changes(module, st.text):
            seen.setdefault((c.schema_name, c.table, c.column, c.change_type, c.detail), c)
    return list(seen.values())
