"""``nexus-ml execute`` and ``nexus-ml audit`` on the embedded default (JSON-lines trail)."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nexus_ml.cli.main import app
from nexus_ml.execute.audit import AuditEntry, JsonlAudit, utcnow
from nexus_ml.settings import get_settings


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    for name in ("NEXUS_PG_DSN", "NEXUS_TELEGRAM_BOT_TOKEN", "NEXUS_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NEXUS_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("NEXUS_CONFIG", str(tmp_path / "none.yaml"))
    get_settings.cache_clear()
    yield tmp_path
    get_settings.cache_clear()


def test_audit_shows_recent_entries_as_a_table(env: Path) -> None:
    trail = JsonlAudit(env / "audit.jsonl")
    trail.write(AuditEntry(at=utcnow() - timedelta(hours=3), event="action_taken", module="old"))
    trail.write(
        AuditEntry(
            at=utcnow(),
            event="action_skipped",
            module="nexus-crm",
            action="scale_down",
            reason="stale_input",
        )
    )
    result = CliRunner().invoke(app, ["audit", "--since", "1h"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "stale_input" in result.output and "nexus-crm" in result.output
    assert "old" not in result.output and "1 entries" in result.output


def test_audit_rejects_a_bad_duration_in_one_line(env: Path) -> None:
    result = CliRunner().invoke(app, ["audit", "--since", "yesterday"])
    assert result.exit_code == 2
    assert "--since must look like 30m, 1h or 2d, got 'yesterday'" in result.output
    assert "Traceback" not in result.output


def test_execute_once_holds_when_the_service_is_down(env: Path, monkeypatch) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    monkeypatch.setenv("NEXUS_SERVICE_URL", f"http://127.0.0.1:{port}")
    monkeypatch.setenv("NEXUS_API_TOKEN", "tok-abcdef-123456")
    get_settings.cache_clear()
    result = CliRunner().invoke(
        app, ["execute", "--backend", "memory", "--once", "--interval", "1"], env={"COLUMNS": "200"}
    )
    # a one-shot run that read no decisions did nothing: exit 3 (IngestError), not 0
    assert result.exit_code == 3, result.output
    assert "decision service unavailable: holding" in result.output
    events = [
        e.event for e in JsonlAudit(env / "audit.jsonl").since(utcnow() - timedelta(minutes=5))
    ]
    assert "fetch_failed" in events
    assert "tok-abcdef" not in (env / "audit.jsonl").read_text()


def test_execute_rejects_an_unknown_backend(env: Path) -> None:
    result = CliRunner().invoke(app, ["execute", "--backend", "k8s", "--once"])
    assert result.exit_code == 2 and "got 'k8s'" in result.output


def test_execute_survives_an_unexpected_error_in_one_pass(env: Path, monkeypatch) -> None:
    """The CLI runs Executor.run: a pass that raises is logged, the next pass still runs."""
    from nexus_ml.execute.loop import Executor, TickReport

    calls: list[int] = []

    def flaky_tick(self: Executor) -> TickReport:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("boom in pass 1")
        if len(calls) == 2:
            return TickReport(leader=False)
        raise KeyboardInterrupt  # the operator's Ctrl-C ends the loop

    monkeypatch.setattr(Executor, "tick", flaky_tick)
    result = CliRunner().invoke(
        app, ["execute", "--backend", "memory", "--interval", "0.5"], env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    assert len(calls) == 3
    assert "standby: another executor holds the leader lock" in result.output
