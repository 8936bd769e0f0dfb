"""Issue 19: ``nexus-ml execute --once`` whose token the service refuses did nothing: exit 3."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from nexus_ml.cli.main import app
from nexus_ml.settings import get_settings
from tests.hardening.conftest import LiveServer


def test_once_with_a_refused_token_exits_non_zero(
    live_server: LiveServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("NEXUS_PG_DSN", "NEXUS_PROMETHEUS_URL", "NEXUS_TELEGRAM_BOT_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NEXUS_CONFIG", str(tmp_path / "absent.yaml"))
    monkeypatch.setenv("NEXUS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("NEXUS_SERVICE_URL", live_server.url)
    monkeypatch.setenv("NEXUS_API_TOKEN", "a-wrong-token-0123456789abcdef")
    get_settings.cache_clear()
    try:
        result = CliRunner().invoke(app, ["execute", "--once", "--backend", "memory"])
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 3, result.output
    assert "refused the token" in result.stderr
    assert "a-wrong-token-0123456789abcdef" not in result.output + result.stderr
