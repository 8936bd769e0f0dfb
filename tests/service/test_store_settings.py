"""Which model store the service builds from its settings (no server is contacted)."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from nexus_ml.models.registry.local_store import LocalModelStore
from nexus_ml.models.registry.mlflow_store import MlflowModelStore
from service.app import default_model_store
from service.core.config import ServiceSettings


def test_mlflow_store_uses_the_configured_experiment_and_model_prefix() -> None:
    settings = ServiceSettings(
        mlflow_tracking_uri="http://127.0.0.1:1",
        mlflow_experiment="erp-staging",
        mlflow_model_prefix="staging-",
    )
    store = default_model_store(settings)
    assert isinstance(store, MlflowModelStore)
    assert (store.experiment, store.model_prefix) == ("erp-staging", "staging-")


def test_without_a_tracking_uri_the_local_store_is_used(tmp_path: Path) -> None:
    store = default_model_store(ServiceSettings(state_dir=tmp_path))
    assert isinstance(store, LocalModelStore)


def test_model_prefix_with_a_space_is_rejected_naming_the_field(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("NEXUS_MLFLOW_MODEL_PREFIX", "my models")
    with pytest.raises(ValidationError) as err:
        ServiceSettings()
    assert "mlflow_model_prefix" in str(err.value)
    assert "my models" in str(err.value)
