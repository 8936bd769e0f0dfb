"""The ``MetricSource`` seam: where metric frames come from."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol

import pandas as pd


@dataclass(frozen=True)
class QualityReport:
    """How complete a fetch is.

    ``coverage[module][field]`` is the fraction of expected steps with a finite value;
    ``longest_gap[module]`` the longest run of missing steps; ``stale[module]`` is true when
    the newest value is older than the staleness limit.
    """

    coverage: dict[str, dict[str, float]] = field(default_factory=dict)
    longest_gap: dict[str, timedelta] = field(default_factory=dict)
    stale: dict[str, bool] = field(default_factory=dict)
    issues: tuple[str, ...] = ()

    def min_coverage(self, module: str | None = None) -> float:
        values = [
            v for m, per_field in self.coverage.items() if module in (None, m)
            for v in per_field.values()
        ]
        return min(values) if values else 0.0


@dataclass(frozen=True)
class MetricFetch:
    frame: pd.DataFrame  # a metric frame, see nexus_ml.domain.frame
    quality: QualityReport


class MetricSource(Protocol):
    """Anything that returns a metric frame for modules over a time range."""

    def fetch(
        self,
        modules: Sequence[str],
        start: datetime,
        end: datetime,
        step: timedelta = timedelta(minutes=1),
    ) -> MetricFetch: ...
