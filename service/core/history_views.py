"""What the page reads from the history: forecast quality and the packed wire format."""

from __future__ import annotations

import itertools
from bisect import bisect_right
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from service.core.history import Point


def forecast_quality(points: Sequence[Point], hours: float = 24.0) -> dict[str, float | int | None]:
    """80 % band coverage and MAPE (percent) of the points of the last ``hours`` with a band."""
    if not points:
        return {"coverage": None, "mape": None, "n": 0}
    since = points[-1].t - hours * 3600
    start = bisect_right(points, since, key=lambda p: p.t)
    n = inside = errors_n = 0
    errors = 0.0
    for _, actual, mean, lo, hi, *_rest in points[start:]:  # one pass: a day is 1,440 rows
        if actual is None or mean is None or lo is None or hi is None:
            continue
        n += 1
        inside += lo <= actual <= hi
        if actual:
            errors += abs(actual - mean) / abs(actual)
            errors_n += 1
    return {
        "coverage": round(inside / n, 4) if n else None,
        "mape": round(100 * errors / errors_n, 2) if errors_n else None,
        "n": n,
    }


def packed(module: dict[str, Any]) -> dict[str, Any]:
    """``module_state`` for the wire: times as a start and steps, no capacity column.

    A day of 30 modules is the page's first download; a minute's timestamp as a step of
    ``60`` instead of ten digits, and capacity as replicas × ``per_replica`` on the page,
    make it about a quarter smaller, which is time to first render.
    """
    series = dict(module["series"])
    times = series.pop("t")
    series.pop("capacity")
    series["t0"] = times[0] if times else None
    series["dt"] = [b - a for a, b in itertools.pairwise(times)]
    return {**module, "series": series}
