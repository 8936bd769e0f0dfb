"""``nexus-ml alerts preview``: the message of a sample decision; bad input exits 2 in one line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nexus_ml.cli.main import app
from nexus_ml.settings import get_settings


@pytest.fixture(autouse=True)
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for name in ("NEXUS_LANGUAGE", "NEXUS_DASHBOARD_URL", "NEXUS_SERVICE_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NEXUS_CONFIG", str(tmp_path / "none.yaml"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def preview(*args: str, **env: str):  # type: ignore[no-untyped-def]
    get_settings.cache_clear()  # settings are read once per process; each call is a new run
    return CliRunner().invoke(app, ["alerts", "preview", *args], env={"COLUMNS": "200", **env})


def test_a_scale_up_in_portuguese_then_in_english() -> None:
    pt = preview("scale_up", "--module", "nexus-user-management")
    assert pt.exit_code == 0, pt.output
    lines = pt.output.splitlines()
    assert lines[0] == "🐳 NEXUS - ALERTA CONTAINER"
    assert "Problema: Demanda 3.000 req/min acima da capacidade (2.400) há 7min" in lines
    assert "Ação Tomada: Réplicas aumentadas de 2 para 3" in lines
    assert any(line.startswith("Dashboard: http://127.0.0.1:8000/dashboard?") for line in lines)
    en = preview("scale_up", "--module", "nexus-user-management", "--lang", "en")
    assert "Problem: Demand 3,000 req/min above capacity (2,400) for 7min" in en.output
    # NEXUS_LANGUAGE is the default language
    assert "CONTAINER ALERT" in preview("restart", "-m", "nexus-crm", NEXUS_LANGUAGE="en").output


def test_html_is_what_telegram_receives() -> None:
    result = preview("rollback", "--module", "nexus-crm", "--html")
    assert result.exit_code == 0
    assert result.output.startswith("<b>🐳 NEXUS - ALERTA CONTAINER</b>")
    assert "<b>Problema:</b> Taxa de erro em 8,0% após a atualização" in result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (
            ("bounce", "--module", "nexus-crm"),
            "ACTION must be one of scale_up, scale_down, restart, rollback, alert, got 'bounce'",
        ),
        (("restart", "--module", "nexus-erp"), "--module 'nexus-erp' is not in the catalog"),
        (("alert", "--module", "nexus-crm", "--lang", "fr"), "--lang must be 'pt' or 'en'"),
    ],
)
def test_bad_input_exits_2_with_one_line(args: tuple[str, ...], message: str) -> None:
    result = preview(*args)
    assert result.exit_code == 2
    assert message in result.output and "Traceback" not in result.output
    assert len([line for line in result.output.splitlines() if line.strip()]) == 1
