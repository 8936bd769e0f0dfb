"""The embedded metric source: the ERP simulator, so the service runs without Prometheus."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from nexus_ml.catalog import Catalog
from nexus_ml.domain.frame import FRAME_COLUMNS
from nexus_ml.errors import InputError
from nexus_ml.ingest.source import MetricFetch, QualityReport


class SimulatorSource:
    """A :class:`~nexus_ml.ingest.source.MetricSource` over :func:`nexus_ml.sim.simulate_history`.

    Deterministic in ``seed``: the same range gives the same frame. The simulated cluster's
    replica counts come along as a ``replicas`` column.
    """

    def __init__(self, catalog: Catalog, *, seed: int = 0) -> None:
        self.catalog = catalog
        self.seed = seed

    def fetch(
        self,
        modules: Sequence[str],
        start: datetime,
        end: datetime,
        step: timedelta = timedelta(minutes=1),
    ) -> MetricFetch:
        from nexus_ml.sim import simulate_history

        days = (end - start).total_seconds() / 86_400
        if days <= 0:
            raise InputError(
                f"end must be after start, got {start.isoformat()} .. {end.isoformat()}"
            )
        step_s = int(step.total_seconds())
        aligned = datetime.fromtimestamp(start.timestamp() // step_s * step_s, tz=start.tzinfo)
        frame = simulate_history(
            self.catalog, start=aligned, days=days, step_s=step_s, seed=self.seed
        )
        frame = frame[frame["module"].isin(list(modules))]
        frame = frame[[*FRAME_COLUMNS, "replicas"]].reset_index(drop=True)
        return MetricFetch(frame=frame, quality=QualityReport())
