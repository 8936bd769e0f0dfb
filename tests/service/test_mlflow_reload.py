"""Integration: champions in a real MLflow registry; the alias moves, the service follows.

Bundles are published through the training side's ``MlflowModelStore`` (registered model per
module, alias ``champion``) under a unique prefix, and removed at the end.
"""

from __future__ import annotations

import contextlib
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from nexus_ml.catalog import load_catalog
from nexus_ml.models.registry.store import TrainedModule
from service.app import create_app
from service.core.config import ServiceSettings
from tests.service.fakes import (
    AUTH,
    NOW,
    TOKEN,
    ErrorDetector,
    GrowthForecaster,
    StaticSource,
    calm_scaler,
    steady_frame,
)

pytestmark = pytest.mark.integration
MODULE = "nexus-crm"


def trained(growth: float) -> TrainedModule:
    forecaster = GrowthForecaster(growth)
    return TrainedModule(
        module=MODULE,
        forecasters={"requests_per_min": forecaster, "cpu_usage": forecaster},
        detector=ErrorDetector(),
        fingerprint=uuid.uuid4().hex,
        promoted=True,
        reason="integration test",
        scaler=calm_scaler(MODULE),
    )


@pytest.fixture
def store(mlflow_uri: str) -> Iterator[object]:
    from nexus_ml.models.registry.mlflow_store import MlflowModelStore

    tag = uuid.uuid4().hex[:8]
    store = MlflowModelStore(
        mlflow_uri, experiment=f"service-test-{tag}", model_prefix=f"svc-{tag}-"
    )
    yield store
    client = store._client()
    for name in (store.model_name(m) for m in load_catalog().names):
        with contextlib.suppress(Exception):  # never registered
            client.delete_registered_model(name)


def wait_for(client: TestClient, version: str, timeout_s: float = 30.0) -> dict[str, object]:
    deadline = time.monotonic() + timeout_s
    while True:
        ready = client.get("/readyz").json()
        if ready["models"].get(MODULE) == version or time.monotonic() > deadline:
            return ready
        time.sleep(0.2)


def test_service_loads_the_champion_and_follows_the_alias(store: object, tmp_path: Path) -> None:
    catalog = load_catalog()
    first = store.publish(trained(1.0))  # type: ignore[attr-defined]
    settings = ServiceSettings(
        api_token=TOKEN, state_dir=tmp_path, model_poll_s=0.3, decision_cache_s=0.0
    )
    app = create_app(
        settings,
        catalog=catalog,
        metric_source=StaticSource(steady_frame(catalog)),
        model_store=store,
        clock=lambda: NOW,  # type: ignore[arg-type]
    )
    with TestClient(app) as client:
        ready = client.get("/readyz").json()
        assert ready["models"] == {MODULE: first}
        assert ready["policy"]["nexus-agendamento"] == "rules"
        d = client.post("/v1/decisions", headers=AUTH, json={"module": MODULE}).json()
        assert d["policy"] == "model" and d["model_versions"] == {MODULE: first}
        flat = client.post(
            "/v1/forecast", headers=AUTH, json={"module": MODULE, "horizon": 2}
        ).json()

        second = store.publish(trained(1.5))  # type: ignore[attr-defined]
        assert second != first
        ready = wait_for(client, second)
        assert ready["models"][MODULE] == second  # reloaded by the poller, no restart

        d = client.post("/v1/decisions", headers=AUTH, json={"module": MODULE}).json()
        assert d["model_versions"] == {MODULE: second}
        grown = client.post(
            "/v1/forecast", headers=AUTH, json={"module": MODULE, "horizon": 2}
        ).json()
        assert grown["model_version"] == second
        assert grown["points"][1]["mean"] > 2 * flat["points"][1]["mean"]  # 1.5² vs 1.0
        metrics = client.get("/metrics").text
        assert f'nexus_model_reloads_total{{module="{MODULE}"}} 2.0' in metrics
