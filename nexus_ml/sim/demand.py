"""Demand of one module in requests per minute: business hours, weekends, month end, noise.

The deterministic shape lives in local time (America/Sao_Paulo): a weekday business-hours
plateau with a lunch dip, weaker weekends, and a month-end rush. It is scaled so that the
typical weekday peak needs ``peak_fraction`` of the module's maximum capacity at its target
utilisation, then perturbed by a day level and correlated minute noise.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt
from scipy.special import expit

from nexus_ml.catalog import ModuleProfile
from nexus_ml.features.calendar import LocalCalendar
from nexus_ml.sim.noise import DEMAND
from nexus_ml.sim.traits import ModuleTraits

FloatArray = npt.NDArray[np.float64]


def peak_rpm(profile: ModuleProfile, traits: ModuleTraits) -> float:
    """The typical weekday mid-month peak, in requests per minute."""
    full = profile.max_replicas * profile.capacity_rpm_per_replica * profile.target_utilisation
    return traits.peak_fraction * full


def daily_shape(hour: FloatArray, lunch_dip: float) -> FloatArray:
    """Business-hours activity in [0, 1] by local hour: up from 08:00, down after 18:00."""
    rise = expit((hour - 8.0) / 0.45)
    fall = expit((18.3 - hour) / 0.55)
    lunch = 1.0 - lunch_dip * np.exp(-0.5 * ((hour - 12.6) / 0.55) ** 2)
    return np.asarray(rise * fall * lunch, dtype=np.float64)


def month_end_factor(cal: LocalCalendar, traits: ModuleTraits) -> FloatArray:
    """``month_end_boost`` on the last days of the month, half of it the day before."""
    left = cal.days_to_month_end
    boost = traits.month_end_boost - 1.0
    factor = np.ones(len(left))
    factor[left < traits.month_end_days] += boost
    factor[left == traits.month_end_days] += boost / 2.0
    return factor


def activity(cal: LocalCalendar, traits: ModuleTraits) -> FloatArray:
    """Deterministic demand relative to the typical weekday peak (no noise)."""
    level = np.where(
        cal.weekday == 5,
        traits.saturday_level,
        np.where(cal.weekday == 6, traits.sunday_level, 1.0),
    )
    in_rush = cal.days_to_month_end < traits.month_end_days
    level = np.where(in_rush, np.maximum(level, traits.month_end_weekend_level), level)
    day = traits.night_level + (1.0 - traits.night_level) * level * daily_shape(
        cal.hour, traits.lunch_dip
    )
    return np.asarray(day * month_end_factor(cal, traits), dtype=np.float64)


def demand_rpm(
    profile: ModuleProfile,
    traits: ModuleTraits,
    cal: LocalCalendar,
    noise: FloatArray,
    day_level: FloatArray,
) -> FloatArray:
    """Requests per minute of ``profile`` at the instants of ``cal``.

    Parameters
    ----------
    profile, traits
        The module's catalog entry and workload shape.
    cal
        Local calendar features of the time axis.
    noise
        Noise channels, shape (channels, n) (see :mod:`nexus_ml.sim.noise`).
    day_level
        Standard-normal day level, shape (n,).

    Returns
    -------
    numpy.ndarray
        Demand in requests per minute, ≥ 0.
    """
    # Fewer clients → fewer independent users → relatively noisier demand.
    sigma = traits.noise_sigma / np.sqrt(profile.client_share)
    minute_noise = np.exp(sigma * noise[DEMAND] - sigma**2 / 2.0)
    day_noise = np.exp(traits.day_sigma * day_level - traits.day_sigma**2 / 2.0)
    base = peak_rpm(profile, traits) * activity(cal, traits)
    return np.asarray(base * minute_noise * day_noise, dtype=np.float64)
