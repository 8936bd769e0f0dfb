"""The dashboard in a real browser (Debian's headless Chromium driven by Playwright).

A live decision service on loopback holds a history of 30 modules × 23.5 h at one-minute steps.
The page must load without a console error and draw its first render within a second, show each
module's actual line, band and every decision marker the history holds, give a tooltip with
action, confidence and reasons, and show decisions published during the test within 2 s (p95
over 20). Screenshots go to ``tmp/out/dashboard/``.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from nexus_ml.alerts.render import dashboard_link
from nexus_ml.catalog import Catalog, load_catalog
from service.api.routes.dashboard import DashboardContext
from service.app import create_app
from service.core.config import ServiceSettings
from service.core.history import AlertNote, DashboardHistory
from tests.dashboard.conftest import LiveServer, serve, stop
from tests.dashboard.fixture_history import build_history, module_names, utc_minute

pytestmark = pytest.mark.slow

TOKEN = "dashboard-browser-token-0123456789"
N_MODULES = 30
LIVE_EVENTS = 20
HISTORY_MINUTES = 24 * 60 - 30
FIRST_RENDER_BUDGET_MS = 1000.0
LIVE_P95_BUDGET_S = 2.0


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="module")
def history(catalog: Catalog) -> DashboardHistory:
    names = module_names(N_MODULES, keep=catalog.names)
    # The page shows the last 24 h of its own clock: 1,410 minutes keep every point in view for
    # half an hour after the fixture is built (all 1,440 lost the oldest one when a minute
    # turned between building the history and loading the page)
    history = build_history(names, end=utc_minute(), minutes=HISTORY_MINUTES)
    now = utc_minute().timestamp()
    history.set_incidents(
        [{"id": "mod-04-leak", "module": "nexus-mod-04", "error_type": "MEMORY_LEAK",
          "started_at": now - 2400}]
    )  # fmt: skip
    for minutes, sent in ((50, True), (20, False)):
        titles = {"pt": "Degradação de desempenho", "en": "Performance degradation"}
        history.add_alert(
            AlertNote(now - 60 * minutes, "nexus-mod-04", "degradation", "restart", sent, titles)
        )
    return history


@pytest.fixture(scope="module")
def live(
    catalog: Catalog, history: DashboardHistory, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    settings = ServiceSettings(
        api_token=TOKEN,
        state_dir=tmp_path_factory.mktemp("dashboard-state"),
        prometheus_url=None,
        mlflow_tracking_uri=None,
        pg_dsn=None,
        metrics_path=None,
    )
    app = create_app(settings, catalog=catalog, poll_models=False)
    # the fixture's history, no sampler: the page must show exactly what the history holds
    app.state.dashboard = DashboardContext(history, sampler=None)
    server = serve(app)
    try:
        yield server
    finally:
        stop(server)


@pytest.fixture
def page(browser: Any, live: LiveServer) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1600, "height": 1000}, base_url=live.url)
    page = context.new_page()
    page.console_errors = []  # type: ignore[attr-defined]
    page.on(
        "console",
        lambda m: m.type == "error" and page.console_errors.append(m.text),  # type: ignore[attr-defined]
    )
    page.on("pageerror", lambda e: page.console_errors.append(str(e)))  # type: ignore[attr-defined]
    try:
        yield page
    finally:
        context.close()


def _sign_in(page: Any, query: str = "", shot: Path | None = None) -> None:
    page.goto(f"/dashboard{query}")
    assert "/dashboard/login" in page.url  # no session yet: the form, never a token in the URL
    if shot is not None:
        page.screenshot(path=str(shot))
    page.fill("#token", TOKEN)
    page.click("button[type=submit]")
    page.wait_for_function("window.__nexusDash && window.__nexusDash.complete", timeout=20_000)
    # live: the event stream is open and what happened before it is merged in
    page.wait_for_function("window.__nexusDash.synced === true", timeout=20_000)
    assert TOKEN not in page.url


def _first_render_ms(page: Any) -> float:
    page.reload()
    page.wait_for_function("window.__nexusDash && window.__nexusDash.ready", timeout=20_000)
    return float(page.evaluate("window.__nexusDash.firstRenderMs"))


def test_page_shows_every_module_band_and_marker(
    page: Any, history: DashboardHistory, screenshots: Path, record_property: Any
) -> None:
    _sign_in(page, shot=screenshots / "login-pt.png")
    # The median of five loads: this machine's two cores are shared, and one load can lose
    # a few hundred milliseconds to a neighbour; every value is printed and recorded.
    renders = [_first_render_ms(page) for _ in range(5)]
    record_property("first_render_ms", renders)
    page.wait_for_function("window.__nexusDash.complete === true", timeout=20_000)
    complete = page.evaluate("window.__nexusDash.completeMs")
    print(f"first render, {N_MODULES} modules x 24 h: {[round(r) for r in renders]} ms")
    print(f"every chart drawn: {complete:.0f} ms")
    assert statistics.median(renders) <= FIRST_RENDER_BUDGET_MS, renders
    assert max(renders) <= 2 * FIRST_RENDER_BUDGET_MS, renders

    shown = page.evaluate("window.__nexusDash.modules()")
    assert sorted(shown) == sorted(history.modules())
    for name in history.modules():
        series = page.evaluate("(n) => window.__nexusDash.series(n)", name)
        held = history.module_state(name)["series"]
        assert series["actual"] == sum(v is not None for v in held["actual"]) > 1000, name
        assert series["lo"] >= 1400 and series["hi"] >= 1400 and series["bands"] == 1, name
        markers = page.evaluate("(n) => window.__nexusDash.visibleMarkers(n)", name)
        assert markers == len(history.markers(name)) > 0, name
    assert "mod-04-leak" in page.inner_text("#incidents")
    assert page.inner_text("#alerts").count("Degradação de desempenho") == 2
    assert "att-bad" in (page.get_attribute("#m-nexus-mod-04", "class") or "")
    assert page.console_errors == []
    page.screenshot(path=str(screenshots / "dashboard-pt.png"))
    page.screenshot(path=str(screenshots / "dashboard-pt-full.png"), full_page=True)


def test_alert_deep_link_and_marker_tooltip(
    page: Any, live: LiveServer, history: DashboardHistory, screenshots: Path
) -> None:
    name = "nexus-crm"
    marker = history.markers(name)[1]
    # the link a Telegram alert about this decision carries
    link = dashboard_link(f"{live.url}/dashboard", name, datetime.fromtimestamp(marker.t, UTC))
    _sign_in(page, "?" + urlsplit(link).query)
    assert page.locator(f"#m-{name}.focus").count() == 1  # the alert's module, highlighted
    window = page.evaluate(
        "(n) => { const x = window.__nexusDash.chart(n).scales.x; return [x.min, x.max]; }",
        name,
    )
    assert window[0] <= marker.t <= window[1] and window[1] - window[0] <= 5 * 3600
    node = page.locator(f"#m-{name} .mk[data-id='{marker.id}']")
    node.scroll_into_view_if_needed()
    node.hover()
    tip = page.locator("#tooltip")
    tip.wait_for(state="visible", timeout=5000)
    text = tip.inner_text()
    actions = {"scale_up": "Aumentar", "scale_down": "Reduzir", "restart": "Reiniciar"}
    actions |= {"alert": "Alertar", "rollback": "Rollback"}
    assert actions[marker.action] in text
    assert "Confiança" in text and f"{round(marker.confidence * 100)}%" in text.replace(" ", "")
    assert marker.reasons and all(reason in text for reason in marker.reasons)
    assert page.console_errors == []
    page.screenshot(path=str(screenshots / "dashboard-tooltip.png"))


def _scale_up_window(demand: float) -> list[dict[str, Any]]:
    end = datetime.now(UTC).replace(second=0, microsecond=0)
    return [
        {
            "timestamp": (end - timedelta(minutes=29 - i)).isoformat(),
            "cpu_usage": 0.92,
            "memory_usage": 0.5,
            "response_time": 300.0,
            "active_connections": 40.0,
            "error_rate": 0.002,
            "disk_usage": 0.3,
            "network_latency": 12.0,
            "requests_per_min": demand * (0.8 + 0.2 * i / 29),
            "replicas": 1,
        }
        for i in range(30)
    ]


def test_published_decisions_appear_within_two_seconds(
    page: Any,
    live: LiveServer,
    history: DashboardHistory,
    screenshots: Path,
    record_property: Any,
) -> None:
    held_before = len(history.markers("nexus-crm"))
    _sign_in(page, "?module=nexus-crm&lang=en")
    page.wait_for_function("window.__nexusDash.connected === true", timeout=10_000)
    latencies = []
    with httpx.Client(base_url=live.url, headers={"Authorization": f"Bearer {TOKEN}"}) as api:
        for k in range(LIVE_EVENTS):
            before = page.evaluate("Object.keys(window.__nexusDash.seen).length")
            body = {"module": "nexus-crm", "window": _scale_up_window(300 + 7 * k)}
            sent = time.time()
            # alternate the replica count, so each decision differs from the one before it
            # (a repeat of the same advice is one marker with a count)
            current = 1 + k % 2
            response = api.post("/v1/decisions", json={**body, "current_replicas": current})
            assert response.status_code == 200, response.text
            assert response.json()["action"] != "hold", response.json()
            page.wait_for_function(
                f"Object.keys(window.__nexusDash.seen).length > {before}", timeout=10_000
            )
            seen = page.evaluate("Math.max(...Object.values(window.__nexusDash.seen).map(Number))")
            latencies.append(seen / 1000 - sent)
    p95 = statistics.quantiles(latencies, n=20)[-1]
    record_property("live_latency_s", latencies)
    print(
        f"live decisions: median {statistics.median(latencies) * 1000:.0f} ms, "
        f"p95 {p95 * 1000:.0f} ms, max {max(latencies) * 1000:.0f} ms"
    )
    assert p95 <= LIVE_P95_BUDGET_S, latencies
    shown = page.evaluate("window.__nexusDash.visibleMarkers('nexus-crm')")
    assert shown == len(history.markers("nexus-crm")) >= held_before + LIVE_EVENTS
    assert "Scale up" in page.inner_text("#feed")
    assert page.console_errors == []
    page.screenshot(path=str(screenshots / "dashboard-en-live.png"))
