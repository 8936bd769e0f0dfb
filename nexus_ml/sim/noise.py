"""Deterministic noise: a pure function of (seed, module, minute).

Noise is drawn one UTC day at a time from a generator seeded with ``(seed, crc32(module),
day)``. A 28-day history and a live simulator asked about one minute therefore see the same
value, and adding a module to the catalog does not change the others.
"""

from __future__ import annotations

import zlib
from collections import OrderedDict

import numpy as np
import numpy.typing as npt
from scipy.signal import lfilter

FloatArray = npt.NDArray[np.float64]

MINUTES_PER_DAY = 1440
#: Rows of a noise block: which quantity each standard-normal channel perturbs.
CHANNELS = ("demand", "cpu", "latency", "network", "memory", "errors")
DEMAND, CPU, LATENCY, NETWORK, MEMORY, ERRORS = range(len(CHANNELS))
#: Minute-to-minute correlation of the demand noise (bursts last several minutes).
DEMAND_PHI = 0.9


def _module_key(module: str) -> int:
    return zlib.crc32(module.encode("utf-8"))


def day_blocks(seed: int, module: str, days: npt.NDArray[np.int64]) -> FloatArray:
    """Noise of ``module`` for UTC day numbers ``days``: shape (len(days), channels, 1440).

    Channel 0 is AR(1) with unit variance (correlated demand noise); the others are i.i.d.
    standard normal. The day's overall level comes from :func:`day_levels`.
    """
    key = _module_key(module)
    blocks = np.empty((len(days), len(CHANNELS), MINUTES_PER_DAY))
    for i, day in enumerate(days):
        rng = np.random.default_rng([seed, key, int(day)])
        blocks[i] = rng.standard_normal((len(CHANNELS), MINUTES_PER_DAY))
    # A stationary AR(1): x0 = e0, x_t = phi x_{t-1} + sqrt(1 - phi^2) e_t.
    gain = np.sqrt(1.0 - DEMAND_PHI**2)
    shocks = blocks[:, DEMAND, :] * gain
    shocks[:, 0] /= gain
    blocks[:, DEMAND, :] = lfilter([1.0], [1.0, -DEMAND_PHI], shocks, axis=1)
    return blocks


def day_levels(seed: int, module: str, days: npt.NDArray[np.int64]) -> FloatArray:
    """One standard-normal draw per (module, UTC day): the day's overall level."""
    key = _module_key(module)
    return np.array(
        [np.random.default_rng([seed, key, int(day), 1]).standard_normal() for day in days]
    )


def noise_at(seed: int, module: str, t: npt.NDArray[np.int64]) -> tuple[FloatArray, FloatArray]:
    """Noise channels (channels, len(t)) and day levels (len(t)) at epoch seconds ``t``."""
    minute = np.asarray(t, dtype=np.int64) // 60
    day = minute // MINUTES_PER_DAY
    unique_days, inverse = np.unique(day, return_inverse=True)
    blocks = day_blocks(seed, module, unique_days)
    levels = day_levels(seed, module, unique_days)
    of_day = minute % MINUTES_PER_DAY
    return blocks[inverse, :, of_day].T, levels[inverse]


class NoiseCache:
    """Noise for single instants (the live simulator), with the last few days kept."""

    def __init__(self, seed: int, max_days: int = 16) -> None:
        self.seed = seed
        self._max_days = max_days
        self._blocks: OrderedDict[tuple[str, int], tuple[FloatArray, float]] = OrderedDict()

    def at(self, module: str, t: int) -> tuple[FloatArray, float]:
        """Noise channels (channels,) and the day level at epoch second ``t``."""
        minute = int(t) // 60
        day = minute // MINUTES_PER_DAY
        key = (module, day)
        if key not in self._blocks:
            days = np.array([day], dtype=np.int64)
            block = day_blocks(self.seed, module, days)[0]
            level = float(day_levels(self.seed, module, days)[0])
            self._blocks[key] = (block, level)
            while len(self._blocks) > self._max_days:
                self._blocks.popitem(last=False)
        block, level = self._blocks[key]
        return block[:, minute % MINUTES_PER_DAY], level
