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


class _OnlineCalibrator:
    """The window of past outcomes and the refit schedule every online calibrator shares.

    A subclass says whether it holds a map (:attr:`_fitted`), how to fit one on the window
    (:meth:`_fit`) and how to apply it (:meth:`_map`).

    Parameters
    ----------
    min_samples : int
        Outcomes needed before the map is used.
    window : int
        Most recent outcomes the map is fitted on.
    refit_every : int
        Outcomes between two refits (fits are cheap, not free).
    """

    _least_samples = 1  # the smallest ``min_samples`` the map can be fitted on

    def __init__(
        self, *, min_samples: int = 100, window: int = 5000, refit_every: int = 25
    ) -> None:
        least = self._least_samples
        if min_samples < least or window < min_samples or refit_every < 1:
            raise InputError(
                f"need {least} <= min_samples <= window and refit_every >= 1, got "
                f"min_samples={min_samples}, window={window}, refit_every={refit_every}"
            )
        self.min_samples = min_samples
        self.refit_every = refit_every
        self._raw: deque[float] = deque(maxlen=window)
        self._outcome: deque[float] = deque(maxlen=window)
        self._since_fit = 0

    @property
    def _fitted(self) -> bool:
        raise NotImplementedError

    def _fit(self, raw: np.ndarray, outcome: np.ndarray) -> None:
        raise NotImplementedError

    def _map(self, raw: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def record(self, raw: float, outcome: bool) -> None:
        """Add the outcome of a past decision taken with raw probability ``raw``."""
        self._raw.append(float(raw))
        self._outcome.append(float(outcome))
        self._since_fit += 1
        if len(self._raw) >= self.min_samples and (
            not self._fitted or self._since_fit >= self.refit_every
        ):
            self._fit(np.asarray(self._raw), np.asarray(self._outcome))
            self._since_fit = 0

    def calibrate(self, raw: float) -> float:
        """The calibrated probability at raw probability ``raw`` (``raw`` until fitted)."""
        return float(self.calibrate_many(np.asarray([raw]))[0])

    def calibrate_many(self, raw: np.ndarray) -> np.ndarray:
        """:meth:`calibrate` of every element of ``raw``."""
        raw = np.asarray(raw, dtype=float)
        if not self._fitted or raw.size == 0:
            return raw.copy()
        return self._map(raw)


class OnlineIsotonicCalibrator(_OnlineCalibrator):
    """Maps raw probabilities to observed frequencies, refitted as outcomes arrive (see
    :class:`_OnlineCalibrator` for the parameters)."""

    def __init__(
        self, *, min_samples: int = 100, window: int = 5000, refit_every: int = 25
    ) -> None:
        super().__init__(min_samples=min_samples, window=window, refit_every=refit_every)
        self._iso: IsotonicRegression | None = None

    @property
    def _fitted(self) -> bool:
        return self._iso is not None

    def _fit(self, raw: np.ndarray, outcome: np.ndarray) -> None:
        self._iso = IsotonicRegression(y_min=0.0, y_max=1.0, out_of_bounds="clip")
        self._iso.fit(raw, outcome)

    def _map(self, raw: np.ndarray) -> np.ndarray:
        assert self._iso is not None
        return np.asarray(self._iso.predict(raw), dtype=float)


def _logit(p: np.ndarray) -> np.ndarray:
    p = np.clip(np.asarray(p, dtype=float), 1e-4, 1.0 - 1e-4)
    return np.log(p / (1.0 - p))


class OnlinePlattCalibrator(_OnlineCalibrator):
    """Maps raw probabilities through a logistic fit of past outcomes on their logit.

    ``P(outcome) = sigmoid(a · logit(raw) + b)``, two parameters fitted by maximum likelihood
    (Platt scaling, :func:`_fit_logistic`). It bends a whole range of raw probabilities at
    once, so it needs far fewer outcomes than an isotonic map to stop overfitting, and it keeps
    the order of the raw probabilities. Until ``min_samples`` outcomes are known (or while every
    outcome is the same) the raw probability is reported unchanged. Parameters: see
    :class:`_OnlineCalibrator`.
    """

    _least_samples = 2

    def __init__(
        self, *, min_samples: int = 100, window: int = 5000, refit_every: int = 25
    ) -> None:
        super().__init__(min_samples=min_samples, window=window, refit_every=refit_every)
        self.coef: tuple[float, float] | None = None  # (a, b) once fitted

    @property
    def _fitted(self) -> bool:
        return self.coef is not None

    def _fit(self, raw: np.ndarray, outcome: np.ndarray) -> None:
        self.coef = _fit_logistic(_logit(raw), outcome)

    def _map(self, raw: np.ndarray) -> np.ndarray:
        assert self.coef is not None
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
