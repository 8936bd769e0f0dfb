"""Synthetic windows and forecasts for the policy tests."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta

from nexus_ml.decide.policy import ForecastView
from nexus_ml.decide.window import MetricWindow
from nexus_ml.domain.metrics import METRIC_FIELDS

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
    return MetricWindow(module=module, timestamps=stamps, values=values)


def flat_forecast(
    mean: float, *, spread: float = 0.1, steps: int = 2, start: datetime = NOW
) -> ForecastView:
    """A forecast of ``mean`` with an 80 % interval of ±``spread`` × mean."""
    stamps = tuple(start + timedelta(minutes=i + 1) for i in range(steps))
    return ForecastView(
        timestamps=stamps,
        mean=(mean,) * steps,
        lo=(mean * (1 - spread),) * steps,
        hi=(mean * (1 + spread),) * steps,
    )


NAN = math.nan
