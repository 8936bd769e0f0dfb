"""How each simulated module behaves beyond what the catalog says.

The catalog holds operational facts (limits, capacity, replicas); the simulator also needs the
*shape* of each module's workload (how peaky, how much month-end rush) and its latency scale.
Unknown modules (a synthetic catalog, a module added later) get :data:`DEFAULT_TRAITS`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, kw_only=True)
class ModuleTraits:
    """Workload shape and latency scale of one module.

    Attributes
    ----------
    peak_fraction
        Typical weekday peak (mid-month) as a fraction of ``max_replicas × capacity ×
        target_utilisation``: below 1 leaves head-room for month-end and surges.
    night_level
        Demand at night relative to the weekday peak.
    saturday_level, sunday_level
        Business-hour activity on weekends relative to weekdays.
    lunch_dip
        Fractional dip around 12:30 local time.
    month_end_boost
        Demand multiplier on the last ``month_end_days`` days of the month.
    month_end_weekend_level
        Weekend activity during the month-end rush (closing work does not stop on Saturday).
    noise_sigma
        Standard deviation of the minute-to-minute multiplicative noise (log scale), for a
        module used by every client; fewer clients (``client_share``) means noisier demand.
    day_sigma
        Standard deviation of the day-to-day level (log scale).
    service_ms
        Mean response time at low load, in milliseconds.
    """

    peak_fraction: float = 0.55
    night_level: float = 0.07
    saturday_level: float = 0.30
    sunday_level: float = 0.12
    lunch_dip: float = 0.30
    month_end_boost: float = 1.25
    month_end_days: int = 3
    month_end_weekend_level: float = 0.6
    noise_sigma: float = 0.06
    day_sigma: float = 0.05
    service_ms: float = 120.0


DEFAULT_TRAITS = ModuleTraits()

#: The seed modules: CRM more than doubles at month end (invoicing, pipeline reviews).
BUNDLED_TRAITS: Mapping[str, ModuleTraits] = {
    "nexus-user-management": ModuleTraits(peak_fraction=0.55, month_end_boost=1.25, service_ms=60),
    "nexus-agendamento": ModuleTraits(peak_fraction=0.60, month_end_boost=1.15, service_ms=150),
    "nexus-crm": ModuleTraits(peak_fraction=0.33, month_end_boost=2.8, service_ms=250),
}


def traits_for(module: str, overrides: Mapping[str, ModuleTraits] | None = None) -> ModuleTraits:
    """The traits of ``module``: ``overrides`` first, then the bundled ones, then the default."""
    if overrides and module in overrides:
        return overrides[module]
    return BUNDLED_TRAITS.get(module, DEFAULT_TRAITS)
