"""Locks that keep two retraining runs from overlapping.

- :class:`FileLock`: ``flock`` on a file in the state folder, for one machine. The kernel drops
  it when the process dies, so a crashed run never leaves a stale lock behind.
- :class:`PgAdvisoryLock`: a PostgreSQL session advisory lock, for replicas on several machines
  sharing one database. Also released by the server when the session ends.

Both are non-blocking: a run that finds the lock taken skips instead of queueing, because the
run holding it is already training on (nearly) the same data.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
from pathlib import Path
from types import TracebackType
from typing import Any, Protocol

from nexus_ml.errors import LockError


class RunLock(Protocol):
    def try_acquire(self) -> bool:
        """Take the lock if it is free; False when another holder has it."""
        ...

    def release(self) -> None: ...

    def describe(self) -> str: ...


class FileLock:
    """An exclusive ``flock`` on ``path`` (created with its parent folders if missing)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    def describe(self) -> str:
        return f"file lock {self.path}"

    def try_acquire(self) -> bool:
        if self._fd is not None:
            raise LockError(f"{self.describe()} is already held by this object")
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())  # who holds it, for a person looking
        self._fd = fd
        return True

    def release(self) -> None:
        if self._fd is None:
            return
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> bool:
        return self.try_acquire()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def advisory_key(name: str) -> int:
    """A stable signed 64-bit key for ``pg_try_advisory_lock`` derived from a name."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


class PgAdvisoryLock:
    """A session-level PostgreSQL advisory lock on ``advisory_key(name)``.

    The connection stays open while the lock is held; releasing closes it.
    """

    def __init__(
        self, dsn: str, name: str = "nexus-ml:retrain", *, connect_timeout_s: int = 5
    ) -> None:
        self.dsn = dsn
        self.name = name
        self.key = advisory_key(name)
        self.connect_timeout_s = connect_timeout_s
        self._conn: Any = None

    def describe(self) -> str:
        return f"PostgreSQL advisory lock {self.name!r} ({self.key})"

    def try_acquire(self) -> bool:
        import psycopg

        if self._conn is not None:
            raise LockError(f"{self.describe()} is already held by this object")
        try:
            conn = psycopg.connect(
                self.dsn, autocommit=True, connect_timeout=self.connect_timeout_s
            )
        except psycopg.Error as exc:
            raise LockError(f"cannot reach PostgreSQL for {self.describe()}: {exc}") from exc
        row = conn.execute("SELECT pg_try_advisory_lock(%s)", (self.key,)).fetchone()
        if not (row and row[0]):
            conn.close()
            return False
        self._conn = conn
        return True

    def release(self) -> None:
        if self._conn is None:
            return
        try:
            self._conn.execute("SELECT pg_advisory_unlock(%s)", (self.key,))
        finally:
            self._conn.close()
            self._conn = None
