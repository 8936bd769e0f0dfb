"""The executor's incident hook: crisis data collected in the background, never in the loop's way.

The loop calls :meth:`IncidentHook.submit` once per handled decision. That call only classifies
the outcome and puts an event on a bounded queue (``put_nowait``): it never blocks, and a full
queue drops the event with a counted warning. One worker thread drains the queue into a
:class:`Handler` (:class:`nexus_ml.crisis.automatic.AutoIncidents` in production), which opens,
grows and closes incidents and writes their reports.
"""

from __future__ import annotations

import atexit
import queue
import threading
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from nexus_ml.crisis.triggers import CrisisEvent, outcome_event
from nexus_ml.domain.decision import Decision
from nexus_ml.logs import get_logger

if TYPE_CHECKING:
    from nexus_ml.execute.backend import ServiceState
    from nexus_ml.execute.loop import Outcome

log = get_logger(__name__)


class Handler(Protocol):
    def handle(self, event: CrisisEvent) -> Any: ...


class IncidentHook:
    """A bounded queue and one worker thread between the executor and the crisis collection.

    Parameters
    ----------
    handler
        Receives every event, in order, on the worker thread.
    maxsize
        Queue bound; events beyond it are dropped (counted in :attr:`dropped`).
    """

    def __init__(self, handler: Handler, *, maxsize: int = 1000) -> None:
        self.handler = handler
        self._queue: queue.Queue[CrisisEvent | None] = queue.Queue(maxsize=maxsize)
        self.dropped = 0
        self.handled = 0
        self.failed = 0
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()
        self._exit_hook = False
        self.exit_timeout_s = 30.0

    def start(self) -> IncidentHook:
        """Start the worker (idempotent); :meth:`submit` starts it on first use too."""
        with self._lock:
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._work, name="incident-collector", daemon=True
                )
                self._thread.start()
                if not self._exit_hook:
                    # `nexus-ml execute --once` exits right after its tick: let the worker
                    # finish what is queued (bounded) instead of dying with the process
                    atexit.register(self.stop, self.exit_timeout_s)
                    self._exit_hook = True
        return self

    def submit(
        self, now: datetime, decision: Decision, outcome: Outcome, state: ServiceState | None
    ) -> None:
        """Queue the event of one handled decision; never blocks."""
        event = outcome_event(
            now, decision, acted=outcome.acted, reason=outcome.reason, detail=outcome.detail,
            image=state.image if state is not None else "",
        )  # fmt: skip
        self.put(event)

    def put(self, event: CrisisEvent) -> bool:
        """Queue ``event`` (e.g. from Alertmanager); ``False`` when the queue was full."""
        if self._thread is None:
            self.start()
        try:
            self._queue.put_nowait(event)
        except queue.Full:
            self.dropped += 1
            if self.dropped & (self.dropped - 1):  # log the 1st, 2nd, 4th, 8th… drop only
                return False
            log.warning(
                "incident.queue_full",
                module=event.module,
                crisis=event.is_crisis,
                dropped_so_far=self.dropped,
            )
            return False
        return True

    def _work(self) -> None:
        while True:
            event = self._queue.get()
            try:
                if event is None:
                    return
                self.handler.handle(event)
                self.handled += 1
            except Exception:  # one bad event must not end collection for the others
                self.failed += 1
                log.exception("incident.collection_failed", module=event.module if event else None)
            finally:
                self._queue.task_done()

    def drain(self, timeout_s: float = 30.0) -> bool:
        """Wait until every queued event is handled (tests, shutdown); ``False`` on timeout."""
        done = threading.Event()

        def wait() -> None:
            self._queue.join()
            done.set()

        threading.Thread(target=wait, daemon=True).start()
        return done.wait(timeout_s)

    def stop(self, timeout_s: float = 30.0) -> None:
        """Finish the queued events, then end the worker."""
        if self._thread is None:
            return
        self.drain(timeout_s)
        try:
            self._queue.put(None, timeout=timeout_s)
        except queue.Full:
            return
        self._thread.join(timeout_s)
        self._thread = None
