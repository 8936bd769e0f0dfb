"""Issue 19: schemathesis over the OpenAPI schema against uvicorn on 127.0.0.1, with
non-finite numbers and naive datetimes mixed into the generated bodies.

Every request goes over one keep-alive connection: no 5xx, and after every 4xx the same
connection must serve the next request (the server never drops it on a bad body).
"""

from __future__ import annotations

import http.client
import json
import re
from collections import Counter
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from tests.hardening.conftest import LiveServer
from tests.service.fakes import AUTH

EXAMPLES_PER_OPERATION = 170
MIN_REQUESTS = 2000
NON_FINITE = ("NaN", "Infinity", "-Infinity", "1e400")
_AWARE = re.compile(r"^(\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?)(Z|[+-]\d\d:\d\d)$")


def _mutate(body: Any, draw: st.DrawFn) -> Any:
    """Some numbers become a marker for a non-finite literal, some datetimes lose their zone."""
    if isinstance(body, dict):
        return {k: _mutate(v, draw) for k, v in body.items()}
    if isinstance(body, list):
        return [_mutate(v, draw) for v in body]
    if isinstance(body, bool):
        return body
    if isinstance(body, int | float) and draw(st.integers(0, 3)) == 0:
        return f"@@{draw(st.sampled_from(NON_FINITE))}@@"
    if isinstance(body, str) and _AWARE.match(body) and draw(st.booleans()):
        return _AWARE.sub(r"\1", body)
    return body


def _encode(body: Any) -> str:
    text = json.dumps(body, allow_nan=False)
    return re.sub(r'"@@([A-Za-z0-9.+-]+)@@"', r"\1", text)


@pytest.mark.slow
def test_fuzz_over_one_keep_alive_connection(live_server: LiveServer) -> None:
    schema = schemathesis.openapi.from_url(f"{live_server.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    conn = http.client.HTTPConnection("127.0.0.1", live_server.port, timeout=30)
    statuses: Counter[int] = Counter()
    failures: list[str] = []
    modules = st.sampled_from(["nexus-crm", "nexus-agendamento", "crm", None])
    state = {"mutated": 0}

    def send(case: schemathesis.Case, data: st.DataObject) -> None:
        kwargs = case.as_transport_kwargs(base_url=live_server.url)
        path = kwargs["url"].removeprefix(live_server.url)
        if kwargs.get("params"):
            from urllib.parse import urlencode

            path += "?" + urlencode(kwargs["params"], doseq=True)
        body = None
        headers = {**AUTH}
        if "json" in kwargs:
            payload = kwargs["json"]
            module = data.draw(modules)
            if module and isinstance(payload, dict):
                payload = {
                    **payload,
                    **{k: module for k in ("module", "failed_module") if k in payload},
                }
            mutated = _mutate(payload, data.draw)
            state["mutated"] += mutated != payload
            body = _encode(mutated).encode()
            headers["Content-Type"] = "application/json"
        sock = conn.sock
        conn.request(kwargs["method"], path, body=body, headers=headers)
        response = conn.getresponse()
        text = response.read()
        statuses[response.status] += 1
        if response.status >= 500:
            failures.append(f"{case.operation.label}: {response.status} {text[:200]!r}")
        if 400 <= response.status < 500 and response.status not in (408, 413):
            assert not response.will_close, f"{response.status} closed the connection"
            assert sock is None or conn.sock is sock
            conn.request("GET", "/healthz")
            follow = conn.getresponse()
            assert follow.status == 200 and follow.read() == b'{"status":"ok"}'
        if text and response.getheader("content-type", "").startswith("application/json"):
            json.loads(text)  # every answer, error or not, is valid JSON (no NaN)

    try:
        for operation in operations:
            run = given(case=operation.as_strategy(), data=st.data())(send)
            settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )(run)()
    finally:
        conn.close()
    total = sum(statuses.values())
    print(
        f"{total} requests ({state['mutated']} mutated), statuses {dict(sorted(statuses.items()))}"
    )
    assert not failures, failures[:5]
    assert total >= MIN_REQUESTS, dict(statuses)
    assert state["mutated"] > 200 and statuses[422] > 100 and statuses[200] > 100
