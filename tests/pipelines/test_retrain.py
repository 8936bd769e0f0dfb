"""Scheduled retraining: schedules, the locks, one log line per run, overlapping runs."""

from __future__ import annotations

import logging
import threading
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from nexus_ml.errors import DataQualityError, InputError
from nexus_ml.logs import record_event
from pipelines.locks import FileLock, PgAdvisoryLock
from pipelines.retrain import Cron, Every, run_locked, run_schedule
from pipelines.train import ModuleOutcome, TrainReport

T0 = datetime(2026, 11, 29, 3, 0, tzinfo=UTC)


def report(*statuses: str) -> TrainReport:
    outcomes = tuple(ModuleOutcome(f"m{i}", s, "1", "r") for i, s in enumerate(statuses))
    return TrainReport(T0 - timedelta(days=28), T0, outcomes, 1.5)


@pytest.mark.parametrize(
    ("text", "seconds"), [("30s", 30), ("15m", 900), ("6h", 21600), ("1d", 86400), ("1.5h", 5400)]
)
def test_every_parses_intervals(text: str, seconds: float) -> None:
    assert Every.parse(text).next_after(T0) == T0 + timedelta(seconds=seconds)


@pytest.mark.parametrize("text", ["", "1", "0h", "-1d", "1y", "daily"])
def test_every_rejects_bad_intervals_quoting_them(text: str) -> None:
    with pytest.raises(InputError, match=repr(text)):
        Every.parse(text)


def test_cron_gives_the_next_slot_in_utc() -> None:
    assert Cron("0 3 * * *").next_after(T0) == datetime(2026, 11, 30, 3, 0, tzinfo=UTC)
    assert Cron("*/15 * * * *").next_after(T0) == T0 + timedelta(minutes=15)
    with pytest.raises(InputError, match="'61 \\* \\* \\* \\*'"):
        Cron("61 * * * *")


def test_one_log_line_per_run(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    lock = FileLock(tmp_path / "retrain.lock")
    with caplog.at_level(logging.INFO, logger="pipelines.retrain"):
        result = run_locked(
            lambda: report("promoted", "challenger", "unchanged", "unchanged"), lock
        )
    assert result.status == "ok"
    ((event, fields),) = [record_event(r) for r in caplog.records]
    assert event == "retrain.done"
    assert fields["window_start"] == "2026-11-01T03:00:00+00:00"
    assert fields["window_end"] == "2026-11-29T03:00:00+00:00"
    assert fields["modules"] == 4 and fields["seconds"] == 1.5
    assert fields["outcomes"] == "challenger:1,promoted:1,unchanged:2"
    assert lock.try_acquire()  # released after the run
    lock.release()


def test_a_failed_run_releases_the_lock_and_says_why(tmp_path: Path) -> None:
    lock = FileLock(tmp_path / "retrain.lock")

    def job() -> TrainReport:
        raise DataQualityError("coverage below 90%: nexus-crm 40.0%; refusing to train")

    result = run_locked(job, lock)
    assert result.status == "failed" and "nexus-crm 40.0%" in result.message
    assert isinstance(result.error, DataQualityError)
    assert lock.try_acquire()
    lock.release()


def test_two_overlapping_runs_one_trains_the_other_skips(tmp_path: Path) -> None:
    started, finish = threading.Event(), threading.Event()
    calls: list[str] = []

    def slow_job() -> TrainReport:
        calls.append("slow")
        started.set()
        assert finish.wait(10)
        return report("promoted")

    # Two lock objects on one file: as two processes would have.
    first_lock, second_lock = FileLock(tmp_path / "r.lock"), FileLock(tmp_path / "r.lock")
    results = {}
    runner = threading.Thread(target=lambda: results.update(first=run_locked(slow_job, first_lock)))
    runner.start()
    assert started.wait(10)
    results["second"] = run_locked(lambda: report("promoted"), second_lock)
    finish.set()
    runner.join(10)

    assert results["first"].status == "ok"
    assert results["second"].status == "skipped"
    assert "held by another run" in results["second"].message
    assert calls == ["slow"]


def test_file_lock_is_held_across_processes(tmp_path: Path) -> None:
    import subprocess
    import sys

    path = tmp_path / "r.lock"
    lock = FileLock(path)
    assert lock.try_acquire()
    code = (
        "import sys; from pipelines.locks import FileLock; "
        f"sys.exit(0 if FileLock(__import__('pathlib').Path({str(path)!r})).try_acquire() else 3)"
    )
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 3
    lock.release()
    assert subprocess.run([sys.executable, "-c", code], check=False).returncode == 0


def test_schedule_runs_until_stopped() -> None:
    stop = threading.Event()
    runs: list[int] = []

    class NullLock:
        def try_acquire(self) -> bool:
            return True

        def release(self) -> None:
            pass

        def describe(self) -> str:
            return "null"

    def job() -> TrainReport:
        runs.append(1)
        if len(runs) == 3:
            stop.set()
        return report("unchanged")

    results = run_schedule(job, NullLock(), Every(timedelta(milliseconds=10)), stop=stop)
    assert len(results) == 3 and all(r.status == "ok" for r in results)
    assert run_schedule(job, NullLock(), Every(timedelta(days=1)), once=True)[0].status == "ok"


@pytest.mark.integration
def test_postgres_advisory_lock_excludes_a_second_holder(pg_dsn: str) -> None:
    name = f"test-retrain-{uuid.uuid4().hex[:8]}"
    first, second = PgAdvisoryLock(pg_dsn, name), PgAdvisoryLock(pg_dsn, name)
    assert first.try_acquire()
    try:
        assert not second.try_acquire()
        assert run_locked(lambda: report("promoted"), second).status == "skipped"
    finally:
        first.release()
    assert second.try_acquire()
    second.release()
