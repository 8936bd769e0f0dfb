"""Ingestion: metric sources (Prometheus, files/simulator) returning metric frames.

``PrometheusSource`` is imported lazily (it pulls in requests and prometheus-api-client).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from nexus_ml.ingest.factory import metric_source
from nexus_ml.ingest.frame_source import FrameSource, read_metric_frame
from nexus_ml.ingest.latest import LatestWindow, latest_windows
from nexus_ml.ingest.quality import DEFAULT_MIN_COVERAGE, assess_quality, require_coverage
from nexus_ml.ingest.queries import QueryCatalog, load_query_catalog
from nexus_ml.ingest.source import MetricFetch, MetricSource, QualityReport

if TYPE_CHECKING:
    from nexus_ml.ingest.prometheus_source import PrometheusSource

__all__ = [
    "DEFAULT_MIN_COVERAGE",
    "FrameSource",
    "LatestWindow",
    "MetricFetch",
    "MetricSource",
    "PrometheusSource",
    "QualityReport",
    "QueryCatalog",
    "assess_quality",
    "latest_windows",
    "load_query_catalog",
    "metric_source",
    "read_metric_frame",
    "require_coverage",
]


def __getattr__(name: str) -> Any:
    if name == "PrometheusSource":
        from nexus_ml.ingest.prometheus_source import PrometheusSource

        return PrometheusSource
    raise AttributeError(name)
