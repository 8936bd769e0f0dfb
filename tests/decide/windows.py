"""Synthetic windows and scaling strategies for the policy tests."""

from __future__ import annotations

import copy
import functools
import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

import numpy as np

from nexus_ml.catalog import ModuleProfile
from nexus_ml.decide.strategy import LeadTimeStrategy, Sizing
from nexus_ml.decide.window import MetricWindow
from nexus_ml.domain.metrics import METRIC_FIELDS
from nexus_ml.models.calibration import OnlineIsotonicCalibrator
from nexus_ml.models.forecast.lead_time_risk import LeadTimeRisk

NOW = datetime(2026, 11, 30, 14, 0, tzinfo=UTC)

NORMAL = {
    "cpu_usage": 0.4,
    "memory_usage": 0.4,
    "response_time": 120.0,
    "active_connections": 20.0,
    "error_rate": 0.002,
    "disk_usage": 0.3,
    "network_latency": 15.0,
    "requests_per_min": 500.0,
}


def make_window(
    module: str = "nexus-user-management",
    n: int = 60,
    *,
    end: datetime = NOW,
    replicas: Sequence[float] = (),
    **fields: float | Sequence[float],
) -> MetricWindow:
    """``n`` minutes ending at ``end``; a field is a constant or a sequence of ``n`` values."""
    stamps = tuple(end - timedelta(minutes=n - 1 - i) for i in range(n))
    values: dict[str, list[float]] = {}
    for name in METRIC_FIELDS:
        given = fields.get(name, NORMAL[name])
        values[name] = (
            [float(given)] * n if isinstance(given, int | float) else [float(v) for v in given]
        )
    return MetricWindow(module=module, timestamps=stamps, values=values, replicas=replicas)


def strategy_at(
    level: float,
    profile: ModuleProfile,
    *,
    noise: float = 0.05,
    minutes: int = 600,
    seed: int = 0,
) -> LeadTimeStrategy:
    """The real scaling strategy around a risk model fitted on ``minutes`` of demand at
    ``level`` (± ``noise``), one-minute lead time and an hourly season (fast to fit). Each
    call gets its own copy of one fit per argument set (a strategy updates its model)."""
    return LeadTimeStrategy(
        copy.deepcopy(_risk_at(level, noise, minutes, seed)),
        Sizing.of(profile),
        ready_calibrator=OnlineIsotonicCalibrator(),
    )


@functools.cache
def _risk_at(level: float, noise: float, minutes: int, seed: int) -> LeadTimeRisk:
    rng = np.random.default_rng(seed)
    history = level * (1 + noise * rng.standard_normal(minutes))
    return LeadTimeRisk(lead_time=1, season=60).fit(history)


NAN = math.nan
