"""The decision path's view of metrics: the latest window per module and whether it is stale.

The policy must not act on old numbers as if they were current: when a module's newest value is
older than ``max_age`` (or it has none), its window is marked stale and the policy holds.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pandas as pd

from nexus_ml.ingest.source import MetricSource


@dataclass(frozen=True)
class LatestWindow:
    """The recent metric frame of one module.

    ``last_seen`` is the newest instant with any finite value (``None``: no data in the window);
    ``stale`` is true when that is older than ``max_age`` before ``now``, or missing.
    """

    module: str
    frame: pd.DataFrame
    now: datetime
    last_seen: datetime | None
    stale: bool

    @property
    def age(self) -> timedelta | None:
        return None if self.last_seen is None else self.now - self.last_seen


def latest_windows(
    source: MetricSource,
    modules: Sequence[str],
    *,
    now: datetime | None = None,
    window: timedelta = timedelta(minutes=30),
    step: timedelta = timedelta(minutes=1),
    max_age: timedelta = timedelta(minutes=3),
) -> dict[str, LatestWindow]:
    """Fetch the last ``window`` for ``modules`` and mark each module stale or fresh.

    Parameters
    ----------
    source
        Any metric source (Prometheus, a frame, the simulator).
    now
        The decision instant; the current time when ``None``.
    max_age
        The newest value may be at most this old for the module to count as fresh.
    """
    now = now or datetime.now(UTC)
    fetch = source.fetch(modules, now - window, now, step)
    frames = dict(tuple(fetch.frame.groupby("module", sort=False)))
    out = {}
    for module in modules:
        last_seen = fetch.quality.last_seen.get(module)
        stale = last_seen is None or now - last_seen > max_age
        frame = frames.get(module, fetch.frame.iloc[0:0]).reset_index(drop=True)
        out[module] = LatestWindow(module, frame, now, last_seen, stale)
    return out
