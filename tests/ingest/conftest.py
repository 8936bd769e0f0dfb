"""Synthetic metric frames for the ingest tests, and the promtool/prometheus binaries."""

from __future__ import annotations

import shutil
from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd
import pytest

from nexus_ml.domain.metrics import METRIC_FIELDS
from tests.conftest import services_required

MODULES = ("nexus-user-management", "nexus-agendamento", "nexus-crm")

# Typical magnitudes per field, so that values exercise many float exponents.
SCALES = {
    "cpu_usage": 1.0,
    "memory_usage": 1.0,
    "response_time": 250.0,
    "active_connections": 40.0,
    "error_rate": 0.05,
    "disk_usage": 1.0,
    "network_latency": 12.0,
    "requests_per_min": 3000.0,
}


def synthetic_frame(
    start: datetime,
    minutes: int,
    modules: tuple[str, ...] = MODULES,
    seed: int = 7,
    step: timedelta = timedelta(minutes=1),
) -> pd.DataFrame:
    """A full metric frame of random (full-precision) values at ``step`` from ``start``."""
    rng = np.random.default_rng(seed)
    times = pd.date_range(start, periods=minutes, freq=pd.Timedelta(step), tz=UTC)
    blocks = []
    for module in modules:
        data: dict[str, object] = {"module": module, "timestamp": times}
        for f in METRIC_FIELDS:
            data[f] = rng.random(minutes) * SCALES[f]
        blocks.append(pd.DataFrame(data))
    return pd.concat(blocks, ignore_index=True)


def recent_start(minutes: int) -> datetime:
    """A whole-minute start such that ``minutes`` of history end about an hour ago."""
    now = datetime.now(UTC).replace(second=0, microsecond=0)
    return now - timedelta(minutes=minutes + 60)


def need_binary(name: str) -> str:
    found = shutil.which(name)
    if found:
        return found
    message = f"{name} not installed (Debian package prometheus)"
    if services_required():
        pytest.fail(message)
    pytest.skip(message)
