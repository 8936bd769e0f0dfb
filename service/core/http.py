"""ASGI plumbing: bounded request bodies, request timing, and errors without stack traces."""

from __future__ import annotations

import json
import logging
import time

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from nexus_ml.errors import NexusError
from service.core.telemetry import ServiceMetrics

log = logging.getLogger(__name__)


def _problem(status: int, detail: str, error: str) -> tuple[dict[str, object], bytes]:
    body = json.dumps({"detail": detail, "error": error}).encode()
    start: dict[str, object] = {
        "type": "http.response.start",
        "status": status,
        "headers": [
            (b"content-type", b"application/json"),
            (b"content-length", str(len(body)).encode()),
        ],
    }
    return start, body


class BodySizeLimit:
    """Answer 413 to a request body above ``max_bytes``, declared or streamed."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

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
                    await self._reject(send)
                    return
        received = 0
        started = too_large = False

        async def counting_receive() -> Message:
            nonlocal received, too_large
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > self.max_bytes:
                    # answer now; the app sees a disconnect and whatever it sends is dropped
                    too_large = True
                    if not started:
                        await self._reject(send)
                    return {"type": "http.disconnect"}
            return message

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if too_large:
                return
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, counting_receive, tracking_send)
        except Exception:
            if not too_large:
                raise

    async def _reject(self, send: Send) -> None:
        start, body = _problem(413, f"request body above {self.max_bytes} bytes", "PayloadTooLarge")
        await send(start)
        await send({"type": "http.response.body", "body": body})


class RequestTiming:
    """Observe each request's latency by route template and status."""

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
            # the API has no path parameters, so a matched path is a bounded label
            path = scope.get("path", "") if scope.get("route") is not None else "unmatched"
            self.metrics.latency.labels(path, scope.get("method", ""), str(status)).observe(
                time.perf_counter() - t0
            )


def install_error_handlers(app: FastAPI) -> None:
    """Translate :class:`NexusError` to its HTTP status; anything else to a generic 500."""

    async def nexus_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, NexusError)
        if exc.http_status >= 500:
            log.warning("request failed path=%s error=%s", request.url.path, exc)
        return JSONResponse({"detail": exc.message, "error": type(exc).__name__}, exc.http_status)

    async def unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error path=%s", request.url.path)
        return JSONResponse({"detail": "internal server error", "error": "InternalError"}, 500)

    app.add_exception_handler(NexusError, nexus_error)
    app.add_exception_handler(Exception, unexpected)
