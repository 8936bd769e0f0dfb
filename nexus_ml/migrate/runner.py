"""The coordinator: applies the pending plan of every module as one unit.

Under the session advisory lock, in ONE transaction: a savepoint per module (a run of
consecutive migrations of one module in the plan's order), the integrity checks after each,
then the history rows and the release. Any failure rolls everything back and raises
:class:`StepFailed`. Non-transactional migrations (``CREATE INDEX CONCURRENTLY``) run after the
commit, one by one, each verified; if one fails, the coordinator compensates: down parts of the
non-transactional steps done so far, then the down parts of the committed part in one
transaction, so the database again looks as before the run.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from nexus_ml.errors import MigrationError
from nexus_ml.logs import get_logger
from nexus_ml.migrate import history, recovery
from nexus_ml.migrate.dbmap import DatabaseMap
from nexus_ml.migrate.errors import StepFailed
from nexus_ml.migrate.graph import MigrationGraph, module_units
from nexus_ml.migrate.integrity import Conn, check_integrity, run_part, run_verify
from nexus_ml.migrate.parser import Migration
from nexus_ml.migrate.pg import AdvisoryLock, SessionSettings, open_session, redact

log = get_logger(__name__)

Progress = Callable[[str], None]


@dataclass
class RunReport:
    """What a run did (``applied`` is empty when nothing was pending)."""

    database: str
    applied: list[str] = field(default_factory=list)
    release: str = ""
    units: list[tuple[str, list[str]]] = field(default_factory=list)
    lock_wait_s: float = 0.0
    lock_hold_s: float = 0.0
    wall_s: float = 0.0


@dataclass(frozen=True)
class StatusRow:
    key: str
    name: str
    state: str
    release: str = ""


class Coordinator:
    """Applies, previews and reports migrations on one database.

    Parameters
    ----------
    conninfo
        The target database (libpq DSN or URI); never logged with its password.
    dbmap
        The database map, for the orphan checks (``None`` skips them).
    settings
        Lock wait and timeouts.
    progress
        Called with one line per unit applied (the CLI shows it).
    """

    def __init__(
        self,
        conninfo: str,
        dbmap: DatabaseMap | None = None,
        settings: SessionSettings | None = None,
        progress: Progress | None = None,
    ) -> None:
        self.conninfo = conninfo
        self.dbmap = dbmap
        self.settings = settings or SessionSettings()
        self.progress = progress or (lambda line: log.info("migrate.progress", line=line))

    @property
    def database(self) -> str:
        return redact(self.conninfo)

    def pending(self, graph: MigrationGraph) -> list[Migration]:
        """The migrations a run would apply now (reads the history; takes no lock)."""
        with open_session(self.conninfo, self.settings) as conn:
            applied = history.read_applied(conn)
        history.check_drift(applied, graph.migrations)
        graph.plan(applied)
        return list(graph.pending(applied))

    def status(self, graph: MigrationGraph) -> list[StatusRow]:
        """Every migration (files and history) with its state: applied, pending, drifted."""
        with open_session(self.conninfo, self.settings) as conn:
            applied = history.read_applied(conn)
            interrupted = recovery.read_interrupted(conn)
        rows: list[StatusRow] = []
        for m in graph.order():
            row = applied.get(m.key)
            cut = interrupted.get(m.key)
            if row is None and cut is not None:
                state = (
                    f"interrupted (non-transactional phase of release {cut.release_seq}, "
                    f"started {cut.started_at}; the next run finishes it)"
                )
                rows.append(StatusRow(m.key, m.name, state))
            elif row is None:
                rows.append(StatusRow(m.key, m.name, "pending"))
            else:
                state = "applied" if row.checksum == m.checksum else "drifted (file edited)"
                rows.append(StatusRow(m.key, m.name, state, row.release))
        rows += [
            StatusRow(k, r.name, "drifted (file missing)", r.release)
            for k, r in applied.items()
            if k not in graph.migrations
        ]
        return rows

    def apply(
        self,
        graph: MigrationGraph,
        *,
        release: str | None = None,
        expect: Sequence[str] | None = None,
    ) -> RunReport:
        """Apply every pending migration; all or nothing.

        ``expect`` (the keys a staging rehearsal applied) makes the run refuse to start when the
        pending plan is not exactly that.

        Raises
        ------
        LockTimeout
            Another coordinator held the lock longer than ``settings.lock_wait_s``.
        DriftError
            An applied migration's file was edited or removed.
        StepFailed
            A statement, verify part or check failed; the database is as before.
        """
        start = time.monotonic()
        report = RunReport(self.database)
        with open_session(self.conninfo, self.settings) as conn:
            lock = AdvisoryLock(conn, self.settings.lock_wait_s, self.settings.lock_poll_s)
            with lock:
                report.lock_wait_s = lock.waited_s
                applied = history.read_applied(conn)
                history.check_drift(applied, graph.migrations)
                graph.plan(applied)
                pending = graph.pending(applied)
                if expect is not None and {m.key for m in pending} != set(expect):
                    raise MigrationError(
                        "the database changed since the staging rehearsal: pending "
                        f"{[m.key for m in pending]}, rehearsed {list(expect)}; run again",
                        pending=[m.key for m in pending],
                    )
                if pending:
                    self._apply_pending(conn, pending, release, report, graph.allowed_not_valid)
            report.lock_hold_s = lock.held_s
        report.wall_s = time.monotonic() - start
        return report

    def _apply_pending(
        self,
        conn: Conn,
        pending: Sequence[Migration],
        name: str | None,
        report: RunReport,
        allowed: frozenset[str],
    ) -> None:
        in_tx = [m for m in pending if m.transactional]
        deferred = [m for m in pending if not m.transactional]
        first_run = not history.tables_exist(conn)
        with conn.transaction():
            history.ensure_tables(conn)
            rel = history.new_release(conn, name)
            if deferred:  # cleared one by one as they are recorded: what stays was cut short
                recovery.mark_started(conn, deferred, rel.seq)
            for module, unit in module_units(in_tx):
                with conn.transaction():  # the module's savepoint
                    for m in unit:
                        run_part(conn, m, "up")
                    check_integrity(conn, unit, self.dbmap, allowed_not_valid=allowed)
                report.units.append((module, [m.key for m in unit]))
                self.progress(f"{module}: applied {', '.join(m.key for m in unit)}")
            history.record(conn, in_tx, rel)
        report.release = rel.name
        report.applied = [m.key for m in in_tx]
        done: list[Migration] = []
        for m in deferred:
            try:
                recovery.drop_invalid_indexes(conn, [m])  # a killed earlier build of this one
                run_part(conn, m, "up")
                run_verify(conn, m)
                check_integrity(conn, [m], self.dbmap, verify=False, allowed_not_valid=allowed)
            except StepFailed:
                self._compensate(conn, [*done, m], in_tx, rel.seq - 1, first_run)
                raise
            with conn.transaction():
                history.record(conn, [m], rel)
                recovery.mark_done(conn, [m.key])
            done.append(m)
            report.applied.append(m.key)
            report.units.append((m.module, [m.key]))
            self.progress(f"{m.module}: applied {m.key} (outside the transaction)")

    def _compensate(
        self,
        conn: Conn,
        deferred: list[Migration],
        in_tx: list[Migration],
        before_seq: int,
        first_run: bool,
    ) -> None:
        # Undo what already committed so that a failed run leaves no trace: non-transactional
        # downs first (newest first), then the transactional part in one transaction.
        log.warning("migrate.non_transactional_failed", undoing="the committed part of this run")
        try:
            for m in reversed(deferred):
                run_part(conn, m, "down")
            with conn.transaction():
                for m in reversed(in_tx):
                    run_part(conn, m, "down")
                history.forget(conn, [m.key for m in [*in_tx, *deferred]], before_seq)
                recovery.forget_after(conn, before_seq)
                if first_run:
                    history.drop_tables(conn)
        except StepFailed as exc:
            raise MigrationError(
                f"compensation failed at {exc.migration} ({exc.cause}); the database needs "
                "manual attention: see `nexus-ml migrate status`",
                migration=exc.migration,
            ) from exc
