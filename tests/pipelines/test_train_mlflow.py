"""The pipeline against MLflow: a real server (gate scenario) and the embedded sqlite store."""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pytest

from nexus_ml.ingest.frame_source import FrameSource
from nexus_ml.models.forecast.seasonal import SeasonalForecaster
from nexus_ml.models.registry.mlflow_store import MlflowModelStore
from nexus_ml.models.registry.store import CHALLENGER, TAG_PROMOTION, TAG_REASON
from nexus_ml.models.training.promotion import GateConfig
from pipelines.train import train
from tests.pipelines.conftest import MODULES, detector_factory, forecaster_factory, small_config


class ShiftedForecaster(SeasonalForecaster):
    """The real forecaster with every output moved by ``shift`` standard deviations of ``y``.

    A bias of known size gives challengers that are worse or better than each other for sure,
    whatever the forecaster's own accuracy on the simulated data.
    """

    def __init__(self, *, shift: float = 0.0, profile_days: int = 14) -> None:
        super().__init__(profile_days=profile_days)
        self.shift = shift

    def fit(self, y: pd.Series) -> ShiftedForecaster:
        super().fit(y)
        self.offset_ = self.shift * float(y.std())
        return self

    def predict(self, horizon: int, **kwargs: Any) -> pd.DataFrame:
        fc = super().predict(horizon, **kwargs)
        value_cols = [c for c in fc.columns if c not in ("unique_id", "ds")]
        fc[value_cols] = fc[value_cols] + self.offset_
        return fc


@pytest.fixture
def server_store(mlflow_uri: str) -> Iterator[MlflowModelStore]:
    unique = uuid.uuid4().hex[:8]
    yield MlflowModelStore(
        mlflow_uri, experiment=f"test-gate-{unique}", model_prefix=f"test-{unique}-"
    )
    from mlflow import MlflowClient

    client = MlflowClient(mlflow_uri, registry_uri=mlflow_uri)
    for model in client.search_registered_models(f"name LIKE 'test-{unique}-%'"):
        client.delete_registered_model(model.name)


@pytest.mark.integration
def test_gate_on_a_real_server_keeps_worse_models_out_and_lets_better_ones_in(
    server_store: MlflowModelStore,
    source: FrameSource,
    sim_end: datetime,
    caplog: pytest.LogCaptureFixture,
) -> None:
    module = MODULES[0]
    # Coverage bounds wide open: a biased model's coverage is not what this test is about.
    config = small_config(
        modules=(module,), gate=GateConfig(margin=0.02, coverage_bounds=(0.0, 1.0))
    )

    def run(shift: float):
        import functools

        factory = functools.partial(ShiftedForecaster, shift=shift)
        report = train(
            source,
            server_store,
            config,
            end=sim_end,
            forecaster_factory=factory,
            detector_factory=detector_factory(),
        )
        return report.outcomes[0]

    first = run(0.5)
    assert first.status == "promoted", first.reason
    assert server_store.champion_version(module) == first.version

    with caplog.at_level(logging.INFO, logger="pipelines.train"):
        worse = run(1.5)
    assert worse.status == "challenger"
    assert worse.champion_mase is not None and worse.mase > worse.champion_mase
    assert server_store.champion_version(module) == first.version
    assert server_store.alias_version(module, CHALLENGER) == worse.version
    tags = server_store.version_tags(module, worse.version)
    assert tags[TAG_PROMOTION] == "rejected"
    assert "does not beat champion" in tags[TAG_REASON]
    assert any(
        f"version={worse.version}" in r.getMessage() and "does not beat champion" in r.getMessage()
        for r in caplog.records
    )

    better = run(0.0)
    assert better.status == "promoted", better.reason
    assert better.mase < 0.98 * first.mase
    assert server_store.champion_version(module) == better.version
    assert server_store.alias_version(module, CHALLENGER) is None
    champion = server_store.load_champion(module)
    assert champion is not None and champion.forecasters["cpu_usage"].shift == 0.0


@pytest.mark.slow  # MLflow creates its sqlite schema on the first run (~15 s)
def test_embedded_sqlite_tracking_registers_a_champion(
    source: FrameSource, sim_end: datetime, tmp_path: Path
) -> None:
    db = tmp_path / "state" / "mlflow.db"
    db.parent.mkdir()
    store = MlflowModelStore(f"sqlite:///{db}")
    report = train(
        source,
        store,
        small_config(),
        end=sim_end,
        forecaster_factory=forecaster_factory(),
        detector_factory=detector_factory(),
    )
    assert {o.status for o in report.outcomes} == {"promoted"}, [o.reason for o in report.outcomes]
    for outcome in report.outcomes:
        bundle = MlflowModelStore(f"sqlite:///{db}").load_champion(outcome.module)
        assert bundle is not None and bundle.version == outcome.version
        fc = bundle.forecasters["requests_per_min"].predict(6, levels=(80,))
        assert len(fc) == 6 and (fc["lo-80"] <= fc["hi-80"]).all()
    # Artefacts live next to the database, not in the working directory.
    assert list((tmp_path / "state" / "mlartifacts").rglob("bundle.joblib"))
    assert not Path("mlruns").exists() and not Path("mlartifacts").exists()
