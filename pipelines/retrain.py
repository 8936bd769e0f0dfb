"""Scheduled retraining: run the training job every interval or on a cron expression.

Each run takes a :class:`~pipelines.locks.RunLock` first and skips when another run holds it;
training itself is idempotent (a data window already trained on yields no new version), so a
skipped or repeated run is harmless. Every run ends with exactly one log line.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from nexus_ml.durations import parse_duration
from nexus_ml.errors import InputError, NexusError
from nexus_ml.logs import get_logger
from pipelines.locks import RunLock
from pipelines.train import TrainReport

log = get_logger(__name__)


class Schedule(Protocol):
    def next_after(self, moment: datetime) -> datetime: ...


@dataclass(frozen=True)
class Every:
    """A fixed interval between run starts."""

    interval: timedelta

    @classmethod
    def parse(cls, text: str) -> Every:
        """``"30s"``, ``"15m"``, ``"6h"``, ``"1d"`` or ``"1w"``.

        Raises
        ------
        InputError
            Naming the bad value.
        """
        try:
            interval = parse_duration(text)
        except InputError:
            interval = timedelta(0)
        if interval <= timedelta(0):
            raise InputError(f"--every must look like 30m, 6h or 1d, got {text!r}")
        return cls(interval)

    def next_after(self, moment: datetime) -> datetime:
        return moment + self.interval


@dataclass(frozen=True)
class Cron:
    """A cron expression evaluated in UTC (``"0 3 * * *"``: every day at 03:00 UTC)."""

    expression: str

    def __post_init__(self) -> None:
        from croniter import croniter

        if not croniter.is_valid(self.expression):
            raise InputError(f"--cron is not a valid cron expression: {self.expression!r}")

    def next_after(self, moment: datetime) -> datetime:
        from croniter import croniter

        nxt: datetime = croniter(self.expression, moment).get_next(datetime)
        return nxt


@dataclass(frozen=True)
class RunResult:
    status: str  # "ok", "skipped" or "failed"
    message: str
    report: TrainReport | None = None
    error: NexusError | None = None


def run_locked(job: Callable[[], TrainReport], lock: RunLock) -> RunResult:
    """Run ``job`` once if ``lock`` is free; log one line with the outcome."""
    began = time.perf_counter()
    if not lock.try_acquire():
        result = RunResult("skipped", f"retrain skipped: {lock.describe()} is held by another run")
        log.info("retrain.skipped", lock=lock.describe(), reason="held by another run")
        return result
    try:
        report = job()
    except NexusError as exc:
        elapsed = time.perf_counter() - began
        result = RunResult("failed", f"retrain failed after {elapsed:.1f}s: {exc}", error=exc)
        log.error("retrain.failed", seconds=round(elapsed, 1), error=str(exc))
        return result
    finally:
        lock.release()
    counts: dict[str, int] = {}
    for outcome in report.outcomes:
        counts[outcome.status] = counts.get(outcome.status, 0) + 1
    summary = " ".join(f"{k}={v}" for k, v in sorted(counts.items()))
    message = (
        f"retrain ok window={report.start.isoformat()}..{report.end.isoformat()} "
        f"modules={len(report.outcomes)} {summary} seconds={report.seconds:.1f}"
    )
    log.info(
        "retrain.done",
        window_start=report.start.isoformat(),
        window_end=report.end.isoformat(),
        modules=len(report.outcomes),
        outcomes=",".join(f"{status}:{n}" for status, n in sorted(counts.items())),
        seconds=round(report.seconds, 1),
    )
    return RunResult("ok", message, report)


def run_schedule(
    job: Callable[[], TrainReport],
    lock: RunLock,
    schedule: Schedule,
    *,
    once: bool = False,
    stop: threading.Event | None = None,
    clock: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> list[RunResult]:
    """Run now, then at every time ``schedule`` gives, until ``stop`` is set (or once).

    A run that overruns its next slot is not stacked up: the next start is computed from the
    end of the previous run. Returns the results (only useful with ``once`` or ``stop``).
    """
    stop = stop or threading.Event()
    results: list[RunResult] = []
    while True:
        results.append(run_locked(job, lock))
        if once:
            return results
        nxt = schedule.next_after(clock())
        wait = max(0.0, (nxt - clock()).total_seconds())
        log.info("retrain.scheduled", next_run=nxt.isoformat(), wait_s=round(wait, 1))
        if stop.wait(wait):
            return results
