"""``/dashboard``: the live health page, its read-only session, its state and its event stream.

The page, its JSON state and its server-sent events need the dashboard session cookie (HttpOnly,
SameSite=Strict, path ``/dashboard``), obtained from the API token by the login form or by
``POST /dashboard/session`` with the bearer header; the token never appears in a URL. Static
assets (the page's script, style and the vendored uPlot) carry no data and are open.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated
from urllib.parse import parse_qs, quote

from fastapi import APIRouter, Depends, FastAPI, Header, HTTPException, Query, Request, status
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool
from starlette.responses import FileResponse, StreamingResponse

from nexus_ml.logs import get_logger
from service.core.history import DashboardHistory
from service.core.security import check_bearer
from service.dashboard import session
from service.dashboard.page import ASSETS, dashboard_html, render_template, state_json
from service.dashboard.sampler import DashboardSampler, open_incidents

log = get_logger(__name__)

_STATIC = {
    "dashboard.js": "text/javascript",
    "dashboard.css": "text/css",
    "uPlot.iife.min.js": "text/javascript",
    "uPlot.min.css": "text/css",
    "LICENSE.uPlot": "text/plain",
}
_MAX_FORM_BYTES = 4096
_bearer = HTTPBearer(auto_error=False)


@dataclass
class DashboardContext:
    """The per-app dashboard: its history, the sampler feeding it, how often it samples."""

    history: DashboardHistory
    sampler: DashboardSampler | None
    sample_s: float = 15.0


def dashboard_context(app: FastAPI) -> DashboardContext:
    """The app's dashboard, built on first use and subscribed to the engine's decisions."""
    context: DashboardContext | None = getattr(app.state, "dashboard", None)
    if context is None:
        from nexus_ml.execute.factory import audit_for

        settings = app.state.settings
        engine = app.state.engine
        # the service's clock, not the wall's: a replay (the demo) lives on its own time
        history = DashboardHistory(clock=lambda: engine.clock().timestamp())
        sampler = DashboardSampler(
            engine,
            history,
            audit=audit_for(settings),
            incidents=open_incidents(Path(settings.state_dir) / "incidents"),
            registry=app.state.metrics.registry,
        )
        context = DashboardContext(history, sampler)
        app.state.dashboard = context
    if not getattr(app.state, "dashboard_subscribed", False):
        app.state.metrics.add_listener(context.history.record_decision)
        app.state.dashboard_subscribed = True
    return context


async def _sample_forever(context: DashboardContext) -> None:
    # sample_s <= 0 (now or later) stops it: a caller that samples itself (the demo) says so.
    # The first sample waits one interval (or the first dashboard request): a service that
    # starts and stops at once, as in tests, does no dashboard work at all.
    while context.sampler is not None and context.sample_s > 0:
        await asyncio.sleep(context.sample_s)
        try:
            await asyncio.to_thread(context.sampler.sample)
        except Exception:  # the page must not take the service down
            log.exception("dashboard.sampling_failed")


async def _first_sample(context: DashboardContext) -> None:
    """The page's first visitor need not wait for the sampler's first interval."""
    if context.sampler is not None and context.sampler.samples == 0:
        await run_in_threadpool(context.sampler.sample)


@contextlib.asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    task = asyncio.create_task(_sample_forever(dashboard_context(app)))
    try:
        yield
    finally:
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


router = APIRouter(prefix="/dashboard", tags=["dashboard"], lifespan=_lifespan)


def _lang(request: Request) -> str:
    return "en" if request.query_params.get("lang") == "en" else "pt"


def _has_session(request: Request) -> bool:
    return session.valid(request.cookies.get(session.COOKIE), request.app.state.api_token)


def require_session(request: Request) -> None:
    """401 unless the request carries a valid dashboard session cookie."""
    if not _has_session(request):
        raise HTTPException(status.HTTP_401_UNAUTHORIZED, detail="dashboard session required")


def _set_cookie(response: Response, request: Request) -> None:
    response.set_cookie(
        session.COOKIE,
        session.issue(request.app.state.api_token),
        max_age=session.DEFAULT_TTL_S,
        path=session.COOKIE_PATH,
        httponly=True,
        samesite="strict",
        secure=request.url.scheme == "https",
    )


_LOGIN_TEXT = {
    "pt": ("Entrar no painel", "Token da API", "Entrar", "Token inválido."),
    "en": ("Sign in to the dashboard", "API token", "Sign in", "Invalid token."),
}


def _login_page(lang: str, target: str, error: bool = False, code: int = 200) -> HTMLResponse:
    title, label, button, wrong = _LOGIN_TEXT[lang]
    html = render_template(
        "login.html",
        lang=lang,
        title=title,
        label=label,
        button=button,
        error=wrong if error else "",
        next=target,
    )
    return HTMLResponse(html, status_code=code, headers={"Cache-Control": "no-store"})


@router.get("", response_class=HTMLResponse, summary="The live health dashboard")
async def page(request: Request) -> Response:
    """The page (login first without a session; ``?module=&at=`` deep-links, ``?lang=en``)."""
    if not _has_session(request):
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        lang = _lang(request)
        return RedirectResponse(
            f"/dashboard/login?lang={lang}&next={quote(target, safe='')}", status_code=303
        )
    context = dashboard_context(request.app)
    await _first_sample(context)
    history = context.history

    def work() -> str:
        return dashboard_html(history.state(since=history.clock() - 24 * 3600), _lang(request))

    html = await run_in_threadpool(work)
    return HTMLResponse(html, headers={"Cache-Control": "no-store"})


@router.get("/login", response_class=HTMLResponse, summary="Dashboard sign-in form")
async def login_form(request: Request, next: str | None = None) -> HTMLResponse:
    return _login_page(_lang(request), session.safe_next(next))


@router.post("/login", summary="Exchange the API token for a read-only session")
async def login(request: Request) -> Response:
    """Form post (``token``, ``next``): 303 to the dashboard with the cookie, 403 when wrong."""
    body = await request.body()
    if len(body) > _MAX_FORM_BYTES:
        raise HTTPException(status.HTTP_413_REQUEST_ENTITY_TOO_LARGE, detail="form too large")
    form = parse_qs(body.decode("utf-8", "replace"))
    token = (form.get("token") or [""])[0]
    target = session.safe_next((form.get("next") or [""])[0])
    lang = "en" if "lang=en" in target else _lang(request)
    if not token or not session.token_matches(token, request.app.state.api_token):
        peer = request.client.host if request.client else "?"
        log.warning("dashboard.login_refused", peer=peer)
        return _login_page(lang, target, error=True, code=status.HTTP_403_FORBIDDEN)
    response = RedirectResponse(target, status_code=303)
    _set_cookie(response, request)
    return response


@router.post("/session", status_code=204, summary="Read-only session from the bearer token")
async def open_session(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> Response:
    check_bearer(credentials, request.app.state.api_token)
    response = Response(status_code=204)
    _set_cookie(response, request)
    return response


@router.post("/logout", summary="End the dashboard session")
async def logout() -> Response:
    response = RedirectResponse("/dashboard/login", status_code=303)
    response.delete_cookie(session.COOKIE, path=session.COOKIE_PATH)
    return response


@router.get("/api/state", dependencies=[Depends(require_session)], summary="Dashboard state")
async def state(request: Request, hours: Annotated[float, Query(gt=0, le=168)] = 24.0) -> Response:
    """Every module's columns, markers and forecast quality for the last ``hours``."""
    context = dashboard_context(request.app)
    await _first_sample(context)
    history = context.history

    def work() -> bytes:
        # serialised in the worker thread too: a day of 30 modules is ~2 MB of JSON
        return state_json(history.state(since=history.clock() - hours * 3600))

    body = await run_in_threadpool(work)
    return Response(body, media_type="application/json", headers={"Cache-Control": "no-store"})


STREAM_S = 8.0  # one response's life: the browser reconnects at once and catches up


@router.get("/events", dependencies=[Depends(require_session)], summary="Live events (SSE)")
async def events(
    request: Request,
    since: Annotated[
        str | None, Query(max_length=64, description="Id the page's state was at")
    ] = None,
    last_event_id: Annotated[str | None, Header(max_length=64)] = None,
) -> StreamingResponse:
    """``point``, ``forecast``, ``decision``, ``alert`` and ``incidents`` events as they happen.

    Each response lasts ``STREAM_S`` seconds: the server could not stop while a page holds a
    response open, and ``EventSource`` reconnects by itself with ``Last-Event-ID``, from
    which what it missed is replayed (a ``reset`` event when that is no longer kept).
    """
    broadcaster = dashboard_context(request.app).history.broadcaster
    queue = broadcaster.subscribe(last_event_id or since)

    async def stream() -> AsyncIterator[str]:
        deadline = time.monotonic() + STREAM_S
        try:
            yield "retry: 250\n: connected\n\n"
            while (left := deadline - time.monotonic()) > 0:
                try:
                    frame = await asyncio.wait_for(queue.get(), timeout=left)
                except TimeoutError:
                    break
                if frame is None:  # too far behind: reconnect and catch up
                    break
                yield frame
        finally:
            broadcaster.unsubscribe(queue)

    headers = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}
    return StreamingResponse(stream(), media_type="text/event-stream", headers=headers)


@router.get("/static/{name}", summary="The page's script, style and vendored uPlot")
async def static(name: str) -> FileResponse:
    kind = _STATIC.get(name)
    if kind is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, detail=f"no dashboard asset {name!r}")
    folder = ASSETS / ("vendor" if "uPlot" in name else "static")
    return FileResponse(folder / name, media_type=kind, headers={"Cache-Control": "max-age=300"})
