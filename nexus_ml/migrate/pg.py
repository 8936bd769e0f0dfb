"""PostgreSQL plumbing of the coordinator: connections, DSN redaction, the advisory lock.

The lock is session-level and taken with ``pg_try_advisory_lock`` in a loop *outside* any
transaction: a waiting coordinator holds no snapshot, so it never blocks (or deadlocks with) a
``CREATE INDEX CONCURRENTLY`` that waits for older transactions. If the holder dies, PostgreSQL
ends its session and frees the lock; ``client_connection_check_interval`` makes the server
notice a killed client even while a statement (say a long ``ALTER``) is running.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from types import TracebackType

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from nexus_ml.errors import InputError, MigrationError
from nexus_ml.logs import get_logger
from nexus_ml.migrate.errors import LockTimeout
from nexus_ml.redact import dsn_password
from nexus_ml.redact import redact as mask

log = get_logger(__name__)

# Fixed key of the migration lock: every coordinator of every version agrees on it.
MIGRATION_LOCK_KEY = 0x6E6D_6967_7261_7465  # "nmigrate"
APPLICATION_NAME = "nexus-ml migrate"


@dataclass(frozen=True)
class SessionSettings:
    """Timeouts of a coordinator session (PostgreSQL interval strings)."""

    lock_timeout: str = "5s"
    statement_timeout: str = "15min"
    client_check_interval: str = "1s"
    lock_wait_s: float = 30.0
    lock_poll_s: float = 0.1


def redact(conninfo: str) -> str:
    """``user@host:port/dbname``: the DSN without its password, for logs and reports."""
    try:
        parts = conninfo_to_dict(conninfo)
    except psycopg.ProgrammingError:
        return "<invalid DSN>"
    return (
        f"{parts.get('user', '')}@{parts.get('host', '')}:{parts.get('port', '5432')}"
        f"/{parts.get('dbname', '')}"
    )


def with_dbname(conninfo: str, dbname: str) -> str:
    """The same server and credentials, another database."""
    return make_conninfo(conninfo, dbname=dbname)


def database_of(conninfo: str) -> str:
    return str(conninfo_to_dict(conninfo).get("dbname", ""))


def connect(conninfo: str) -> psycopg.Connection[tuple[object, ...]]:
    """An autocommit connection; a failure becomes one line naming the (redacted) target.

    Raises
    ------
    InputError
        The DSN cannot be parsed (the message never shows its password).
    MigrationError
        The server is unreachable or refuses the credentials.
    """
    try:
        return psycopg.connect(conninfo, autocommit=True, application_name=APPLICATION_NAME)
    except psycopg.Error as exc:
        # libpq quotes the part of a DSN it cannot parse, password included (``%ZZ``)
        reason = mask(" ".join(str(exc).split()) or type(exc).__name__, [dsn_password(conninfo)])
        if isinstance(exc, psycopg.ProgrammingError):  # libpq could not parse the DSN
            raise InputError(f"invalid PostgreSQL DSN: {reason}") from None
        raise MigrationError(f"cannot connect to {redact(conninfo)}: {reason}") from None


def open_session(
    conninfo: str, settings: SessionSettings
) -> psycopg.Connection[tuple[object, ...]]:
    """An autocommit connection with the coordinator's timeouts set for the session."""
    conn = connect(conninfo)
    values = [
        ("lock_timeout", settings.lock_timeout),
        ("statement_timeout", settings.statement_timeout),
    ]
    if conn.info.server_version >= 140000:  # the setting exists since PostgreSQL 14
        values.append(("client_connection_check_interval", settings.client_check_interval))
    for name, value in values:
        conn.execute("SELECT set_config(%s, %s, false)", (name, value))
    return conn


@dataclass
class AdvisoryLock:
    """The session-level migration lock, as a context manager; records wait and hold times."""

    conn: psycopg.Connection[tuple[object, ...]]
    wait_s: float = 30.0
    poll_s: float = 0.1
    key: int = MIGRATION_LOCK_KEY
    waited_s: float = field(default=0.0, init=False)
    held_s: float = field(default=0.0, init=False)
    _acquired_at: float = field(default=0.0, init=False)

    def __enter__(self) -> AdvisoryLock:
        start = time.monotonic()
        while True:
            row = self.conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
            if row and row[0]:
                break
            if time.monotonic() - start >= self.wait_s:
                raise LockTimeout(self._database(), time.monotonic() - start, self._holder())
            time.sleep(self.poll_s)
        self._acquired_at = time.monotonic()
        self.waited_s = self._acquired_at - start
        log.info("migrate.lock_acquired", waited_s=round(self.waited_s, 3))
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.held_s = time.monotonic() - self._acquired_at
        try:
            if not self.conn.closed:
                if self.conn.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                    self.conn.rollback()
                self.conn.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
        except psycopg.Error as unlock_error:
            # A broken session: the server frees its locks when it ends. Do not hide the
            # error that brought us here.
            log.warning(
                "migrate.unlock_failed", error=str(unlock_error), note="the session end frees it"
            )
        log.info("migrate.lock_released", held_s=round(self.held_s, 3))

    def _database(self) -> str:
        return str(self.conn.info.dbname)

    def _holder(self) -> str:
        row = self.conn.execute(
            "SELECT a.pid, a.application_name, a.backend_start FROM pg_locks l "
            "JOIN pg_stat_activity a ON a.pid = l.pid WHERE l.locktype = 'advisory' "
            "AND l.granted AND l.database = (SELECT oid FROM pg_database "
            "WHERE datname = current_database()) "
            "AND l.classid = (%s >> 32)::oid AND l.objid = (%s & 4294967295)::oid",
            (self.key, self.key),
        ).fetchone()
        if row is None:
            return ""
        return f"pid {row[0]} '{row[1]}' since {row[2]:%H:%M:%S}"
