"""One contract over every model (scikit-learn style conformance).

Each model is a :class:`ModelCase`: how to build it unfitted, the data it fits on, and adapters
that fit it and produce the output compared across round trips. Adding a model (the
AnomalyDetector, for one) means appending one ``ModelCase`` to :data:`MODELS`.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from nexus_ml.models.anomaly.detector import AnomalyDetector
from nexus_ml.models.forecast.lead_time import LeadTimeQuantileForecaster
from nexus_ml.models.forecast.lead_time_risk import LeadTimeRisk
from nexus_ml.models.forecast.seasonal import SeasonalForecaster


@dataclass(frozen=True)
class ModelCase:
    """A model under contract: ``fit(model, data)`` must return the model,
    ``predict(model, data)`` gives a frame or array that must be reproducible."""

    id: str
    make: Callable[[], Any]
    data: Callable[[], Any]
    fit: Callable[[Any, Any], Any]
    predict: Callable[[Any, Any], Any]


def seasonal_series(days: int = 4, seed: int = 0) -> pd.Series:
    index = pd.date_range("2026-03-02", periods=days * 288, freq="5min", tz="UTC")
    t = np.arange(index.size)
    rng = np.random.default_rng(seed)
    values = 100 + 30 * np.sin(2 * np.pi * t / 288) + rng.normal(0, 4, index.size)
    return pd.Series(values, index=index, name="nexus-crm:requests_per_min")


def _forecast(model: Any, y: pd.Series) -> pd.DataFrame:
    return model.predict(24, levels=(80, 95), context=y.iloc[-30:].shift(2, freq="5min"))


def minute_series(days: int = 2, seed: int = 0) -> pd.Series:
    """Demand at 1-minute steps with an hourly cycle (the lead-time models' input)."""
    index = pd.date_range("2026-03-02", periods=days * 1440, freq="1min", tz="UTC")
    t = np.arange(index.size)
    rng = np.random.default_rng(seed)
    return pd.Series(50 + 20 * np.sin(2 * np.pi * t / 60) + rng.normal(0, 3, t.size), index=index)


def _lead_time_quantiles(model: Any, y: pd.Series) -> np.ndarray:
    return np.r_[model.predict_upper(), model.exceed_probabilities(np.asarray([40.0, 60.0, 80.0]))]


def _risks(model: Any, y: pd.Series) -> np.ndarray:
    levels = np.asarray([40.0, 60.0, 80.0])
    return np.r_[model.window_risk(levels), model.ready_risk(levels), model.predict_upper()]


def detector_frame() -> pd.DataFrame:
    y = seasonal_series(days=3)
    rng = np.random.default_rng(1)
    return pd.DataFrame(
        {"requests_per_min": y.to_numpy(), "response_time": 100 + rng.normal(0, 5, y.size)},
        index=y.index,
    )


# Every estimator of nexus-ml: the forecaster, the scaling strategy's lead-time models and the
# anomaly detector.
MODELS: list[ModelCase] = [
    ModelCase(
        id="seasonal_forecaster",
        make=lambda: SeasonalForecaster(direct_horizon=24),
        data=seasonal_series,
        fit=lambda model, y: model.fit(y),
        predict=_forecast,
    ),
    ModelCase(
        id="lead_time_quantile_forecaster",
        make=lambda: LeadTimeQuantileForecaster(lead_time=2, season=60, calib_window=600),
        data=minute_series,
        fit=lambda model, y: model.fit(y.to_numpy()),
        predict=_lead_time_quantiles,
    ),
    ModelCase(
        id="lead_time_risk",
        make=lambda: LeadTimeRisk(lead_time=2, season=60),
        data=minute_series,
        fit=lambda model, y: model.fit(y),
        predict=_risks,
    ),
    ModelCase(
        id="anomaly_detector",
        make=lambda: AnomalyDetector(
            fields=["requests_per_min", "response_time"], history=720, max_reference=720
        ),
        data=detector_frame,
        fit=lambda model, frame: model.fit(frame.iloc[:-120]),
        predict=lambda model, frame: model.score(frame.iloc[-120:]),
    ),
]


def _assert_same(a: Any, b: Any) -> None:
    if isinstance(a, pd.DataFrame):
        pd.testing.assert_frame_equal(a, b)
    else:
        np.testing.assert_array_equal(np.asarray(a), np.asarray(b))


@pytest.fixture(params=MODELS, ids=[m.id for m in MODELS])
def case(request: pytest.FixtureRequest) -> ModelCase:
    return request.param  # type: ignore[no-any-return]


def test_fit_returns_self(case: ModelCase) -> None:
    model = case.make()
    assert case.fit(model, case.data()) is model


def test_unfitted_model_raises_not_fitted(case: ModelCase) -> None:
    with pytest.raises(NotFittedError):
        case.predict(case.make(), case.data())


def test_hyper_parameters_survive_clone_and_learned_state_ends_in_underscore(
    case: ModelCase,
) -> None:
    model = case.make()
    params = model.get_params()
    before = set(vars(model))
    case.fit(model, case.data())
    learned = set(vars(model)) - before
    assert learned and all(name.endswith("_") for name in learned)
    assert clone(model).get_params() == params


def test_fit_is_idempotent(case: ModelCase) -> None:
    data = case.data()
    model = case.fit(case.make(), data)
    first = case.predict(model, data)
    case.fit(model, data)
    _assert_same(first, case.predict(model, data))


def test_joblib_round_trip_gives_identical_predictions(case: ModelCase, tmp_path: Path) -> None:
    data = case.data()
    model = case.fit(case.make(), data)
    joblib.dump(model, tmp_path / "model.joblib")
    loaded = joblib.load(tmp_path / "model.joblib")
    _assert_same(case.predict(model, data), case.predict(loaded, data))


@pytest.mark.integration
def test_mlflow_round_trip_gives_identical_predictions(case: ModelCase, mlflow_uri: str) -> None:
    import mlflow
    import mlflow.sklearn

    data = case.data()
    model = case.fit(case.make(), data)
    previous = mlflow.get_tracking_uri()
    mlflow.set_tracking_uri(mlflow_uri)
    try:
        mlflow.set_experiment(f"test-contract-{case.id}-{uuid.uuid4().hex[:8]}")
        with mlflow.start_run():
            info = mlflow.sklearn.log_model(
                model,
                name="model",
                serialization_format="cloudpickle",
                pip_requirements=["nexus-ml"],  # skip the slow requirement inference
            )
        loaded = mlflow.sklearn.load_model(info.model_uri)
    finally:
        mlflow.set_tracking_uri(previous)
    assert type(loaded) is type(model)
    _assert_same(case.predict(model, data), case.predict(loaded, data))
