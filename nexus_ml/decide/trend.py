"""A metric climbing toward a limit: when will it get there? (pure)

:func:`trend_to_limit` fits a straight line through a metric over the last
:data:`FIT_MINUTES` and projects when it reaches a limit. ``decide/health.py`` reads two:

* **memory** (share of the limit per replica) toward the limit: a leak shows no symptom in
  latency or errors until the OOM killer ends it, so the rules on those never see it coming;
* **response time** (over its baseline) toward the seed rule's 3×: a degradation that creeps up
  crosses it late, often only at the crash.

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
#: The evidence kinds of a decision the memory trend, or the response-time trend, made or backed.
MEMORY_TREND = "memory_trend"
LATENCY_TREND = "latency_trend"


@dataclass(frozen=True)
class Trend:
    """The fitted line at the newest minute."""

    level: float  # the fitted value now
    slope: float  # per minute
    minutes_to_limit: float  # when the line reaches the limit; inf when not surely rising


def trend_to_limit(
    values: Sequence[float], *, minutes: int = FIT_MINUTES, limit: float = 1.0
) -> Trend | None:
    """The line through ``values`` over the last ``minutes`` (None with too few observations).

    The metric counts as rising only when the slope is above zero by two standard errors; the
    projection then uses the fitted slope.
    """
    tail = np.asarray(values[-minutes:], dtype=float)
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
        return Trend(level, slope, math.inf)
    return Trend(level, slope, max(limit - level, 0.0) / slope)
