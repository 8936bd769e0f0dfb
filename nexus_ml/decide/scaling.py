"""Replica arithmetic shared by the scaling strategy and the overload sizing (pure)."""

from __future__ import annotations

import math


def replicas_for(demand: float, capacity: float, target_utilisation: float) -> int:
    """Replicas that serve ``demand`` (requests/min) at ``target_utilisation``, one replica
    serving ``capacity`` requests/min at 100 %; 0 for no (or unknown) demand."""
    if not math.isfinite(demand) or demand <= 0:
        return 0
    return math.ceil(demand / (capacity * target_utilisation) - 1e-9)
