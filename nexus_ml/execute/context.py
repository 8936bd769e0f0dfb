"""Key metrics for alerts: each module's recent values against its normal, from a MetricSource.

The decision says what to do; the operator also wants to see *why* at a glance — requests/min
against normal, memory, error rate. :class:`MetricContext` reads the last window of the module
from the same kind of source the service uses (Prometheus in production) and summarises it.
A failing source never blocks an alert: the alert goes out without metrics.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from datetime import datetime, timedelta
from statistics import median

from nexus_ml.ingest.source import MetricSource
from nexus_ml.logs import get_logger

log = get_logger(__name__)

KEY_FIELDS = ("requests_per_min", "memory_usage", "error_rate", "response_time")


class MetricContext:
    """``metrics(module)`` → (current values, normal values) of the key fields.

    Parameters
    ----------
    source
        Where metric frames come from.
    clock
        The current time (the executor's clock).
    window
        How far back "normal" looks; the newest ``recent`` minutes are excluded from it.
    """

    def __init__(
        self,
        source: MetricSource,
        clock: Callable[[], datetime],
        *,
        window: timedelta = timedelta(hours=1),
        recent: int = 5,
    ) -> None:
        self.source = source
        self.clock = clock
        self.window = window
        self.recent = recent

    def metrics(self, module: str) -> tuple[dict[str, float], dict[str, float]]:
        now = self.clock()
        try:
            frame = self.source.fetch([module], now - self.window, now).frame
        except Exception as exc:  # an alert without metrics beats no alert
            log.warning("executor.no_metric_context", module=module, error=str(exc))
            return {}, {}
        rows = frame[frame["module"] == module].sort_values("timestamp")
        current: dict[str, float] = {}
        normal: dict[str, float] = {}
        for field in KEY_FIELDS:
            if field not in rows.columns:
                continue
            values = [float(v) for v in rows[field] if math.isfinite(float(v))]
            if values:
                current[field] = values[-1]
            earlier = values[: -self.recent] if len(values) > self.recent else []
            if earlier:
                normal[field] = float(median(earlier))
        return current, normal
