"""The risk model of the scaling strategy: how likely demand outgrows a capacity in the lead time.

A replica started now is ready after the start-up lead time L. Two questions decide a replica
count, and each has its own :class:`~nexus_ml.models.forecast.lead_time.LeadTimeQuantileForecaster`:

* holding (or shrinking to) k replicas caps the whole window of the next L + 1 minutes at k:
  :meth:`LeadTimeRisk.window_risk` is P(peak demand over the window > capacity);
* growing to k helps only from the minute the new replicas are ready:
  :meth:`LeadTimeRisk.ready_risk` is P(demand at that minute > capacity).

The model is online: the training pipeline fits it on a module's history, and the decision
service feeds it every observed minute since (:meth:`update`), so its state is a function of
the champion and the observations alone — every service replica that saw the same minutes
holds the same state.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Self

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.exceptions import NotFittedError

from nexus_ml.errors import InputError
from nexus_ml.models.forecast.lead_time import LeadTimeQuantileForecaster


class LeadTimeRisk(BaseEstimator):  # type: ignore[misc]
    """Exceedance probabilities of demand over a start-up lead time (scikit-learn contract).

    Parameters
    ----------
    lead_time : int
        L, steps until a started replica serves.
    level : float
        Quantile level of :meth:`predict_upper` (the provisioning bound shown to operators).
    season : int
        Steps per day for the seasonal part of the forecasters.
    calib_window : int
        Past errors the conformal quantiles are taken over.
    vol_window : int
        One-step changes that set the spread's scale.

    Notes
    -----
    ``calib_window`` and ``vol_window`` are chosen leave-one-trace-out on the Crane traces by
    the pinball loss at the quantiles the decision core reads (``bench/bench_lead_time.py``,
    ``docs/model-selection.md``); the defaults are the choice made with every trace.
    """

    def __init__(
        self,
        *,
        lead_time: int = 2,
        level: float = 0.95,
        season: int = 1440,
        calib_window: int = 1440,
        vol_window: int = 30,
    ) -> None:
        self.lead_time = lead_time
        self.level = level
        self.season = season
        self.calib_window = calib_window
        self.vol_window = vol_window

    def fit(self, y: Iterable[float] | pd.Series) -> Self:
        """Learn from a history, oldest first. A series with a DatetimeIndex also records the
        time of its last observation (``observed_until_``), where online updates resume."""
        if not 0 <= self.lead_time <= 1440:
            raise InputError(f"lead_time must be in [0, 1440], got {self.lead_time!r}")
        values = np.asarray(list(y) if not isinstance(y, pd.Series) else y.to_numpy(), float)
        self.observed_until_: datetime | None = None
        if isinstance(y, pd.Series) and isinstance(y.index, pd.DatetimeIndex) and len(y):
            self.observed_until_ = pd.Timestamp(y.index[-1]).to_pydatetime()
        self.window_model_ = self._forecaster(first_step=1).fit(values)
        self.ready_model_ = self._forecaster(first_step=self.lead_time + 1).fit(values)
        self.n_observed_ = int(values.size)
        return self

    def _forecaster(self, first_step: int) -> LeadTimeQuantileForecaster:
        return LeadTimeQuantileForecaster(
            lead_time=self.lead_time,
            level=self.level,
            season=self.season,
            calib_window=self.calib_window,
            vol_window=self.vol_window,
            first_step=first_step,
        )

    def _check_fitted(self) -> None:
        if not hasattr(self, "window_model_"):
            raise NotFittedError("LeadTimeRisk is not fitted; call fit first")

    def update(self, y_new: Iterable[float]) -> Self:
        """Append observations (NaN: carried forward) without refitting."""
        self._check_fitted()
        values = [float(v) for v in y_new]
        self.window_model_.update(values)
        self.ready_model_.update(values)
        self.n_observed_ += len(values)
        return self

    def window_risk(self, thresholds: np.ndarray) -> np.ndarray:
        """P(peak demand over the next L + 1 steps > each threshold)."""
        self._check_fitted()
        return self.window_model_.exceed_probabilities(np.asarray(thresholds, dtype=float))

    def ready_risk(self, thresholds: np.ndarray) -> np.ndarray:
        """P(demand at the step a replica started now is ready > each threshold)."""
        self._check_fitted()
        return self.ready_model_.exceed_probabilities(np.asarray(thresholds, dtype=float))

    def predict_upper(self) -> float:
        """Upper ``level`` quantile of the peak demand over the next L + 1 steps."""
        self._check_fitted()
        return self.window_model_.predict_upper()
