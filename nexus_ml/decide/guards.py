"""Guards that limit a raw scaling recommendation (pure, no I/O).

Each guard returns the target it allows and, when it changed something, a one-line note that
ends up in the decision's evidence: operators must see which guard held the policy back.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from nexus_ml.catalog import ModuleProfile


@dataclass(frozen=True)
class Freshness:
    """How usable the newest observations are.

    ``missing`` is true when the recent demand values are mostly NaN; ``stale`` when the newest
    observation is older than the limit (or there is none).
    """

    age_s: float | None
    stale: bool
    missing: bool

    @property
    def usable(self) -> bool:
        return not (self.stale or self.missing)


@dataclass(frozen=True)
class Guarded:
    target: int
    note: str | None = None


def assess_freshness(
    last_observed: datetime | None,
    now: datetime,
    recent_values: Sequence[float],
    *,
    max_age_s: float,
    max_missing_fraction: float = 0.5,
) -> Freshness:
    """Staleness of the newest timestamp and completeness of the recent values."""
    age = None if last_observed is None else max((now - last_observed).total_seconds(), 0.0)
    stale = age is None or age > max_age_s
    finite = sum(1 for v in recent_values if math.isfinite(v))
    missing = not recent_values or finite / len(recent_values) < 1.0 - max_missing_fraction
    last_missing = bool(recent_values) and not math.isfinite(recent_values[-1])
    return Freshness(age_s=age, stale=stale, missing=missing or last_missing)


def hold_on_bad_data(
    target: int, current: int, freshness: Freshness, profile: ModuleProfile
) -> Guarded:
    """Keep the current replicas when the data is stale or missing.

    Never scale down on missing data: an exporter outage looks like zero load. The only change
    allowed is back into the catalog's [min, max].
    """
    if freshness.usable:
        return Guarded(target)
    held = profile.clamp(current)
    if held == target:
        return Guarded(target)
    why = "stale" if freshness.stale else "missing"
    age = "" if freshness.age_s is None else f", newest {freshness.age_s:.0f} s old"
    return Guarded(held, f"{why} metrics{age}: hold at {held} instead of {target}")


def apply_cooldown(
    target: int,
    current: int,
    seconds_since_change: float | None,
    *,
    scale_down_cooldown_s: float,
    scale_up_cooldown_s: float = 0.0,
) -> Guarded:
    """Refuse a change that comes too soon after the last one it waits on.

    ``seconds_since_change`` counts from the change the cooldown waits on: for a scale-down, the
    policy passes the last change that added or replaced replicas.

    Scale-ups are cheap to undo and late ones cost users, so their cooldown is short (zero by
    default); scale-downs wait longer so that a brief dip does not make the replicas flap.
    """
    if seconds_since_change is None or target == current:
        return Guarded(target)
    cooldown = scale_down_cooldown_s if target < current else scale_up_cooldown_s
    if seconds_since_change >= cooldown:
        return Guarded(target)
    wait = cooldown - seconds_since_change
    direction = "scale-down" if target < current else "scale-up"
    return Guarded(current, f"cooldown: {direction} to {target} waits {wait:.0f} s more")


def clamp_to_profile(target: int, profile: ModuleProfile) -> Guarded:
    """The catalog's [min, max] replicas, whatever the policy says."""
    clamped = profile.clamp(target)
    if clamped == target:
        return Guarded(target)
    bound = "max" if target > profile.max_replicas else "min"
    return Guarded(clamped, f"clamped to catalog {bound} {clamped} (raw {target})")
