"""Every Telegram message links to the dashboard, deep-linked to the module and the time."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from nexus_ml.alerts.render import dashboard_link, render_alert
from nexus_ml.alerts.telegram import TelegramNotifier
from nexus_ml.domain import Action, Decision
from nexus_ml.execute.alerting import decision_alert
from nexus_ml.settings import Settings

AT = datetime(2026, 11, 30, 17, 5, 42, tzinfo=UTC)


def _href(html: str) -> str:
    found = re.search(r'<a href="([^"]+)">Dashboard</a>', html)
    assert found, html
    return found.group(1).replace("&amp;", "&")


def test_the_default_is_the_services_own_dashboard(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("NEXUS_DASHBOARD_URL", "NEXUS_SERVICE_URL", "NEXUS_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NEXUS_CONFIG", "/nonexistent/nexus.yaml")
    assert Settings().dashboard_url == "http://127.0.0.1:8000/dashboard"
    monkeypatch.setenv("NEXUS_SERVICE_URL", "https://ops.example.com/nexus/")
    assert Settings().dashboard_url == "https://ops.example.com/nexus/dashboard"
    monkeypatch.setenv("NEXUS_DASHBOARD_URL", "https://grafana.example.com/d/nexus-ml")
    assert Settings().dashboard_url == "https://grafana.example.com/d/nexus-ml"


def test_own_dashboard_link_names_module_time_and_language() -> None:
    url = dashboard_link("https://ops.example.com/dashboard", "nexus-crm", AT, "en")
    parts = urlsplit(url)
    assert (parts.scheme, parts.netloc, parts.path) == ("https", "ops.example.com", "/dashboard")
    query = parse_qs(parts.query)
    assert query == {"module": ["nexus-crm"], "at": ["2026-11-30T17:05:42Z"], "lang": ["en"]}
    assert "lang" not in parse_qs(urlsplit(dashboard_link(url.split("?")[0], "m", AT)).query)


def test_grafana_link_uses_grafanas_variables_and_keeps_its_query() -> None:
    url = dashboard_link("https://g.example.com/d/abc?orgId=2", "nexus-crm", AT)
    query = parse_qs(urlsplit(url).query)
    ms = int(AT.timestamp() * 1000)
    assert query["orgId"] == ["2"] and query["var-module"] == ["nexus-crm"]
    assert int(query["from"][0]) == ms - 3_600_000 and int(query["to"][0]) == ms + 3_600_000


def test_every_telegram_message_carries_the_deep_link(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NEXUS_DASHBOARD_URL", raising=False)
    monkeypatch.setenv("NEXUS_CONFIG", "/nonexistent/nexus.yaml")
    sent: list[dict[str, object]] = []

    def telegram(request: httpx.Request) -> httpx.Response:
        sent.append(json.loads(request.content))
        return httpx.Response(200, json={"ok": True, "result": {"message_id": len(sent)}})

    settings = Settings(service_url="http://10.0.0.5:8000")
    notifier = TelegramNotifier(
        "123:abc", "42", base_url="http://telegram.test", transport=httpx.MockTransport(telegram)
    )
    decision = Decision(
        module="nexus-crm",
        action=Action.SCALE_UP,
        current_replicas=1,
        target_replicas=3,
        scale_up=True,
        reason="month-end peak",
        confidence=0.8,
    )
    alert = decision_alert(
        decision, "surge", "Réplicas aumentadas de 1 para 3", dashboard_url=settings.dashboard_url
    )
    before = datetime.now(UTC).replace(microsecond=0)
    assert notifier.send(alert)
    after = datetime.now(UTC)
    href = _href(str(sent[0]["text"]))
    query = parse_qs(urlsplit(href).query)
    assert href.startswith("http://10.0.0.5:8000/dashboard?") and query["module"] == ["nexus-crm"]
    at = datetime.fromisoformat(query["at"][0].replace("Z", "+00:00"))
    assert before <= at <= after
    # rendering for a given time links that time (an event replayed later still points to it)
    assert parse_qs(urlsplit(_href(render_alert(alert, at=AT))).query)["at"] == [
        "2026-11-30T17:05:42Z"
    ]
