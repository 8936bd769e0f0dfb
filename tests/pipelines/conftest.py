"""Small simulated histories and configs shared by the pipeline tests.

Eight days at 5-minute steps: long enough for a daily profile plus a one-day backtest, small
enough that a module trains in about a second.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import pandas as pd
import pytest

from nexus_ml.catalog import load_catalog
from nexus_ml.ingest.frame_source import FrameSource
from nexus_ml.models.training.fanout import BacktestConfig
from nexus_ml.sim import simulate_history
from pipelines.train import TrainConfig

STEP = timedelta(minutes=5)
DAYS = 8.0
FIELDS = ("requests_per_min", "cpu_usage")
MODULES = ("nexus-user-management", "nexus-agendamento")


@pytest.fixture(scope="session")
def sim_frame() -> pd.DataFrame:
    return simulate_history(
        load_catalog(),
        start=datetime(2026, 11, 2),
        days=DAYS,
        step_s=int(STEP.total_seconds()),
        seed=3,
    )


@pytest.fixture(scope="session")
def sim_end(sim_frame: pd.DataFrame) -> datetime:
    end: datetime = (sim_frame["timestamp"].max() + STEP).to_pydatetime()
    return end


@pytest.fixture
def source(sim_frame: pd.DataFrame) -> FrameSource:
    return FrameSource(sim_frame)


def small_config(modules: tuple[str, ...] = MODULES, **overrides: Any) -> TrainConfig:
    values: dict[str, Any] = {
        "modules": modules,
        "days": DAYS,
        "step": STEP,
        "forecast_fields": FIELDS,
        "backtest": BacktestConfig(
            days=1, origin_every=timedelta(hours=6), horizon=timedelta(hours=1)
        ),
        "n_jobs": 1,
    }
    values.update(overrides)
    return TrainConfig(**values)


def detector_factory() -> Any:
    """The real detector, sized for a few days of 5-minute rows so tests stay fast."""
    import functools

    from nexus_ml.models.anomaly.detector import AnomalyDetector

    return functools.partial(AnomalyDetector, window_lengths=(4, 16), history=600, n_estimators=25)


def forecaster_factory(**params: Any) -> Any:
    import functools

    from nexus_ml.models.forecast.seasonal import SeasonalForecaster

    return functools.partial(SeasonalForecaster, **params)
