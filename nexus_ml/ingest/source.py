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
    ``longest_gap[module]`` the longest run of missing steps (over its fields); ``stale[module]``
    is true when the newest value is older than the staleness limit. ``last_seen[module]`` is the
    newest instant with any finite value (``None``: no data at all); ``nan_values[module]`` counts
    NaN values the source itself delivered (as opposed to absent samples);
    ``duplicate_timestamps[module]`` the repeated instants dropped; ``counter_resets[module]``
    the resets of the module's raw counters in the window (Prometheus only). ``issues`` holds one
    human-readable line per problem found.
    """

    coverage: dict[str, dict[str, float]] = field(default_factory=dict)
    longest_gap: dict[str, timedelta] = field(default_factory=dict)
    stale: dict[str, bool] = field(default_factory=dict)
    issues: tuple[str, ...] = ()
    last_seen: dict[str, datetime | None] = field(default_factory=dict)
    nan_values: dict[str, int] = field(default_factory=dict)
    duplicate_timestamps: dict[str, int] = field(default_factory=dict)
    counter_resets: dict[str, int] = field(default_factory=dict)

    def min_coverage(self, module: str | None = None) -> float:
        values = [
            v
            for m, per_field in self.coverage.items()
            if module in (None, m)
            for v in per_field.values()
        ]
        return min(values) if values else 0.0

    @property
    def modules_without_data(self) -> tuple[str, ...]:
        return tuple(m for m, seen in self.last_seen.items() if seen is None)


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
