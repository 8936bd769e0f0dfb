"""The release pipeline's database seam: staging's copy and the coordinator's runs.

:class:`PostgresDatabase` copies production's database for staging
(:func:`nexus_ml.migrate.staging.staging_copy`: ``CREATE DATABASE … TEMPLATE`` when nobody is
connected, ``pg_dump | psql`` otherwise; dropped afterwards) and applies the candidate's
migrations through the migration coordinator (one transaction, advisory lock, integrity checks
per module). A failing statement or integrity check raises
:class:`~nexus_ml.migrate.errors.StepFailed` and leaves the database as it was.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import dataclass
from typing import Protocol

from nexus_ml.migrate.dbmap import DatabaseMap
from nexus_ml.migrate.graph import MigrationGraph
from nexus_ml.migrate.pg import database_of, redact
from nexus_ml.migrate.runner import Coordinator
from nexus_ml.migrate.staging import staging_copy


class Database(Protocol):
    """Production's database, as the pipeline uses it."""

    def staging_copy(self) -> AbstractContextManager[str]:
        """A fresh copy for staging (its DSN), dropped on exit."""

    def migrate(
        self, dsn: str | None, *, release: str, expect: Sequence[str] | None = None
    ) -> list[str]:
        """Apply the pending migrations on ``dsn`` (``None``: production); the keys applied.

        ``expect`` makes the run refuse a pending plan other than the one rehearsed.
        """

    def describe(self, dsn: str) -> str:
        """``user@host:port/db`` (never the password)."""

    def name_of(self, dsn: str) -> str:
        """The database name of ``dsn``."""


@dataclass(frozen=True)
class PostgresDatabase:
    """Production's PostgreSQL and the candidate's migrations.

    Parameters
    ----------
    dsn
        Production's database.
    graph
        The candidate's migrations (its ``migrations/`` folder).
    dbmap
        The database map, for the coordinator's orphan checks.
    """

    dsn: str
    graph: MigrationGraph
    dbmap: DatabaseMap | None

    def staging_copy(self) -> AbstractContextManager[str]:
        return staging_copy(self.dsn)

    def migrate(
        self, dsn: str | None, *, release: str, expect: Sequence[str] | None = None
    ) -> list[str]:
        report = Coordinator(dsn or self.dsn, self.dbmap).apply(
            self.graph, release=release, expect=expect
        )
        return list(report.applied)

    def describe(self, dsn: str) -> str:
        return redact(dsn)

    def name_of(self, dsn: str) -> str:
        return database_of(dsn)
