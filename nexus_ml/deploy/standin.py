"""A small HTTP stand-in for one Nexus ERP module (standard library only; runs in its image).

It answers ``/health``, a few ERP endpoints (``/api/customers``, ``/api/appointments``,
``/api/users``, ``/api/info``) and ``/metrics`` in the Prometheus text format (its own
request counters and latency sum per path and status). Environment: ``NEXUS_MODULE`` (name),
``MODULE_PORT``, ``MODULE_BIND``, ``MODULE_VERSION``; ``MODULE_FAIL_HEALTH=1`` makes
``/health`` answer 503, which is how a bad release is simulated.

Several tasks on one host network share the port through ``SO_REUSEPORT``: the kernel spreads
connections over them, as the routing mesh would.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

ENDPOINTS = ("/api/customers", "/api/appointments", "/api/users", "/api/info")


class Stats:
    """Request counters, guarded by one lock (the server is threaded)."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.count: Counter[tuple[str, str, int]] = Counter()
        self.seconds: dict[str, float] = {}

    def record(self, method: str, path: str, status: int, seconds: float) -> None:
        with self.lock:
            self.count[(method, path, status)] += 1
            self.seconds[path] = self.seconds.get(path, 0.0) + seconds

    def exposition(self, module: str) -> str:
        lines = [
            "# HELP nexus_module_requests_total Requests served by this task.",
            "# TYPE nexus_module_requests_total counter",
        ]
        with self.lock:
            for (method, path, status), n in sorted(self.count.items()):
                lines.append(
                    f'nexus_module_requests_total{{module="{module}",method="{method}",'
                    f'path="{path}",code="{status}"}} {n}'
                )
            lines += [
                "# HELP nexus_module_request_seconds_sum Time spent answering, by path.",
                "# TYPE nexus_module_request_seconds_sum counter",
            ]
            for path, s in sorted(self.seconds.items()):
                lines.append(
                    f'nexus_module_request_seconds_sum{{module="{module}",path="{path}"}} {s:.6f}'
                )
        return "\n".join(lines) + "\n"


def make_handler(module: str, version: str, fail_health: bool, stats: Stats) -> type:
    """The request handler class bound to this task's identity."""
    task = os.environ.get("MODULE_TASK") or socket.gethostname()

    class Handler(BaseHTTPRequestHandler):
        server_version = f"nexus-module/{version}"

        def log_message(self, format: str, *args: object) -> None:  # quiet: metrics count
            return

        def _send(self, status: int, body: bytes, ctype: str = "application/json") -> None:
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("X-Nexus-Module", module)
            self.send_header("X-Nexus-Task", task)
            self.end_headers()
            self.wfile.write(body)

        def _answer(self, method: str) -> None:
            start = time.perf_counter()
            path = self.path.split("?", 1)[0]
            if path == "/metrics":
                status = 200
                self._send(status, stats.exposition(module).encode(), "text/plain; version=0.0.4")
            elif path == "/health":
                status = 503 if fail_health else 200
                body = {"status": "failing" if fail_health else "ok", "module": module}
                self._send(status, json.dumps(body).encode())
            elif path in ENDPOINTS:
                status = 201 if method == "POST" else 200
                body = {"module": module, "version": version, "task": task, "path": path}
                self._send(status, json.dumps(body).encode())
            else:
                status = 404
                self._send(status, json.dumps({"error": "not found", "path": path}).encode())
            label = path if path in (*ENDPOINTS, "/health", "/metrics") else "other"
            stats.record(method, label, status, time.perf_counter() - start)

        def do_GET(self) -> None:
            self._answer("GET")

        def do_POST(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            self.rfile.read(min(length, 1 << 20))
            self._answer("POST")

    return Handler


class ReusePortServer(ThreadingHTTPServer):
    daemon_threads = True

    def server_bind(self) -> None:
        self.socket.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        super().server_bind()


def main() -> None:
    """Serve until killed (SIGTERM ends the process: no state to flush)."""
    module = os.environ.get("NEXUS_MODULE", "nexus-module")
    port = int(os.environ.get("MODULE_PORT", "8080"))
    bind = os.environ.get("MODULE_BIND", "0.0.0.0")
    version = os.environ.get("MODULE_VERSION", "1")
    fail = os.environ.get("MODULE_FAIL_HEALTH", "") == "1"
    server = ReusePortServer((bind, port), make_handler(module, version, fail, Stats()))
    # standard library only (this file is the whole image): the key=value line by hand
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s %(message)s")
    logging.getLogger("nexus-module").info(
        "module.listening module=%s version=%s bind=%s port=%d", module, version, bind, port
    )
    server.serve_forever()


if __name__ == "__main__":
    main()
