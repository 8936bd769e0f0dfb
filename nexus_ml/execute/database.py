"""The database and smoke sides of a FULL_SYSTEM rollback.

:class:`MigrationRollback` returns the database to the last migration release applied before
the failed release, through the migration coordinator's release rollback
(:func:`nexus_ml.migrate.commands.rollback`: advisory lock, drift refused, one transaction,
integrity checks after each module, all or nothing), and checks the database afterwards.
:class:`HttpSmoke` sends the smoke requests of the post-rollback validation.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

import httpx

from nexus_ml.errors import MigrationError, NexusError
from nexus_ml.migrate import commands, history
from nexus_ml.migrate.dbmap import DatabaseMap
from nexus_ml.migrate.graph import MigrationGraph
from nexus_ml.migrate.pg import SessionSettings, open_session


class MigrationRollback:
    """Undo the migration releases of a failed release.

    Parameters
    ----------
    conninfo
        The ERP database (never logged with its password).
    graph, dbmap
        The migrations and the database map the coordinator works with.
    to_db_time
        Turns the executor's clock into the database's (identity in production; tests on a
        compressed clock translate).
    """

    def __init__(
        self,
        conninfo: str,
        graph: MigrationGraph,
        dbmap: DatabaseMap,
        *,
        settings: SessionSettings | None = None,
        to_db_time: Callable[[datetime], datetime] = lambda at: at,
    ) -> None:
        self.conninfo = conninfo
        self.graph = graph
        self.dbmap = dbmap
        self.settings = settings or SessionSettings()
        self.to_db_time = to_db_time

    def _releases(self) -> list[tuple[int, str, datetime]]:
        with open_session(self.conninfo, self.settings) as conn:
            if not history.tables_exist(conn):
                return []
            rows = conn.execute(
                f"SELECT seq, name, applied_at FROM {history.SCHEMA}.releases ORDER BY seq"
            ).fetchall()
        out = []
        for seq, name, applied in rows:
            if not isinstance(applied, datetime):
                raise MigrationError(f"release {name!r}: applied_at is not a time ({applied!r})")
            out.append((int(str(seq)), str(name), applied))
        return out

    def rollback_since(self, released_at: datetime) -> str:
        """Undo every migration release applied at or after ``released_at``.

        Raises
        ------
        MigrationError
            From the coordinator (the database is left as it was).
        """
        at = self.to_db_time(released_at)
        if at.tzinfo is None:
            at = at.replace(tzinfo=UTC)
        releases = self._releases()
        undone = [name for _, name, applied in releases if applied >= at]
        if not undone:
            return "no migration release since the failed release"
        before = [name for _, name, applied in releases if applied < at]
        target = before[-1] if before else "base"
        report = commands.rollback(
            self.conninfo, self.graph, self.dbmap, target, settings=self.settings
        )
        return (
            f"migration release(s) {', '.join(undone)} undone to {target} "
            f"({len(report.applied)} migration(s), {report.wall_s:.2f} s)"
        )

    def verify(self) -> list[str]:
        """History matches the migration files; no invalid constraint or index remains.

        Raises
        ------
        MigrationError
            A check failed.
        """
        with open_session(self.conninfo, self.settings) as conn:
            applied = history.read_applied(conn)
            history.check_drift(applied, self.graph.migrations)
            bad_constraints = conn.execute(
                "SELECT conrelid::regclass::text, conname FROM pg_constraint "
                "WHERE NOT convalidated AND connamespace::regnamespace::text "
                "NOT IN ('pg_catalog', 'information_schema')"
            ).fetchall()
            bad_indexes = conn.execute(
                "SELECT indexrelid::regclass::text FROM pg_index WHERE NOT indisvalid"
            ).fetchall()
        allowed = self.graph.allowed_not_valid
        unexpected = [f"{t}.{c}" for t, c in bad_constraints if str(c) not in allowed]
        if unexpected:
            raise MigrationError(f"constraints not validated after the rollback: {unexpected}")
        if bad_indexes:
            raise MigrationError(
                f"invalid indexes after the rollback: {[r[0] for r in bad_indexes]}"
            )
        return [
            f"migration history matches the files ({len(applied)} applied)",
            "no unvalidated constraint, no invalid index",
        ]


class HttpSmoke:
    """GET each URL; every answer must be below HTTP 400 within ``timeout_s``.

    Parameters
    ----------
    urls
        Health or smoke endpoints of the system (never with credentials in them).
    """

    def __init__(
        self,
        urls: Sequence[str],
        *,
        timeout_s: float = 5.0,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        self.urls = tuple(urls)
        self.timeout_s = timeout_s
        self.transport = transport

    def __call__(self) -> list[str]:
        lines = []
        with httpx.Client(timeout=self.timeout_s, transport=self.transport) as http:
            for url in self.urls:
                try:
                    status = http.get(url).status_code
                except httpx.HTTPError as exc:
                    raise NexusError(f"smoke request {url} failed: {type(exc).__name__}") from None
                if status >= 400:
                    raise NexusError(f"smoke request {url} answered HTTP {status}")
                lines.append(f"smoke {url}: HTTP {status}")
        return lines
