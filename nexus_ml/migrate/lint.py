"""Lint: dangerous operations flagged before they run (pure).

Rules (acknowledge one in a file with ``-- migrate:lint-ignore <rule>``):

- ``volatile-default``: ADD COLUMN with a volatile default rewrites the whole table.
- ``not-null-without-check``: SET NOT NULL scans under ACCESS EXCLUSIVE unless a validated
  ``CHECK (col IS NOT NULL)`` exists.
- ``index-without-concurrently``: CREATE INDEX on an existing table blocks its writes.
- ``fk-without-not-valid``: a foreign key on an existing table validates under lock.
- ``type-change``: ALTER COLUMN ... TYPE usually rewrites the table and breaks readers.
- ``drop-used-column``: another module uses the column (per the database map).
- ``concurrently-in-transaction``: CONCURRENTLY in a transactional migration fails at run time.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from nexus_ml.migrate.changes import (
    ADD_COLUMN,
    ADD_CONSTRAINT,
    ALTER_COLUMN,
    CREATE_INDEX,
    CREATE_TABLE,
    DROP_COLUMN,
    DROP_TABLE,
    VALIDATE,
    strip_comments,
    table_actions,
)
from nexus_ml.migrate.dbmap import DatabaseMap
from nexus_ml.migrate.parser import Migration

RULES = (
    "volatile-default",
    "not-null-without-check",
    "index-without-concurrently",
    "fk-without-not-valid",
    "type-change",
    "drop-used-column",
    "concurrently-in-transaction",
)
_VOLATILE = re.compile(
    r"\bDEFAULT\b.*\b(random|clock_timestamp|gen_random_uuid|uuid_generate_v[14]|nextval|"
    r"timeofday|txid_current)\s*\(",
    re.I | re.S,
)


@dataclass(frozen=True)
class LintFinding:
    """One flagged statement."""

    path: str
    line: int
    migration: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: [{self.rule}] {self.message}"


def lint_migration(migration: Migration, dbmap: DatabaseMap) -> list[LintFinding]:
    """Findings of one migration's up part, minus the rules it acknowledges."""
    up = [(st.line, strip_comments(st.text)) for st in migration.up]
    created = {f"{m.group(1)}.{m.group(2)}" for _, sql in up if (m := CREATE_TABLE.match(sql))}
    checked = {
        m.group(1).lower()
        for _, sql in up
        for m in re.finditer(r'CHECK\s*\(\s*"?(\w+)"?\s+IS\s+NOT\s+NULL\s*\)', sql, re.I)
    }
    actions = [table_actions(sql) for _, sql in up]
    validates = any(VALIDATE.match(a.text) for acts in actions for a in acts)
    found: list[tuple[int, str, str]] = []
    for (line, sql), statement_actions in zip(up, actions, strict=True):
        if migration.transactional and re.search(r"\bCONCURRENTLY\b", sql, re.I):
            found.append(
                (
                    line,
                    "concurrently-in-transaction",
                    "CONCURRENTLY cannot run in a transaction: add "
                    "`-- migrate:transactional false`",
                )
            )
        if (
            (m := CREATE_INDEX.match(sql))
            and not m.group(1)
            and f"{m.group(2)}.{m.group(3)}" not in created
        ):
            found.append(
                (
                    line,
                    "index-without-concurrently",
                    f"CREATE INDEX on existing table {m.group(2)}.{m.group(3)} blocks "
                    "writes: use CREATE INDEX CONCURRENTLY in a non-transactional migration",
                )
            )
        if m := DROP_TABLE.match(sql):
            for ref in dbmap.users_of(m.group(1), m.group(2)):
                found.append(
                    (
                        line,
                        "drop-used-column",
                        f"DROP TABLE {m.group(1)}.{m.group(2)}: {ref.to} is used by "
                        f"{dbmap.module_of(ref)} ({ref.kind} {ref.source})",
                    )
                )
        for action in statement_actions:
            if f"{action.schema}.{action.table}" not in created:
                found.extend(
                    (line, rule, msg)
                    for rule, msg in _action_findings(
                        action.schema, action.table, action.text, checked, validates, dbmap
                    )
                )
    return [
        LintFinding(migration.path or migration.key, line, migration.key, rule, message)
        for line, rule, message in found
        if rule not in migration.lint_ignore
    ]


def _action_findings(
    schema: str, table: str, text: str, checked: set[str], validates: bool, dbmap: DatabaseMap
) -> Iterable[tuple[str, str]]:
    name = f"{schema}.{table}"
    is_constraint = ADD_CONSTRAINT.match(text) is not None
    if (m := ADD_COLUMN.match(text)) and not is_constraint and _VOLATILE.search(text):
        yield (
            "volatile-default",
            f"ADD COLUMN {m.group(1)} on {name} with a volatile default rewrites the table: "
            "add it without default, then backfill in batches",
        )
    if re.search(r"\b(FOREIGN\s+KEY|REFERENCES)\b", text, re.I) and not re.search(
        r"\bNOT\s+VALID\b", text, re.I
    ):
        yield (
            "fk-without-not-valid",
            f"foreign key on existing table {name} is validated under lock: add it NOT VALID "
            "and VALIDATE CONSTRAINT in a later statement",
        )
    if (m := ALTER_COLUMN.match(text)) and not is_constraint:
        column, rest = m.group(1), m.group(2)
        if re.match(r"^(SET\s+DATA\s+)?TYPE\b", rest, re.I):
            yield (
                "type-change",
                f"type change of {name}.{column} rewrites the table and may break readers: "
                "add a new column and migrate readers instead",
            )
        if re.match(r"^SET\s+NOT\s+NULL\b", rest, re.I) and not (
            column.lower() in checked and validates
        ):
            yield (
                "not-null-without-check",
                f"SET NOT NULL on {name}.{column} scans the table under ACCESS EXCLUSIVE: "
                f"first add CHECK ({column} IS NOT NULL) NOT VALID and VALIDATE it",
            )
    if (m := DROP_COLUMN.match(text)) and not re.match(r"^DROP\s+CONSTRAINT\b", text, re.I):
        for ref in dbmap.users_of(schema, table, m.group(1)):
            yield (
                "drop-used-column",
                f"DROP COLUMN {name}.{m.group(1)} is used by {dbmap.module_of(ref)} "
                f"({ref.kind} {ref.source})",
            )


def lint_all(migrations: Iterable[Migration], dbmap: DatabaseMap) -> list[LintFinding]:
    """Findings of every migration, in the given order."""
    return [f for m in migrations for f in lint_migration(m, dbmap)]
