"""ASGI plumbing: bounded request bodies, request timing, and errors without stack traces.

Every error body passes through :func:`nexus_ml.redact.redact`, and none echoes a value JSON
cannot carry (``NaN``, ``Infinity``), so an error answer is always a well-formed 4xx that leaves
the keep-alive connection usable.
"""

from __future__ import annotations

import asyncio
import json
import math
import time
from collections.abc import Iterable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nexus_ml.errors import NexusError
from nexus_ml.logs import get_logger
from nexus_ml.redact import redact
from service.core.telemetry import ServiceMetrics

log = get_logger(__name__)

KNOWN_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_ECHO_MAX = 200  # characters of a bad value quoted back in a 422


def _problem(status: int, detail: str, error: str) -> tuple[dict[str, object], bytes]:
    body = json.dumps({"detail": detail, "error": error}).encode()
    start: dict[str, object] = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
            (b"connection", b"close"),  # the rest of the body is never read
        ],
    }
    return start, body


class BodySizeLimit:
    """Answer 413 to a body above ``max_bytes`` and 408 to one slower than ``read_timeout_s``.

    The timeout covers the whole body (a client trickling one byte a second is as stuck as a
    silent one); it does not apply once the body is complete.
    """

    def __init__(self, app: ASGIApp, max_bytes: int, read_timeout_s: float = 10.0) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.read_timeout_s = read_timeout_s

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        for name, value in scope.get("headers", ()):
            if name == b"content-length":
                try:
                    declared = int(value)
                except ValueError:
                    declared = 0
                if declared > self.max_bytes:
                    await self._reject(send, 413)
                    return
        received = 0
        started = rejected = body_done = False
        deadline = time.monotonic() + self.read_timeout_s

        async def guarded_receive() -> Message:
            nonlocal received, rejected, body_done
            if body_done:
                return await receive()
            try:
                message = await asyncio.wait_for(receive(), max(deadline - time.monotonic(), 0))
            except TimeoutError:
                status = 408
            else:
                if message["type"] != "http.request":
                    return message
                received += len(message.get("body", b""))
                body_done = not message.get("more_body", False)
                if received <= self.max_bytes:
                    return message
                status = 413
            # answer now; the app sees a disconnect and whatever it sends is dropped
            rejected = True
            if not started:
                await self._reject(send, status)
            return {"type": "http.disconnect"}

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if rejected:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, guarded_receive, tracking_send)
        except Exception:
            if not rejected:
                raise

    async def _reject(self, send: Send, status: int) -> None:
        if status == 413:
            detail, error = f"request body above {self.max_bytes} bytes", "PayloadTooLarge"
        else:
            detail, error = (
                f"request body not received within {self.read_timeout_s:g} s",
                "RequestTimeout",
            )
        start, body = _problem(status, detail, error)
        await send(start)
        await send({"type": "http.response.body", "body": body})


class CatchAll:
    """A last-resort 500 that does not re-raise, so the server keeps the connection open."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("http.unhandled_error", path=scope.get("path", ""))
            if started:
                raise
            body = b'{"detail":"internal server error","error":"InternalError"}'
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})


def metric_labels(scope: Scope) -> tuple[str, str]:
    """(route, method) labels from a bounded set: a route template or ``other``."""
    # FastAPI keeps an included router's routes with their own path ("/decisions"); the full
    # template ("/v1/decisions") is on its effective route context, when there is one
    fastapi_scope = scope.get("fastapi")
    context = (
        fastapi_scope.get("effective_route_context") if isinstance(fastapi_scope, dict) else None
    )
    path = getattr(context, "path", None) or getattr(scope.get("route"), "path", None)
    method = str(scope.get("method", ""))
    return (
        path if isinstance(path, str) else "other",
        method if method in KNOWN_METHODS else "other",
    )


class RequestTiming:
    """Observe each request's latency by route template, method and status."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        t0 = time.perf_counter()
        status = 500

        async def send_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = int(message["status"])
            await send(message)

        try:
            await self.app(scope, receive, send_status)
        finally:
            # labels from bounded sets only: an unauthenticated scrape target must not grow
            # a series per made-up method or path
            route, method = metric_labels(scope)
            self.metrics.latency.labels(route, method, str(status)).observe(
                time.perf_counter() - t0
            )


def _safe_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # "nan", "inf": JSON has no literal for them
    if isinstance(value, bool | int | float) or value is None:
        return value
    if isinstance(value, str):
        return redact(value[:_ECHO_MAX])
    return redact(str(value)[:_ECHO_MAX])


def safe_errors(errors: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Validation errors that JSON can carry: field path, message, a short, finite echo."""
    out: list[dict[str, Any]] = []
    for err in errors:
        item: dict[str, Any] = {
            "type": err.get("type", "value_error"),
            "loc": [p if isinstance(p, int | str) else str(p) for p in err.get("loc", ())],
            "msg": redact(str(err.get("msg", ""))),
        }
        if "input" in err and not isinstance(err["input"], dict | list | tuple):
            item["input"] = _safe_value(err["input"])
        if isinstance(err.get("ctx"), dict):
            item["ctx"] = {str(k): _safe_value(v) for k, v in err["ctx"].items()}
        out.append(item)
    return out


def _body_error(cause: BaseException | None) -> str:
    if isinstance(cause, RecursionError):
        return "JSON nested too deeply"
    if isinstance(cause, UnicodeDecodeError):
        return "body is not UTF-8"
    return "body is not valid JSON"


def install_error_handlers(app: FastAPI) -> None:
    """Translate errors once: :class:`NexusError` to its status, bad bodies to 422.

    Anything else is :class:`CatchAll`'s generic 500.
    """

    async def nexus_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, NexusError)
        message = redact(exc.message)
        if exc.http_status >= 500:
            log.warning(
                "http.request_failed", path=request.url.path, error=message, status=exc.http_status
            )
        return JSONResponse({"detail": message, "error": type(exc).__name__}, exc.http_status)

    async def validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        return JSONResponse({"detail": jsonable_encoder(safe_errors(exc.errors()))}, 422)

    async def http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 400 and exc.__cause__ is not None:
            # FastAPI's "error parsing the body": a body we could not read is bad input
            detail = [{"type": "json_invalid", "loc": ["body"], "msg": _body_error(exc.__cause__)}]
            return JSONResponse({"detail": detail}, 422)
        return JSONResponse(
            {"detail": redact(str(exc.detail))}, exc.status_code, headers=exc.headers
        )

    app.add_exception_handler(NexusError, nexus_error)
    app.add_exception_handler(RequestValidationError, validation_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
