"""The one place a metric source is chosen: a file the caller names, Prometheus, or a fallback.

Every job that reads metrics from the settings (the CLI verbs, the service, the executor's
alert context, incident collection) asks :func:`metric_source` or :func:`prometheus_source`;
none builds a :class:`~nexus_ml.ingest.prometheus_source.PrometheusSource` itself.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from nexus_ml.catalog import Catalog, load_catalog
from nexus_ml.errors import ConfigError, InputError
from nexus_ml.ingest.frame_source import FrameSource, read_metric_frame
from nexus_ml.ingest.source import MetricSource
from nexus_ml.settings import Settings

if TYPE_CHECKING:
    from nexus_ml.ingest.prometheus_source import PrometheusSource
    from nexus_ml.ingest.queries import QueryCatalog


def prometheus_source(
    settings: Settings,
    *,
    url: str | None = None,
    stale_after: timedelta | None = None,
    query_catalog: QueryCatalog | None = None,
) -> PrometheusSource | None:
    """The Prometheus the settings (or ``url``, a command-line override) name, else ``None``.

    The timeout is ``prometheus_timeout_s``; ``stale_after`` and ``query_catalog`` keep the
    source's defaults when ``None``.
    """
    url = url or settings.prometheus_url
    if not url:
        return None
    from nexus_ml.ingest.prometheus_source import PrometheusSource

    extra: dict[str, Any] = {}
    if stale_after is not None:
        extra["stale_after"] = stale_after
    if query_catalog is not None:
        extra["catalog"] = query_catalog
    return PrometheusSource(url, timeout_s=settings.prometheus_timeout_s, **extra)


def metric_source(
    settings: Settings,
    *,
    path: Path | None = None,
    frame: pd.DataFrame | None = None,
    stale_after: timedelta | None = None,
    fallback: Callable[[], MetricSource] | None = None,
    simulate: bool = True,
    missing: str = "set NEXUS_PROMETHEUS_URL",
    label: str = "metric file",
    catalog: Catalog | None = None,
    sim_days: float = 14.0,
    now: datetime | None = None,
) -> MetricSource:
    """The :class:`MetricSource` a job reads, first match wins.

    1. ``path``: a Parquet or CSV metric frame file the caller was given (``--from FILE``,
       ``NEXUS_METRICS_PATH``); it must exist and hold rows.
    2. ``frame``: a metric frame already in memory.
    3. Prometheus, when the settings name one (:func:`prometheus_source`).
    4. ``fallback()``, the caller's own stand-in (the service's live simulator).
    5. With ``simulate``, ``sim_days`` of simulated history ending at ``now``.

    Raises
    ------
    InputError
        ``path`` is not a file or holds no rows (the message starts with ``label``).
    ConfigError
        Nothing matched (``simulate=False`` and no fallback); the message ends with ``missing``.
    """
    kwargs: dict[str, Any] = {} if stale_after is None else {"stale_after": stale_after}
    if path is not None:
        if not path.is_file():
            raise InputError(f"{label}: no such file {str(path)!r}")
        data = read_metric_frame(path)
        if data.empty:
            raise InputError(f"{label}: {path} holds no rows")
        return FrameSource(data, name=str(path), **kwargs)
    if frame is not None:
        return FrameSource(frame, **kwargs)
    prometheus = prometheus_source(settings, stale_after=stale_after)
    if prometheus is not None:
        return prometheus
    if fallback is not None:
        return fallback()
    if not simulate:
        raise ConfigError(f"no metric source: {missing}", field="prometheus_url")
    from nexus_ml.sim import simulate_history

    end = (now or datetime.now(UTC)).replace(second=0, microsecond=0)
    catalog = catalog or load_catalog(settings.catalog_path)
    start = end - timedelta(days=sim_days) + timedelta(minutes=1)
    history = simulate_history(catalog, start=start, days=sim_days)
    return FrameSource(history, name="simulator", **kwargs)
