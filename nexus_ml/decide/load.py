"""Is the load behind a module's symptoms? (pure, no I/O).

Demand is a per-minute average, while response time and error rate are weighted by requests.
In the first minute of a sudden surge the surge's requests dominate the latency and errors but
only part of the minute's average demand, so the newest minute's utilisation understates the
load: a saturated module then looks like a sick one. Two readings correct for that:

* utilisation is judged from the peak demand of the last few minutes, not the newest alone;
* a demand jump — the recent peak a multiple of the minutes before it — explains latency and
  errors even while the averaged utilisation still reads below saturation.

When the load explains the symptoms the module is scaled, not restarted, and the replicas it
needs are estimated from what is failing: a saturated set of replicas serves about its
capacity, so the demand is about ``capacity / (1 - error rate)``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from statistics import median

from nexus_ml.decide.scaling import replicas_for
from nexus_ml.decide.window import finite

#: Minutes before the recent ones that give the demand's level (the jump is measured from it).
BASELINE_MINUTES = 15
#: Error rates above this are capped when sizing: at 100 % the served share says nothing.
MAX_FAILING_SHARE = 0.9


@dataclass(frozen=True)
class LoadView:
    """The module's recent demand against its capacity and its own recent level.

    Attributes
    ----------
    peak_demand
        The highest demand (requests per minute) of the recent minutes, None without data.
    utilisation
        ``peak_demand`` over the capacity of the running replicas (1.0 = saturated).
    demand_ratio
        ``peak_demand`` over the median demand of the minutes before (None when unknown).
    """

    peak_demand: float | None
    utilisation: float | None
    demand_ratio: float | None


def assess_load(
    demand: Sequence[float], *, current: int, capacity_rpm_per_replica: float, recent: int
) -> LoadView:
    """Peak utilisation and demand jump over the last ``recent`` minutes (oldest first)."""
    tail = finite(demand[-recent:]) if recent > 0 else []
    peak = max(tail) if tail else None
    capacity = current * capacity_rpm_per_replica
    utilisation = peak / capacity if peak is not None and capacity > 0 else None
    start = max(len(demand) - recent, 0)
    before = finite(demand[max(start - BASELINE_MINUTES, 0) : start])
    ratio = None
    if peak is not None and len(before) >= max(recent, 3):
        level = median(before)
        ratio = peak / level if level > 0 else (math.inf if peak > 0 else None)
    return LoadView(peak_demand=peak, utilisation=utilisation, demand_ratio=ratio)


def replicas_for_overload(
    current: int,
    *,
    peak_demand: float | None,
    error_rate: float | None,
    capacity_rpm_per_replica: float,
    target_utilisation: float,
) -> int:
    """Replicas that carry an overload at the target utilisation (at least one more).

    Two lower bounds on the demand, the larger wins: the peak observed (which lags in a surge's
    first minute) and what the failing share implies, ``current x capacity / (1 - errors)``.
    The caller clamps the result to the catalog's bounds.
    """
    failing = min(max(error_rate or 0.0, 0.0), MAX_FAILING_SHARE)
    implied = current * capacity_rpm_per_replica / (1.0 - failing)
    demand = max(implied, peak_demand or 0.0)
    return max(current + 1, replicas_for(demand, capacity_rpm_per_replica, target_utilisation))
