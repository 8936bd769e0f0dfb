"""A local HTTP server that speaks enough of the Telegram Bot API for tests.

``POST /bot<token>/sendMessage`` records the message and answers ``{"ok": true, ...}``.
Tests can queue failures: ``stub.fail_next(429, retry_after=1)`` or ``stub.fail_next(502)``.
"""

from __future__ import annotations

import json
import threading
from collections import deque
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class SentMessage:
    token: str
    chat_id: str
    text: str
    parse_mode: str | None


class TelegramStub:
    def __init__(self) -> None:
        self.messages: list[SentMessage] = []
        self.requests = 0
        self._failures: deque[tuple[int, int | None]] = deque()
        self._lock = threading.Lock()
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                stub._handle(self)

            def log_message(self, format: str, *args: Any) -> None:
                return None

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self._server.server_address[1]}"

    def start(self) -> TelegramStub:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def fail_next(self, status: int, *, retry_after: int | None = None, times: int = 1) -> None:
        with self._lock:
            self._failures.extend([(status, retry_after)] * times)

    def _handle(self, request: BaseHTTPRequestHandler) -> None:
        length = int(request.headers.get("Content-Length", "0"))
        body = json.loads(request.rfile.read(length) or b"{}")
        parts = request.path.strip("/").split("/")
        with self._lock:
            self.requests += 1
            failure = self._failures.popleft() if self._failures else None
        if len(parts) != 2 or not parts[0].startswith("bot") or parts[1] != "sendMessage":
            return self._answer(request, 404, {"ok": False, "error_code": 404})
        if failure is not None:
            status, retry_after = failure
            answer: dict[str, Any] = {"ok": False, "error_code": status, "description": "stub"}
            if retry_after is not None:
                answer["parameters"] = {"retry_after": retry_after}
            return self._answer(request, status, answer)
        if not body.get("chat_id") or not body.get("text"):
            return self._answer(request, 400, {"ok": False, "error_code": 400})
        message = SentMessage(
            parts[0][3:], str(body["chat_id"]), body["text"], body.get("parse_mode")
        )
        with self._lock:
            self.messages.append(message)
            message_id = len(self.messages)
        self._answer(request, 200, {"ok": True, "result": {"message_id": message_id}})

    @staticmethod
    def _answer(request: BaseHTTPRequestHandler, status: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        request.send_response(status)
        request.send_header("Content-Type", "application/json")
        request.send_header("Content-Length", str(len(data)))
        request.end_headers()
        request.wfile.write(data)
