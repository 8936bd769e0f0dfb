"""Impact analysis of one migration (pure): what it changes and who, in other modules, feels it.

Three sources: the database map's references to what the migration touches (foreign keys,
views, declared usage), and the migrations that depend on it (directly or not).
"""

from __future__ import annotations

from dataclasses import dataclass

from nexus_ml.domain.migration import ChangeType, DatabaseChange
from nexus_ml.migrate.changes import migration_changes
from nexus_ml.migrate.dbmap import DatabaseMap
from nexus_ml.migrate.errors import UnknownMigrationError
from nexus_ml.migrate.graph import MigrationGraph

_COLUMN_CHANGES = (ChangeType.ADD_COLUMN, ChangeType.ALTER_COLUMN, ChangeType.REMOVE_COLUMN)


@dataclass(frozen=True)
class Affected:
    """A module affected by a change: the object it uses or changes, and how."""

    module: str
    target: str
    change_type: ChangeType
    via: str


@dataclass(frozen=True)
class ImpactReport:
    """Changes of ``key`` and their effects, for ``nexus-ml migrate impact``."""

    key: str
    changes: tuple[DatabaseChange, ...]
    affected: tuple[Affected, ...]

    @property
    def modules(self) -> tuple[str, ...]:
        """Affected modules other than the migration's own, sorted."""
        own = self.key.split(":")[0]
        return tuple(sorted({a.module for a in self.affected} - {own}))


def analyse_impact(graph: MigrationGraph, dbmap: DatabaseMap, key: str) -> ImpactReport:
    """What migration ``key`` changes and what it affects.

    Raises
    ------
    UnknownMigrationError
        ``key`` names no migration.
    """
    if key not in graph.migrations:
        known = ", ".join(sorted(graph.migrations))
        raise UnknownMigrationError(key, f"no such migration; known: {known}")
    migration = graph.migrations[key]
    changes = tuple(migration_changes(migration.module, migration.up))
    affected: list[Affected] = []
    how = {"foreign_key": "foreign key", "view": "view", "usage": "declared usage"}
    for c in changes:
        target = ".".join(p for p in (c.schema_name, c.table, c.column) if p)
        if c.change_type == ChangeType.REMOVE_TABLE:
            users = dbmap.users_of(c.schema_name, c.table)
        elif c.change_type in _COLUMN_CHANGES and c.column:
            users = dbmap.users_of(c.schema_name, c.table, c.column)
            # The ALTER takes the table's ACCESS EXCLUSIVE lock: writers of tables that
            # reference it by foreign key wait too.
            for ref in dbmap.users_of(c.schema_name, c.table):
                if ref.kind == "foreign_key":
                    affected.append(
                        Affected(
                            module=dbmap.module_of(ref),
                            target=ref.to,
                            change_type=c.change_type,
                            via=f"foreign key {ref.source} (table locked during the ALTER)",
                        )
                    )
        else:
            users = []
        for ref in users:
            note = f" ({ref.note})" if ref.note else ""
            affected.append(
                Affected(
                    module=dbmap.module_of(ref),
                    target=ref.to,
                    change_type=c.change_type,
                    via=f"{how[ref.kind]} {ref.source}{note}",
                )
            )
    for dep_key in sorted(
        graph.descendants(key), key=lambda k: graph.order().index(graph.migrations[k])
    ):
        dependent = graph.migrations[dep_key]
        for c in migration_changes(dependent.module, dependent.up):
            target = ".".join(p for p in (c.schema_name, c.table, c.column) if p)
            affected.append(
                Affected(
                    module=dependent.module,
                    target=target,
                    change_type=c.change_type,
                    via=f"migration {dep_key} depends on {key}",
                )
            )
    return ImpactReport(key=key, changes=changes, affected=tuple(dict.fromkeys(affected)))
