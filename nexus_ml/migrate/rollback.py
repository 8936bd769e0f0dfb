"""The rollback manager: ``rollback --to <release>`` runs down parts in reverse order.

Same guarantees as a forward run: the advisory lock, drift refused, one transaction with a
savepoint per module and the integrity checks (constraints, indexes, orphaned rows) after
each, all or nothing. Non-transactional downs (``DROP INDEX CONCURRENTLY``) run first, outside
the transaction (they were applied last); if the transaction then fails, their up parts run
again so the database is back where it was.
"""

from __future__ import annotations

import time

from nexus_ml.errors import MigrationError
from nexus_ml.logs import get_logger
from nexus_ml.migrate import history
from nexus_ml.migrate.errors import StepFailed
from nexus_ml.migrate.graph import MigrationGraph, module_units
from nexus_ml.migrate.integrity import check_integrity, run_part
from nexus_ml.migrate.parser import Migration
from nexus_ml.migrate.pg import AdvisoryLock, open_session
from nexus_ml.migrate.runner import Coordinator, RunReport

log = get_logger(__name__)


def rollback_to(coordinator: Coordinator, graph: MigrationGraph, target: str) -> RunReport:
    """Undo every release after ``target`` (a release name, its number, or ``base``).

    Raises
    ------
    UnknownMigrationError
        No such release.
    MigrationError
        A migration to undo has no down part (nothing is changed).
    DriftError, LockTimeout, StepFailed
        As for a forward run; the database is left as it was.
    """
    start = time.monotonic()
    report = RunReport(coordinator.database)
    settings = coordinator.settings
    with open_session(coordinator.conninfo, settings) as conn:
        lock = AdvisoryLock(conn, settings.lock_wait_s, settings.lock_poll_s)
        with lock:
            report.lock_wait_s = lock.waited_s
            applied = history.read_applied(conn)
            history.check_drift(applied, graph.migrations)
            seq = history.resolve_release(history.read_releases(conn), target)
            undo = [
                m
                for m in reversed(graph.order())
                if m.key in applied and applied[m.key].release_seq > seq
            ]
            for m in undo:
                if not m.down:
                    raise MigrationError(
                        f"{m.path or m.key}: no down part, cannot roll back past it",
                        migration=m.key,
                    )
            if undo:
                _undo(coordinator, conn, undo, seq, report, graph.allowed_not_valid)
            report.release = target
        report.lock_hold_s = lock.held_s
    report.wall_s = time.monotonic() - start
    return report


def _undo(
    coordinator: Coordinator,
    conn: history.Conn,
    undo: list[Migration],
    seq: int,
    report: RunReport,
    allowed: frozenset[str],
) -> None:
    deferred = [m for m in undo if not m.transactional]
    in_tx = [m for m in undo if m.transactional]
    done: list[Migration] = []
    try:
        for m in deferred:
            run_part(conn, m, "down")
            done.append(m)
        with conn.transaction():
            for module, unit in module_units(in_tx):
                with conn.transaction():
                    for m in unit:
                        run_part(conn, m, "down")
                    check_integrity(
                        conn, unit, coordinator.dbmap, verify=False, allowed_not_valid=allowed
                    )
                report.units.append((module, [m.key for m in unit]))
                coordinator.progress(f"{module}: rolled back {', '.join(m.key for m in unit)}")
            history.forget(conn, [m.key for m in undo], seq)
    except StepFailed:
        _redo(conn, done)
        raise
    report.applied = [m.key for m in [*deferred, *in_tx]]


def _redo(conn: history.Conn, done: list[Migration]) -> None:
    for m in reversed(done):
        try:
            run_part(conn, m, "up")
        except StepFailed as exc:
            raise MigrationError(
                f"rollback failed and re-applying {m.key} failed too ({exc.cause}); the "
                "database needs manual attention",
                migration=m.key,
            ) from exc
