"""Turn a posted window into the policy's :class:`~nexus_ml.decide.window.MetricWindow`."""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from itertools import pairwise

from nexus_ml.decide.window import MetricWindow
from nexus_ml.domain.metrics import METRIC_FIELDS
from nexus_ml.engine import DecisionEngine
from nexus_ml.errors import InputError
from service.api.schemas import MetricRow, WindowRequest

EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(2200, 1, 1, tzinfo=UTC)


def window_from_rows(module: str, rows: Sequence[MetricRow], now: datetime) -> MetricWindow:
    """The rows as a window; rows without timestamps are the minutes that end now.

    Raises
    ------
    InputError
        When only some rows carry a timestamp, or two rows share one.
    """
    stamped = [r.timestamp is not None for r in rows]
    if any(stamped) and not all(stamped):
        raise InputError(f"window: {stamped.count(False)} of {len(rows)} rows have no timestamp")
    if all(stamped):
        stamps = [_utc(r.timestamp) for r in rows if r.timestamp is not None]
        for ts in stamps:
            if not EARLIEST <= ts <= LATEST:  # beyond what the models' clocks can represent
                raise InputError(f"window: timestamp {ts.isoformat()} outside 1970..2200")
        order = sorted(range(len(rows)), key=lambda i: stamps[i])
        rows = [rows[i] for i in order]
        stamps = [stamps[i] for i in order]
        for a, b in pairwise(stamps):
            if a == b:
                raise InputError(f"window: two rows at {a.isoformat()}")
    else:
        end = now.replace(second=0, microsecond=0)
        stamps = [end - timedelta(minutes=len(rows) - 1 - i) for i in range(len(rows))]
    values = {name: [_num(getattr(r, name)) for r in rows] for name in METRIC_FIELDS}
    replicas = [_num(r.replicas) for r in rows]
    return MetricWindow(module=module, timestamps=tuple(stamps), values=values, replicas=replicas)


def resolve_window(
    engine: DecisionEngine, body: WindowRequest, max_rows: int
) -> tuple[str, MetricWindow]:
    """The module's full name and its window (posted, or read from the metric source)."""
    name = engine.catalog.get(body.module).name
    if body.window is None:
        return name, engine.read_windows([name])[name]
    if len(body.window) > max_rows:
        raise InputError(f"window: {len(body.window)} rows, at most {max_rows} allowed")
    return name, window_from_rows(name, body.window, engine.clock())


def _num(value: float | None) -> float:
    return math.nan if value is None else float(value)


def _utc(ts: datetime) -> datetime:
    return ts.replace(tzinfo=UTC) if ts.tzinfo is None else ts.astimezone(UTC)
