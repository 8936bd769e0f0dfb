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

from nexus_ml.decide.canary import robust_sd

#: Minutes the line is fitted over: half the decision window (60 min), long enough that the
#: minute-to-minute noise of a healthy module averages out.
FIT_MINUTES = 30
#: Minutes of the slow-leak line: the whole decision window (1 h). Projected up to
#: ``HealthThresholds.memory_watch_min`` (4 h) ahead, as Prometheus' canonical resource-filling
#: alert does, ``predict_linear(...[1h], 4 * 3600)``.
WATCH_FIT_MINUTES = 60
#: A fall from one minute to the next this many robust standard deviations of the
#: minute-to-minute changes below zero is a reset (a restart frees the memory it held).
RESET_NOISE = 5.0
#: A fit needs this share of its minutes observed.
MIN_OBSERVED = 0.8
#: The evidence kinds of a decision the memory trend, or the response-time trend, made or backed.
#: ``memory_trend``: the limit within the hour (alert, or restart when it is minutes away);
#: ``memory_watch``: the hour's line reaches it within hours (a slow leak: alert only).
MEMORY_TREND = "memory_trend"
MEMORY_WATCH = "memory_watch"
LATENCY_TREND = "latency_trend"


@dataclass(frozen=True)
class Trend:
    """The fitted line at the newest minute."""

    level: float  # the fitted value now
    slope: float  # per minute
    minutes_to_limit: float  # when the line reaches the limit; inf when not surely rising


def trend_to_limit(
    values: Sequence[float],
    *,
    minutes: int = FIT_MINUTES,
    limit: float = 1.0,
    load: Sequence[float] | None = None,
) -> Trend | None:
    """The line through ``values`` over the last ``minutes`` (None with fewer than
    :data:`MIN_OBSERVED` of them observed).

    The metric counts as rising only when the slope is above zero by two standard errors and
    it did not fall back within the fit (a reset: see :func:`_fell_back`); the projection then
    uses the fitted slope. With ``load`` (the demand of the same minutes), the slope is the
    climb at constant load — what the load explains is not a trend toward the limit.
    """
    tail = np.asarray(values[-minutes:], dtype=float)
    seen = np.isfinite(tail)
    covariate = None
    if load is not None:
        covariate = np.asarray(load[-minutes:], dtype=float)
        if len(covariate) == len(tail) and np.isfinite(covariate[seen]).all():
            covariate = covariate[seen]
        else:
            covariate = None  # no load for some minutes: the plain line
    x = np.flatnonzero(seen).astype(float)
    if x.size < max(4, math.ceil(MIN_OBSERVED * minutes)):
        return None  # a window a minute short (a minute not settled yet) still fits
    y = tail[seen]
    xc, yc = x - x.mean(), y - y.mean()
    sxx, sxy = float(xc @ xc), float(xc @ yc)
    slope, se_scale, params = sxy / sxx, 1.0 / sxx, 2
    fitted = slope * xc
    if covariate is not None:  # least squares on time and load, in closed form (a 2x2 solve)
        zc = covariate - covariate.mean()
        szz, sxz, szy = float(zc @ zc), float(xc @ zc), float(zc @ yc)
        det = sxx * szz - sxz * sxz
        if szz > 0 and det > 1e-9 * sxx * szz:  # a load that varies apart from time
            slope = (szz * sxy - sxz * szy) / det
            per_load = (sxx * szy - sxz * sxy) / det
            fitted, se_scale, params = slope * xc + per_load * zc, szz / det, 3
    residual = yc - fitted
    se = math.sqrt(float(residual @ residual) / (x.size - params) * se_scale)
    level = float(y.mean() + fitted[-1] + slope * (len(tail) - 1 - x[-1]))
    if slope - 2 * se <= 0 or _fell_back(y):
        return Trend(level, slope, math.inf)
    return Trend(level, slope, max(limit - level, 0.0) / slope)


def _fell_back(values: np.ndarray) -> bool:
    """Whether the metric fell back within the fit: a reset (a restart, a leak freed) after
    which the line through the whole fit no longer describes the running containers."""
    steps = np.diff(values)
    spread = robust_sd(steps.tolist())
    return bool(spread > 0 and steps.min() < -RESET_NOISE * spread)
