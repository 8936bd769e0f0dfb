"""Each module's scaling strategy, kept up to date with every observed minute.

A :class:`~nexus_ml.decide.strategy.LeadTimeStrategy` is a fold over the minutes observed since
its champion was trained. This book keeps one per module and champion version in the process,
as a cache: before each decision it folds in the minutes it has not seen — from the window, and
from the metric source for a gap between the champion's training and the window. Its state is
therefore a function of the champion and the observations alone, and N service replicas that
read the same source hold the same state and give the same decisions.
"""

from __future__ import annotations

import copy
import math
import threading
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np

from nexus_ml.catalog import ModuleProfile
from nexus_ml.decide.strategy import UNDER_COST, LeadTimeStrategy, ScaleProposal, Sizing
from nexus_ml.decide.window import MetricWindow
from nexus_ml.errors import ModelError
from nexus_ml.ingest.source import MetricSource
from nexus_ml.models.calibration import OnlineIsotonicCalibrator, OnlinePlattCalibrator
from nexus_ml.models.registry.store import ModelBundle

MINUTE = timedelta(minutes=1)
#: A minute is folded into the strategy once this long has passed since its grid time. A
#: metric source evaluates the point at t over the samples of (t - 1 min, t], and a scrape just
#: before t reaches it a moment later: folding the point earlier would give two service replicas
#: that asked a moment apart different states for good (a fold keeps what it saw). One scrape
#: interval of the deployed Prometheus (15 s) is enough; the newest minute waits that long.
SETTLE = timedelta(seconds=15)

#: A champion whose training data ends longer ago than this is too old to catch up with.
MAX_CATCH_UP = timedelta(days=14)


def settled_until(now: datetime) -> datetime:
    """The newest grid time that has settled at ``now`` (see :data:`SETTLE`): what any fold of
    observed minutes (the strategy's, the online anomaly detector's) may take in."""
    return now - SETTLE


def _minute(ts: datetime) -> datetime:
    return ts.replace(second=0, microsecond=0)


def minute_grid(
    window: MetricWindow, after: datetime | None, until: datetime | None = None
) -> tuple[list[float], list[float], datetime | None]:
    """The window's demand and replicas on a regular minute grid after ``after`` (exclusive)
    and up to ``until`` (inclusive; None: the window's end), NaN for missing minutes, and the
    grid's last minute (None: nothing new)."""
    if until is not None:
        window = window.until(until)  # drop the unsettled tail
    stamps = window.timestamps
    n = len(stamps)
    if not n:
        return [], [], None
    start = 0
    if after is not None:  # the window is sorted: only its tail can be new
        cut = _minute(after)
        start = n
        while start > 0 and _minute(stamps[start - 1]) > cut:
            start -= 1
    if start == n:
        return [], [], None
    demand = window.field("requests_per_min")
    replicas = window.replicas
    by_minute: dict[datetime, tuple[float, float]] = {}
    for i in range(start, n):
        count = float(replicas[i]) if i < len(replicas) else math.nan
        by_minute[_minute(stamps[i])] = (float(demand[i]), count)
    last = max(by_minute)
    first = min(by_minute) if after is None else _minute(after) + MINUTE
    steps = int((last - first) / MINUTE) + 1
    rows = [by_minute.get(first + k * MINUTE, (math.nan, math.nan)) for k in range(steps)]
    return [d for d, _ in rows], [r for _, r in rows], last


class LockedStrategy:
    """A module's strategy whose proposals wait for any fold in progress (thread-safe)."""

    def __init__(self, strategy: LeadTimeStrategy, lock: threading.Lock) -> None:
        self.strategy = strategy
        self._lock = lock

    def propose(self, current: int) -> ScaleProposal:
        with self._lock:
            return self.strategy.propose(current)


@dataclass
class _Entry:
    version: str
    strategy: LeadTimeStrategy
    lock: threading.Lock


class StrategyBook:
    """The scaling strategy of each module, folded up to the newest observed minute.

    Parameters
    ----------
    source
        Where a gap between a champion's training data and the window is read from.
    under_cost
        The strategies' cost of a minute short of capacity, in replica-minutes.
    """

    def __init__(self, source: MetricSource, *, under_cost: float = UNDER_COST) -> None:
        self.source = source
        self.under_cost = under_cost
        self._entries: dict[str, _Entry] = {}
        self._lock = threading.Lock()

    def strategy(
        self,
        bundle: ModelBundle,
        profile: ModuleProfile,
        window: MetricWindow,
        *,
        now: datetime | None = None,
    ) -> LockedStrategy:
        """The module's strategy with every settled minute of the window folded in (every
        minute at least :data:`SETTLE` older than ``now``; None: every minute).

        Raises
        ------
        ModelError
            When the champion has no risk model, or was trained too long ago.
        """
        entry = self._entry(bundle, profile)
        with entry.lock:
            strategy = entry.strategy
            self._catch_up(strategy, profile, window)
            settled = None if now is None else settled_until(now)
            demand, replicas, last = minute_grid(window, strategy.observed_until, settled)
            if last is not None:
                strategy.observe(demand, replicas, until=last)
        return LockedStrategy(strategy, entry.lock)

    def _entry(self, bundle: ModelBundle, profile: ModuleProfile) -> _Entry:
        with self._lock:
            entry = self._entries.get(profile.name)
            if entry is not None and entry.version == bundle.version:
                return entry
            risk = bundle.scaler
            if risk is None:
                raise ModelError(
                    f"champion {bundle.version} of {profile.name} has no scaling risk model "
                    "(trained before it existed): retrain"
                )
            strategy = LeadTimeStrategy(
                copy.deepcopy(risk),
                Sizing.of(profile),
                ready_calibrator=OnlineIsotonicCalibrator(),
                confidence_calibrator=OnlinePlattCalibrator(),
                observed_until=getattr(risk, "observed_until_", None),
                under_cost=self.under_cost,
            )
            entry = _Entry(bundle.version, strategy, threading.Lock())
            self._entries[profile.name] = entry
            return entry

    def _catch_up(
        self, strategy: LeadTimeStrategy, profile: ModuleProfile, window: MetricWindow
    ) -> None:
        """Fold in the minutes between the champion's data and the window, from the source."""
        seen = strategy.observed_until
        if seen is None or not len(window):
            return
        first = _minute(window.timestamps[0])
        if first <= _minute(seen) + MINUTE:
            return
        if first - seen > MAX_CATCH_UP:
            raise ModelError(
                f"champion of {profile.name} was trained on data ending {seen.isoformat()}, "
                f"more than {MAX_CATCH_UP.days} days before the window: retrain"
            )
        fetched = self.source.fetch([profile.name], _minute(seen) + MINUTE, first - MINUTE, MINUTE)
        gap = MetricWindow.from_frame(fetched.frame, profile.name)
        demand, replicas, _ = minute_grid(gap, seen)
        # the gap ends where the window starts, whatever the source had
        expected = int((first - _minute(seen)) / MINUTE) - 1
        demand = (demand + [math.nan] * expected)[:expected]
        replicas = (replicas + [math.nan] * expected)[:expected]
        strategy.observe(np.asarray(demand).tolist(), replicas, until=first - MINUTE)
