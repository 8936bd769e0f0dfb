"""Stand-ins for the models and the store, for the service tests only."""

from __future__ import annotations

import copy
import functools
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from nexus_ml.catalog import Catalog, load_catalog
from nexus_ml.domain.metrics import METRIC_FIELDS
from nexus_ml.engine import DecisionEngine, NullMetrics
from nexus_ml.ingest.frame_source import FrameSource
from nexus_ml.ingest.source import MetricFetch, QualityReport
from nexus_ml.models.forecast.lead_time_risk import LeadTimeRisk
from nexus_ml.models.registry.store import ModelBundle
from nexus_ml.sim import simulate_history

NOW = datetime(2026, 11, 30, 14, 0, 30, tzinfo=UTC)
TOKEN = "test-token-0123456789abcdef"
AUTH = {"Authorization": f"Bearer {TOKEN}"}


class GrowthForecaster:
    """Forecasts the last context value times ``growth`` per step, ±10 % at every level."""

    step_seconds_ = 60

    def __init__(self, growth: float = 1.0) -> None:
        self.growth = growth

    def predict(
        self, horizon: int, *, levels: Sequence[int] = (80,), context: pd.Series | None = None
    ) -> pd.DataFrame:
        last = float(context.iloc[-1]) if context is not None and len(context) else 100.0
        end = context.index[-1] if context is not None and len(context) else pd.Timestamp(NOW)
        mean = last * self.growth ** np.arange(1, horizon + 1)
        out = pd.DataFrame(
            {
                "unique_id": "requests_per_min",
                "ds": [end + pd.Timedelta(minutes=i + 1) for i in range(horizon)],
                "mean": mean,
            }
        )
        for level in levels:
            out[f"lo-{level}"] = mean * 0.9
            out[f"hi-{level}"] = mean * 1.1
        return out


class ErrorDetector:
    """Scores a row 0.9 when its error rate is above 5 %, else 0.1."""

    def score(self, frame: pd.DataFrame) -> pd.DataFrame:
        bad = (frame["error_rate"] > 0.05).astype(float) * 0.8 + 0.1
        scores = pd.DataFrame({f: 0.1 for f in METRIC_FIELDS}, index=frame.index)
        scores["error_rate"] = bad
        scores["combined"] = bad
        return scores

    def update(self, frame_new: pd.DataFrame) -> pd.DataFrame:
        """Scores of the new rows (the online path the engine takes; this detector is
        memoryless, so scoring them is updating)."""
        return self.score(frame_new)


def calm_scaler(module: str, *, minutes: int = 300) -> LeadTimeRisk:
    """The real scaling risk model, fitted on ``minutes`` of the module's calm demand (the
    level of :func:`steady_frame`) with an hourly season; it has no time axis, so the engine
    folds in every minute of the first window it sees. Each call gets its own copy of one fit
    per module (the engine updates it in place; the fit is the same every time)."""
    return copy.deepcopy(_calm_fit(module, minutes))


@functools.cache
def _calm_fit(module: str, minutes: int) -> LeadTimeRisk:
    profile = load_catalog().get(module)
    calm = 0.5 * profile.min_replicas * profile.capacity_rpm_per_replica
    history = calm * (1 + 0.01 * (np.arange(minutes) % 7))
    return LeadTimeRisk(lead_time=1, season=60).fit(history)


def bundle(module: str, version: str, growth: float = 1.0) -> ModelBundle:
    forecaster = GrowthForecaster(growth)
    return ModelBundle(
        module=module,
        version=version,
        forecasters={"requests_per_min": forecaster, "cpu_usage": forecaster},
        detector=ErrorDetector(),
        scaler=calm_scaler(module),
    )


class NoChampions:
    """Champions for no module: the seed's rules decide."""

    def get(self, module: str) -> ModelBundle | None:
        return None


def rules_engine(frame: pd.DataFrame, clock: Callable[[], datetime]) -> DecisionEngine:
    """A decision engine over ``frame`` (a FrameSource) with no champion, uncached."""
    return DecisionEngine(
        load_catalog(), FrameSource(frame), NoChampions(), NullMetrics(), clock=clock, cache_s=0.0
    )


def crm_history() -> pd.DataFrame:
    """Six simulated hours of CRM (seed 5), with the simulator's replica counts."""
    frame = simulate_history(
        load_catalog(), start=datetime(2026, 11, 2, 3, tzinfo=UTC), days=0.25, seed=5
    )
    return frame[frame["module"] == "nexus-crm"].reset_index(drop=True)


@dataclass
class MemoryStore:
    """A model store in a dict; ``calls`` counts champion lookups."""

    champions: dict[str, ModelBundle] = field(default_factory=dict)
    calls: int = 0

    def champion_version(self, module: str) -> str | None:
        self.calls += 1
        found = self.champions.get(module)
        return None if found is None else found.version

    def load_champion(self, module: str) -> ModelBundle | None:
        return self.champions.get(module)


def steady_frame(catalog: Catalog, *, end: datetime = NOW, minutes: int = 120) -> pd.DataFrame:
    """Calm per-minute metrics for every module (half its minimum capacity) ending at ``end``."""
    stop = end.replace(second=0, microsecond=0)
    stamps = [stop - timedelta(minutes=minutes - 1 - i) for i in range(minutes)]
    rows = []
    for profile in catalog:
        module, calm = profile.name, 0.5 * profile.min_replicas * profile.capacity_rpm_per_replica
        for i, ts in enumerate(stamps):
            rows.append(
                {
                    "module": module,
                    "timestamp": ts,
                    "cpu_usage": 0.4,
                    "memory_usage": 0.4,
                    "response_time": 120.0 + (i % 5),
                    "active_connections": 20.0,
                    "error_rate": 0.002,
                    "disk_usage": 0.3,
                    "network_latency": 15.0,
                    "requests_per_min": calm * (1 + 0.01 * (i % 7)),
                }
            )
    return pd.DataFrame(rows)


class StaticSource:
    """A metric source over a prepared frame, with no regridding: fast enough for fuzzing."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self._by_module = {m: rows.reset_index(drop=True) for m, rows in frame.groupby("module")}

    def fetch(
        self,
        modules: Sequence[str],
        start: datetime,
        end: datetime,
        step: timedelta = timedelta(minutes=1),
    ) -> MetricFetch:
        parts = [self._by_module[m] for m in modules if m in self._by_module]
        frame = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()
        return MetricFetch(frame=frame, quality=QualityReport())
