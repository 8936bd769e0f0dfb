"""An online ridge regression of a future quantity on the latest observations."""

from __future__ import annotations

import numpy as np

from nexus_ml.models.forecast.growable import GrowableArray


class LagRegression:
    """Ridge regression of a target on the last ``lags`` observations, refitted periodically.

    Features of origin i are the last ``lags`` values minus a reference level (the model's
    robust level) plus an intercept; the target is a future quantity minus that same level
    (for the lead-time forecaster: the peak of the window). It is refitted every ``refit``
    targets on the latest ``window`` origins whose target is known, so it learns each series'
    short-term memory (persistence, mean reversion, alternation) online.
    """

    def __init__(self, *, lags: int, window: int, refit: int) -> None:
        self.lags, self.window, self.refit = lags, window, refit
        self._rows = GrowableArray(lags + 1)
        self._targets = GrowableArray()
        self.beta: np.ndarray | None = None

    def add_origin(self, recent: np.ndarray, level: float) -> float:
        """Record the features of a new origin (``recent``: oldest first) and predict it."""
        lagged = recent[::-1][: self.lags] - level
        row = np.empty(self.lags + 1)
        row[: lagged.size] = lagged
        row[lagged.size : self.lags] = lagged[-1] if lagged.size else 0.0  # short history
        row[self.lags] = 1.0
        self._rows.append(row)
        return level + (float(row @ self.beta) if self.beta is not None else 0.0)

    def close(self, target_above_level: float) -> None:
        """Record the target of the oldest origin without one; refit when due."""
        self._targets.append(target_above_level)
        known = len(self._targets)
        if known % self.refit == 0 and known >= 10 * (self.lags + 1):
            lo = max(0, known - self.window)
            x, t = self._rows.view(lo, known), self._targets.view(lo, known)
            gram = x.T @ x
            # A light ridge, relative to the features' scale, keeps the solve stable on flat
            # stretches; the intercept is not shrunk.
            ridge = 1e-3 * float(np.mean(np.diag(gram)[:-1])) + 1e-12
            gram[np.arange(self.lags), np.arange(self.lags)] += ridge
            self.beta = np.linalg.solve(gram, x.T @ t)
