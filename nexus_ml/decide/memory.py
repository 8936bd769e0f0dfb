"""Memory climbing toward its limit: the line a leak draws before the OOM killer ends it (pure).

A leak shows no symptom in latency or errors until the container is killed, so the health rules
on response time and errors never see it coming. :func:`memory_trend` fits a straight line
through the module's memory share (per replica, of its limit) over the last
:data:`FIT_MINUTES` and projects when it reaches the limit; ``decide/health.py`` alerts when
that is within the hour and restarts when it would come before an operator could act.

A window that spans a change of the service (a restart, a scale, a release) is not one set of
containers' trend — a new replica warming up raises the average — so the policy fits only
windows with no change in them.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

#: Minutes the line is fitted over: half the decision window (60 min), long enough that the
#: minute-to-minute noise of a healthy module averages out.
FIT_MINUTES = 30
#: A fit needs this share of its minutes observed.
MIN_OBSERVED = 0.8
#: The evidence kind of a decision the memory trend made or backed.
MEMORY_TREND = "memory_trend"


@dataclass(frozen=True)
class MemoryTrend:
    """The fitted line at the newest minute."""

    level: float  # the fitted share of the limit now
    slope: float  # share of the limit per minute
    minutes_to_limit: float  # when the line reaches the limit; inf when not surely rising


def memory_trend(
    memory: Sequence[float], *, minutes: int = FIT_MINUTES, limit: float = 1.0
) -> MemoryTrend | None:
    """The memory line over the last ``minutes`` (None with too few observations).

    Memory counts as rising only when the slope is above zero by two standard errors; the
    projection then uses the fitted slope.
    """
    tail = np.asarray(memory[-minutes:], dtype=float)
    x = np.flatnonzero(np.isfinite(tail)).astype(float)
    if len(tail) < minutes or x.size < max(3, math.ceil(MIN_OBSERVED * minutes)):
        return None
    y = tail[np.isfinite(tail)]
    x_centred = x - x.mean()
    spread = float(np.sum(x_centred**2))
    slope = float(np.sum(x_centred * (y - y.mean())) / spread)
    level = float(y.mean() + slope * (minutes - 1 - x.mean()))
    residual = y - (y.mean() + slope * x_centred)
    se = math.sqrt(float(np.sum(residual**2)) / (x.size - 2) / spread)
    if slope - 2 * se <= 0:
        return MemoryTrend(level, slope, math.inf)
    return MemoryTrend(level, slope, max(limit - level, 0.0) / slope)
