"""schemathesis over the OpenAPI schema: no 5xx over at least 1,000 generated requests.

Every operation gets bodies generated from its schema by Hypothesis (bounded examples so that
the run stays around half a minute). Most generated module names are swapped for real ones so
that requests reach the policy and the models rather than stopping at a 404; some requests go
without the token. A stand-in champion and a prepared frame source keep each call cheap.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from nexus_ml.catalog import load_catalog
from service.core.config import ServiceSettings
from tests.service.conftest import make_app
from tests.service.fakes import AUTH, TOKEN, MemoryStore, StaticSource, bundle, steady_frame

EXAMPLES_PER_OPERATION = 170
MIN_REQUESTS = 1000
MODULE_KEYS = ("module", "failed_module")


def _with_real_module(body: Any, module: str | None) -> Any:
    if module is None or not isinstance(body, dict):
        return body
    return {**body, **{k: module for k in MODULE_KEYS if k in body}}


@pytest.mark.slow
def test_no_server_error_over_generated_requests(tmp_path: Path) -> None:
    catalog = load_catalog()
    settings_ = ServiceSettings(api_token=TOKEN, state_dir=tmp_path, decision_cache_s=1.0)
    store = MemoryStore({m: bundle(m, "1", growth=1.05) for m in catalog.names})
    app = make_app(settings_, catalog, StaticSource(steady_frame(catalog)), store)
    schema = schemathesis.openapi.from_asgi("/openapi.json", app)
    modules = st.sampled_from([None, *catalog.names, "crm"])

    statuses: Counter[int] = Counter()
    failures: list[str] = []
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 8

    def send(
        client: TestClient, case: schemathesis.Case, module: str | None, anonymous: int
    ) -> None:
        kwargs = case.as_transport_kwargs(base_url="http://testserver")
        if "json" in kwargs:
            kwargs["json"] = _with_real_module(kwargs["json"], module)
        headers = {
            k: v for k, v in kwargs.get("headers", {}).items() if k.lower() != "authorization"
        }
        kwargs["headers"] = headers if anonymous == 0 else {**headers, **AUTH}
        response = client.request(**kwargs)
        statuses[response.status_code] += 1
        if response.status_code >= 500:
            failures.append(f"{case.operation.label}: {response.status_code} {response.text[:300]}")
        # a Python traceback, not an echo of a generated value that happens to say "Traceback"
        assert "Traceback (most recent call last)" not in response.text

    with TestClient(app, raise_server_exceptions=False) as client:
        for operation in operations:
            run = given(
                case=operation.as_strategy(),
                module=modules,
                anonymous=st.integers(0, 9),  # 0: a request without the token
            )(lambda case, module, anonymous: send(client, case, module, anonymous))
            settings(
                max_examples=EXAMPLES_PER_OPERATION,
                deadline=None,
                database=None,
                phases=[Phase.explicit, Phase.generate],
                suppress_health_check=list(HealthCheck),
            )(run)()

    total = sum(statuses.values())
    print(f"{total} generated requests, statuses {dict(sorted(statuses.items()))}")
    assert not failures, failures[:5]
    assert total >= MIN_REQUESTS, f"only {total} requests generated: {dict(statuses)}"
    assert statuses[200] > 100 and statuses[401] > 0  # the policy ran, and auth was exercised
