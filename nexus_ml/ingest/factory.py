"""Pick the metric source from settings: Prometheus when configured, else the embedded default."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd

from nexus_ml.catalog import Catalog, load_catalog
from nexus_ml.ingest.frame_source import FrameSource
from nexus_ml.ingest.source import MetricSource
from nexus_ml.settings import Settings


def metric_source(
    settings: Settings,
    *,
    frame: pd.DataFrame | None = None,
    catalog: Catalog | None = None,
    sim_days: float = 14.0,
    now: datetime | None = None,
) -> MetricSource:
    """The :class:`MetricSource` the settings ask for.

    Parameters
    ----------
    settings
        ``prometheus_url`` set: a :class:`~nexus_ml.ingest.prometheus_source.PrometheusSource`
        with ``prometheus_timeout_s``. Unset: a :class:`FrameSource` over ``frame`` or, without
        one, over ``sim_days`` of simulated history ending at ``now``.
    """
    if settings.prometheus_url:
        from nexus_ml.ingest.prometheus_source import PrometheusSource

        return PrometheusSource(settings.prometheus_url, timeout_s=settings.prometheus_timeout_s)
    if frame is None:
        from nexus_ml.sim import simulate_history

        end = (now or datetime.now(UTC)).replace(second=0, microsecond=0)
        catalog = catalog or load_catalog(settings.catalog_path)
        start = end - timedelta(days=sim_days) + timedelta(minutes=1)
        frame = simulate_history(catalog, start=start, days=sim_days)
        return FrameSource(frame, name="simulator")
    return FrameSource(frame)
