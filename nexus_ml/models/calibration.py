"""Online recalibration of decision confidences on the outcomes of past decisions.

A model's raw probability can be biased exactly where decisions are taken (a scale-up follows
a spike, and spikes revert), so a confidence can be the raw probability mapped through a fit of
the outcomes of past decisions: :class:`OnlineIsotonicCalibrator` (a monotone step map, many
outcomes needed) or :class:`OnlinePlattCalibrator` (a two-parameter logistic map of the logit,
Platt scaling). Until enough outcomes are known the raw probability is reported unchanged.
"""

from __future__ import annotations

from collections import deque

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit
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


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), 1e-4, 1.0 - 1e-4)
    return np.log(p / (1.0 - p))


class OnlinePlattCalibrator:
    """Maps raw probabilities through a logistic fit of past outcomes on their logit.

    ``P(outcome) = sigmoid(a · logit(raw) + b)``, two parameters fitted by Newton's method
    (Platt scaling). It bends a whole range of raw probabilities at once, so it needs far fewer
    outcomes than an isotonic map to stop overfitting, and it keeps the order of the raw
    probabilities. Until ``min_samples`` outcomes are known (or while every outcome is the same)
    the raw probability is reported unchanged.

    Parameters
    ----------
    min_samples : int
        Outcomes needed before the map is used.
    window : int
        Most recent outcomes the map is fitted on.
    refit_every : int
        Outcomes between two refits.
    """

    def __init__(
        self, *, min_samples: int = 100, window: int = 5000, refit_every: int = 25
    ) -> None:
        if min_samples < 2 or window < min_samples or refit_every < 1:
            raise InputError(
                "need 2 <= min_samples <= window and refit_every >= 1, got "
                f"min_samples={min_samples}, window={window}, refit_every={refit_every}"
            )
        self.min_samples = min_samples
        self.refit_every = refit_every
        self._raw: deque[float] = deque(maxlen=window)
        self._outcome: deque[float] = deque(maxlen=window)
        self._since_fit = 0
        self.coef: tuple[float, float] | None = None  # (a, b) once fitted

    def record(self, raw: float, outcome: bool) -> None:
        """Add the outcome of a past decision taken with raw probability ``raw``."""
        self._raw.append(float(raw))
        self._outcome.append(float(outcome))
        self._since_fit += 1
        if len(self._raw) >= self.min_samples and (
            self.coef is None or self._since_fit >= self.refit_every
        ):
            self.coef = _fit_logistic(_logit(np.asarray(self._raw)), np.asarray(self._outcome))
            self._since_fit = 0

    def calibrate(self, raw: float) -> float:
        """The fitted probability of an outcome at raw probability ``raw``."""
        return float(self.calibrate_many(np.asarray([raw]))[0])

    def calibrate_many(self, raw: np.ndarray) -> np.ndarray:
        """:meth:`calibrate` of every element of ``raw``."""
        raw = np.asarray(raw, dtype=float)
        if self.coef is None or raw.size == 0:
            return raw.copy()
        a, b = self.coef
        return np.asarray(expit(a * _logit(raw) + b), dtype=float)


def _fit_logistic(x: np.ndarray, y: np.ndarray) -> tuple[float, float] | None:
    """Maximum-likelihood (a, b) of ``sigmoid(a·x + b)`` for 0/1 outcomes ``y``.

    Platt's target smoothing (``(n₊ + 1)/(n₊ + 2)`` and ``1/(n₋ + 2)`` instead of 1 and 0) keeps
    the fit finite when the outcomes separate perfectly; the slope is kept positive (a map that
    reverses the order of raw probabilities is a broken model, not a calibration). Solved with
    L-BFGS-B on the log-likelihood written with ``logaddexp`` (no overflow). None when every
    outcome is the same.
    """
    positives = float(y.sum())
    if positives == 0.0 or positives == y.size:
        return None
    t = np.where(y > 0.5, (positives + 1) / (positives + 2), 1 / (y.size - positives + 2))

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        z = theta[0] * x + theta[1]
        # -[t log σ(z) + (1 - t) log(1 - σ(z))] = logaddexp(0, z) - t z
        value = float(np.sum(np.logaddexp(0.0, z) - t * z))
        residual = expit(z) - t
        return value, np.array([float(residual @ x), float(residual.sum())])

    result = minimize(
        loss,
        np.array([1.0, 0.0]),
        jac=True,
        method="L-BFGS-B",
        bounds=[(1e-3, 20.0), (-20.0, 20.0)],
    )
    return float(result.x[0]), float(result.x[1])
