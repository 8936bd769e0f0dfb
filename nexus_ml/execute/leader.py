"""One active executor: a PostgreSQL session advisory lock held on a dedicated connection.

The lock lives as long as the connection: when the leader's process dies (or its connection
is cut) PostgreSQL releases it and a standby's next :meth:`PgLeaderLock.ensure` takes over.
Before every action the executor calls :meth:`ensure` again, which also proves the
connection is still alive, so a leader that lost its connection stops acting at once.
"""

from __future__ import annotations

import hashlib
from typing import Any, Protocol

from nexus_ml.logs import get_logger

log = get_logger(__name__)


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``name`` (advisory locks take a bigint)."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


class LeaderLock(Protocol):
    def ensure(self) -> bool:
        """True when this process holds the lock now (taking it if free)."""
        ...

    def release(self) -> None: ...


class SoloLock:
    """Always the leader: the embedded default (one process, no database)."""

    def ensure(self) -> bool:
        return True

    def release(self) -> None:
        return None


class PgLeaderLock:
    """``pg_try_advisory_lock`` on a dedicated autocommit connection.

    Parameters
    ----------
    dsn
        PostgreSQL connection string.
    name
        The lock's name; executors of one deployment share it.
    """

    def __init__(self, dsn: str, *, name: str = "nexus-ml-executor") -> None:
        self._dsn = dsn
        self.key = lock_key(name)
        self._conn: Any = None
        self._held = False

    @property
    def held(self) -> bool:
        return self._held

    def ensure(self) -> bool:
        import psycopg

        try:
            if self._conn is None or self._conn.closed:
                self._held = False
                self._conn = psycopg.connect(self._dsn, autocommit=True, connect_timeout=5)
            if self._held:
                # A session lock lives as long as the session: a round trip proves both.
                self._conn.execute("SELECT 1")
            if not self._held:
                row = self._conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
                self._held = bool(row and row[0])
                if self._held:
                    log.info("leader.acquired", key=self.key)
        except psycopg.Error as exc:
            log.warning(
                "leader.lost", reason="database connection failed", error=type(exc).__name__
            )
            self._drop()
        return self._held

    def backend_pid(self) -> int | None:
        """The PostgreSQL backend pid of the lock's session (tests terminate it)."""
        if self._conn is None or self._conn.closed:
            return None
        row = self._conn.execute("SELECT pg_backend_pid()").fetchone()
        return int(row[0]) if row else None

    def release(self) -> None:
        if self._conn is not None and not self._conn.closed and self._held:
            try:
                self._conn.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
            except Exception:  # closing the connection below releases it anyway
                log.debug("leader.unlock_failed", exc_info=True)
        self._drop()

    def _drop(self) -> None:
        self._held = False
        if self._conn is not None:
            try:
                self._conn.close()
            except Exception:
                log.debug("leader.close_failed", exc_info=True)
        self._conn = None
