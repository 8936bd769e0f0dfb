"""Calibrated probabilities from a forecast interval (pure, no I/O).

A forecaster that reports a central ``level`` % interval ``[lo, hi]`` around its mean implies,
under a normal approximation, a per-step standard deviation of ``(hi - lo) / (2 z)``. With a
calibrated interval, the probabilities below are calibrated too.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from statistics import NormalDist

_NORMAL = NormalDist()


def z_for_level(level: float) -> float:
    """The standard-normal quantile of a central ``level`` % interval (1.2816 for 80)."""
    if not 0 < level < 100:
        raise ValueError(f"level must be in (0, 100), got {level!r}")
    return _NORMAL.inv_cdf(0.5 + level / 200.0)


def upper_tail(z: float) -> float:
    """P(Z > z) for a standard normal Z."""
    return 0.5 * math.erfc(z / math.sqrt(2.0))


def exceed_probability(
    mean: Sequence[float],
    lo: Sequence[float],
    hi: Sequence[float],
    threshold: float,
    *,
    level: float = 80.0,
) -> float:
    """P(demand exceeds ``threshold`` at some step of the horizon).

    Each step is normal with the forecast mean and the spread implied by its interval. Forecast
    errors of neighbouring steps move together (a level shift moves them all), so the steps are
    taken as comonotone: the maximum exceeds the threshold exactly when the most likely step
    does, which gives ``max_i P_i``. Independence would overstate the probability for long
    horizons.

    Parameters
    ----------
    mean, lo, hi
        Point forecast and interval bounds, one value per step (same length, at least one).
    threshold
        The demand the current capacity can carry.
    level
        The interval's coverage in percent.

    Returns
    -------
    float
        A probability in [0, 1]; 0.5 when the horizon is empty (no information).
    """
    if not len(mean) == len(lo) == len(hi):
        raise ValueError(
            f"mean, lo and hi must have the same length, got {len(mean)}, {len(lo)}, {len(hi)}"
        )
    if not mean:
        return 0.5
    z = z_for_level(level)
    best = 0.0
    for m, low, high in zip(mean, lo, hi, strict=True):
        if not (math.isfinite(m) and math.isfinite(low) and math.isfinite(high)):
            continue
        sigma = max(high - low, 0.0) / (2.0 * z)
        if sigma <= 1e-12:
            p = 1.0 if m > threshold else 0.0
        else:
            p = upper_tail((threshold - m) / sigma)
        best = max(best, p)
    return min(max(best, 0.0), 1.0)
