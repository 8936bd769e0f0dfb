"""PrometheusSource's side of the HTTP API, against a scripted fake server: what it asks for
(chunks, alignment, headers) and how it reads odd answers (NaN, stray series, resets)."""

from __future__ import annotations

import itertools
import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, ClassVar
from urllib.parse import parse_qs, urlparse

import numpy as np
import pytest

from nexus_ml.ingest.prometheus_source import PrometheusSource
from nexus_ml.ingest.timegrid import PROMETHEUS_MAX_POINTS

T0 = datetime(2026, 11, 2, tzinfo=UTC)


def value_at(t: int) -> str:
    return "NaN" if t % 3600 == 0 else repr((t % 7919) / 7919)


class FakePrometheus(BaseHTTPRequestHandler):
    requests: ClassVar[list[dict[str, Any]]] = []

    def log_message(self, *args: object) -> None:
        pass

    def do_GET(self) -> None:
        url = urlparse(self.path)
        params = {k: v[0] for k, v in parse_qs(url.query).items()}
        FakePrometheus.requests.append({"path": url.path, "headers": dict(self.headers), **params})
        if url.path == "/api/v1/query_range":
            start, end, step = int(params["start"]), int(params["end"]), int(params["step"])
            if (end - start) // step + 1 > PROMETHEUS_MAX_POINTS:
                return self._send(
                    400,
                    {
                        "status": "error",
                        "errorType": "bad_data",
                        "error": "exceeded maximum resolution",
                    },
                )
            values = [[t, value_at(t)] for t in range(start, end + 1, step)]
            result = [
                {"metric": {"module": "nexus-crm"}, "values": values},
                {"metric": {"instance": "stray"}, "values": values},  # no module label
            ]
            return self._send(
                200, {"status": "success", "data": {"resultType": "matrix", "result": result}}
            )
        result = [{"metric": {"module": "nexus-crm"}, "value": [int(float(params["time"])), "2"]}]
        self._send(200, {"status": "success", "data": {"resultType": "vector", "result": result}})

    def _send(self, code: int, body: dict[str, Any]) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture
def fake() -> Iterator[str]:
    FakePrometheus.requests = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), FakePrometheus)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


def test_chunked_aligned_requests_stitch_to_the_full_grid(fake: str) -> None:
    start, end = T0 + timedelta(seconds=20), T0 + timedelta(days=7)  # 10,080 minutes
    fetch = PrometheusSource(fake, timeout_s=5, chunk_points=4000).fetch(["nexus-crm"], start, end)
    ranges = [r for r in FakePrometheus.requests if r["path"] == "/api/v1/query_range"]
    # 8 fields and the replica count x 3 chunks of at most 4,000 points
    assert len(ranges) == 9 * 3
    spans = sorted({(int(r["start"]), int(r["end"])) for r in ranges})
    assert all(s % 60 == 0 and e % 60 == 0 for s, e in spans)
    assert all((e - s) // 60 + 1 <= 4000 for s, e in spans)
    assert all(b[0] == a[1] + 60 for a, b in itertools.pairwise(spans))
    assert spans[0][0] == int((T0 + timedelta(minutes=1)).timestamp())
    assert all(r["headers"].get("Accept-Encoding") == "identity" for r in ranges)
    frame = fetch.frame
    assert len(frame) == 10_080 and frame["timestamp"].is_unique
    seconds = frame["timestamp"].astype("int64").to_numpy() // 10**9
    want = np.array([float(value_at(int(t))) for t in seconds])
    np.testing.assert_array_equal(frame["cpu_usage"].to_numpy(), want)
    np.testing.assert_array_equal(frame["replicas"].to_numpy(), want)  # an optional column
    q = fetch.quality
    hours = int(np.isnan(want).sum())
    # "NaN" answers are counted per metric field; the replica count is not a health metric
    assert q.nan_values["nexus-crm"] == 8 * hours
    assert q.coverage["nexus-crm"]["cpu_usage"] == pytest.approx(1 - hours / 10_080)
    assert q.counter_resets["nexus-crm"] == 2 * 2  # two reset queries, each answering 2
    resets = [r for r in FakePrometheus.requests if r["path"] == "/api/v1/query"]
    assert all("[604800s]" in r["query"] for r in resets)  # the whole 7-day span


def test_progress_reports_every_query(fake: str) -> None:
    calls: list[tuple[int, int]] = []
    PrometheusSource(fake, timeout_s=5, concurrency=2).fetch(
        ["nexus-crm"], T0, T0 + timedelta(hours=2), progress=lambda d, t: calls.append((d, t))
    )
    assert calls == [(i, 9) for i in range(1, 10)]


def test_compression_can_be_asked_for(fake: str) -> None:
    PrometheusSource(fake, timeout_s=5, compress=True).fetch(
        ["nexus-crm"], T0, T0 + timedelta(hours=1)
    )
    ranges = [r for r in FakePrometheus.requests if r["path"] == "/api/v1/query_range"]
    assert all("gzip" in r["headers"].get("Accept-Encoding", "") for r in ranges)
