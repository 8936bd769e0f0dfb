"""``/dashboard`` routes: the session model, the state, the event stream, the assets."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from nexus_ml.catalog import load_catalog
from nexus_ml.domain import Action, Decision
from service.api.routes.dashboard import DashboardContext
from service.app import create_app
from service.core.config import ServiceSettings
from service.core.history import DashboardHistory
from service.dashboard import session
from tests.dashboard.conftest import serve, stop

TOKEN = "dashboard-routes-token-0123456789"
FORM = {"content-type": "application/x-www-form-urlencoded"}


def _app(tmp_path: Path, history: DashboardHistory | None = None) -> FastAPI:
    settings = ServiceSettings(
        api_token=TOKEN,
        state_dir=tmp_path,
        prometheus_url=None,
        mlflow_tracking_uri=None,
        pg_dsn=None,
        metrics_path=None,
    )
    app = create_app(settings, catalog=load_catalog(), poll_models=False)
    app.state.dashboard = DashboardContext(history or DashboardHistory(), sampler=None)
    return app


@pytest.fixture
def client(tmp_path: Path) -> Iterator[TestClient]:
    with TestClient(_app(tmp_path)) as c:
        yield c


def _login(client: TestClient, token: str = TOKEN, target: str = "/dashboard") -> httpx.Response:
    body = f"token={token}&next={target}"
    return client.post("/dashboard/login", content=body, headers=FORM, follow_redirects=False)


def test_without_a_session_the_page_sends_to_the_login_form(client: TestClient) -> None:
    page = client.get("/dashboard?module=nexus-crm&lang=en", follow_redirects=False)
    assert page.status_code == 303
    assert page.headers["location"].startswith("/dashboard/login?lang=en&next=")
    form = client.get(page.headers["location"])
    assert form.status_code == 200 and 'name="token"' in form.text and "Sign in" in form.text
    assert client.get("/dashboard/api/state").status_code == 401
    assert client.get("/dashboard/events").status_code == 401


def test_login_sets_a_strict_httponly_cookie_and_never_puts_the_token_in_a_url(
    client: TestClient,
) -> None:
    wrong = _login(client, token="not-the-token")
    assert wrong.status_code == 403 and "Token inválido" in wrong.text
    assert "set-cookie" not in wrong.headers
    ok = _login(client, target="/dashboard%3Fmodule%3Dnexus-crm")
    assert ok.status_code == 303 and ok.headers["location"] == "/dashboard?module=nexus-crm"
    cookie = ok.headers["set-cookie"]
    assert cookie.startswith(f"{session.COOKIE}=")
    for flag in ("HttpOnly", "SameSite=strict", "Path=/dashboard"):
        assert flag.lower() in cookie.lower(), flag
    assert TOKEN not in cookie and TOKEN not in ok.headers["location"]
    page = client.get("/dashboard")
    assert page.status_code == 200 and '<script id="state" type="application/json">' in page.text
    assert TOKEN not in page.text


def test_the_session_is_read_only(client: TestClient) -> None:
    _login(client)
    assert client.get("/dashboard/api/state").status_code == 200
    assert client.get("/v1/decisions").status_code == 401  # the cookie opens no API route


def test_bearer_token_opens_a_session_and_a_wrong_one_does_not(client: TestClient) -> None:
    assert client.post("/dashboard/session").status_code == 401
    bad = client.post("/dashboard/session", headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 403
    ok = client.post("/dashboard/session", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 204 and "httponly" in ok.headers["set-cookie"].lower()
    assert client.get("/dashboard/api/state").status_code == 200
    out = client.post("/dashboard/logout", follow_redirects=False)
    assert out.status_code == 303
    assert client.get("/dashboard/api/state").status_code == 401


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/x", "//evil.example", "/v1/decisions", "/dashboard\\@evil", ""],
)
def test_login_never_redirects_outside_the_dashboard(client: TestClient, target: str) -> None:
    response = _login(client, target=target)
    assert response.status_code == 303 and response.headers["location"] == "/dashboard"


def test_sessions_expire_and_cannot_be_forged() -> None:
    value = session.issue(TOKEN, ttl_s=60, now=1000.0)
    assert session.valid(value, TOKEN, now=1059.0)
    assert not session.valid(value, TOKEN, now=1061.0)
    assert not session.valid(value, "another-token-0123456789", now=1001.0)
    expires, nonce, mac = value.split(".")
    assert not session.valid(f"{int(expires) + 10**6}.{nonce}.{mac}", TOKEN, now=1001.0)
    assert not session.valid("garbage", TOKEN) and not session.valid(None, TOKEN)


def test_state_has_the_history_and_rejects_bad_hours(tmp_path: Path) -> None:
    history = DashboardHistory()
    history.set_profile("nexus-crm", 60, 0.7)
    now = int(time.time()) // 60 * 60
    history.add_point("nexus-crm", now - 60, 90.0, replicas=2)
    with TestClient(_app(tmp_path, history)) as client:
        _login(client)
        state = client.get("/dashboard/api/state").json()
        crm = next(m for m in state["modules"] if m["module"] == "nexus-crm")
        assert crm["series"]["actual"] == [90.0] and crm["series"]["replicas"] == [2.0]
        assert crm["series"]["t0"] == now - 60 and crm["per_replica"] == 42.0
        bad = client.get("/dashboard/api/state?hours=0")
        assert bad.status_code == 422 and "hours" in bad.text


def test_assets_are_an_allowlist(client: TestClient) -> None:
    js = client.get("/dashboard/static/uPlot.iife.min.js")
    assert js.status_code == 200 and js.headers["content-type"].startswith("text/javascript")
    assert client.get("/dashboard/static/LICENSE.uPlot").text.startswith("The MIT License")
    for name in ("..%2Fpage.py", "session.py", "nope.js"):
        assert client.get(f"/dashboard/static/{name}").status_code == 404


def test_a_decision_reaches_the_event_stream(tmp_path: Path) -> None:
    live = serve(_app(tmp_path))
    frames: list[str] = []
    try:
        with httpx.Client(base_url=live.url, timeout=10) as http:
            auth = {"Authorization": f"Bearer {TOKEN}"}
            http.post("/dashboard/session", headers=auth).raise_for_status()
            opened = threading.Event()

            def read() -> None:
                with http.stream("GET", "/dashboard/events") as stream:
                    for line in stream.iter_lines():
                        opened.set()
                        frames.append(line)
                        if line.startswith("data: {") and '"action"' in line:
                            return

            reader = threading.Thread(target=read, daemon=True)
            reader.start()
            assert opened.wait(5)
            decision = Decision(
                module="nexus-crm",
                action=Action.RESTART,
                current_replicas=2,
                target_replicas=2,
                restart=True,
                reason="memory leak",
                confidence=0.77,
            )
            live.app.state.metrics.record_decision(decision)  # what the engine calls
            reader.join(5)
    finally:
        stop(live)
    data = [json.loads(f.removeprefix("data: ")) for f in frames if f.startswith("data: {")]
    assert data and data[-1]["action"] == "restart" and data[-1]["reasons"] == ["memory leak"]
    assert "event: decision" in frames


def test_the_default_wiring_samples_on_the_first_visit(tmp_path: Path) -> None:
    settings = ServiceSettings(
        api_token=TOKEN,
        state_dir=tmp_path,
        prometheus_url=None,
        mlflow_tracking_uri=None,
        pg_dsn=None,
        metrics_path=None,
    )
    app = create_app(settings, catalog=load_catalog(), poll_models=False)  # the simulator
    with TestClient(app) as client:
        assert app.state.dashboard.sampler.samples == 0  # nothing before anyone looks
        _login(client)
        state = client.get("/dashboard/api/state").json()
        assert app.state.dashboard.sampler.samples == 1
        points = {m["module"]: len(m["series"]["actual"]) for m in state["modules"]}
        assert set(points) == set(load_catalog().names) and min(points.values()) >= 59


def test_streams_are_short_and_a_page_catches_up_from_its_state(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from service.api.routes import dashboard as routes

    monkeypatch.setattr(routes, "STREAM_S", 0.5)
    app = _app(tmp_path)
    with TestClient(app) as client:
        _login(client)
        since = client.get("/dashboard/api/state").json()["event_id"]
        decision = Decision(
            module="nexus-crm",
            action=Action.ROLLBACK,
            current_replicas=2,
            target_replicas=2,
            rollback=True,
            reason="error burst after release",
            confidence=0.9,
        )
        app.state.metrics.record_decision(decision)  # between the state and the stream
        began = time.monotonic()
        body = client.get("/dashboard/events", params={"since": since}).text  # ends by itself
        took = time.monotonic() - began
        again = client.get("/dashboard/events", headers={"Last-Event-ID": "0-999"}).text
    assert 0.4 <= took < 5
    assert "retry: 250" in body and '"action": "rollback"' in body
    assert "event: reset" in again  # an id from another process: reload the state
