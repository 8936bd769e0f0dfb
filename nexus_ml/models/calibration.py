"""Online recalibration of decision confidences (isotonic regression on past outcomes).

A model's raw probability can be biased exactly where decisions are taken (a scale-up follows
a spike, and spikes revert), so the confidence we report is the raw probability mapped through
an isotonic fit of the outcomes of past decisions. Until enough outcomes are known the raw
probability is reported unchanged.
"""

from __future__ import annotations

from collections import deque

import numpy as np
from sklearn.isotonic import IsotonicRegression

from nexus_ml.errors import InputError


class OnlineIsotonicCalibrator:
    """Maps raw probabilities to observed frequencies, refitted as outcomes arrive.

    Parameters
    ----------
    min_samples : int
        Outcomes needed before the map is used.
    window : int
        Most recent outcomes the map is fitted on.
    refit_every : int
        Outcomes between two refits (isotonic fits are cheap, not free).
    """

    def __init__(
        self, *, min_samples: int = 100, window: int = 5000, refit_every: int = 25
    ) -> None:
        if min_samples < 1 or window < min_samples or refit_every < 1:
            raise InputError(
                "need 1 <= min_samples <= window and refit_every >= 1, got "
                f"min_samples={min_samples}, window={window}, refit_every={refit_every}"
            )
        self.min_samples = min_samples
        self.refit_every = refit_every
        self._raw: deque[float] = deque(maxlen=window)
        self._outcome: deque[float] = deque(maxlen=window)
        self._since_fit = 0
        self._iso: IsotonicRegression | None = None

    def record(self, raw: float, outcome: bool) -> None:
        """Add the outcome of a past decision taken with raw probability ``raw``."""
        self._raw.append(float(raw))
        self._outcome.append(float(outcome))
        self._since_fit += 1
        if len(self._raw) >= self.min_samples and (
            self._iso is None or self._since_fit >= self.refit_every
        ):
            self._iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
            self._iso.fit(np.asarray(self._raw), np.asarray(self._outcome))
            self._since_fit = 0

    def calibrate(self, raw: float) -> float:
        """The observed frequency of outcomes at raw probability ``raw`` (``raw`` until fitted)."""
        return float(self.calibrate_many(np.asarray([raw]))[0])

    def calibrate_many(self, raw: np.ndarray) -> np.ndarray:
        """:meth:`calibrate` of every element of ``raw``."""
        raw = np.asarray(raw, dtype=float)
        if self._iso is None or raw.size == 0:
            return raw.copy()
        return np.asarray(self._iso.predict(raw), dtype=float)
