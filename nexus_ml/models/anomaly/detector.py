"""Causal, online anomaly scores for metric frames (one column per metric).

How a score is made, for every row ``t`` and using rows up to ``t`` only:

1. Each metric is standardised with the median and a robust scale learned at ``fit``.
2. Views per metric: the **robust z** — distance of the value from the median of the last
   ``robust_window`` rows in units of their MAD (never below the fit scale) — and, per window
   length ``m``, the **shape distance**: how far the last ``m`` values are from their nearest
   earlier window of the same length (a shape never seen before is far from all of them).
   Optionally (``n_estimators > 0``) an IsolationForest over all metrics adds a multivariate view.
3. Each view is **calibrated** by its own past (:mod:`~nexus_ml.models.anomaly.calibration`):
   divided by a high quantile of its earlier values, so that 1 means "as surprising as the most
   surprising normal rows" whatever the series' noise. The robust z is compared with at least
   ``robust_floor`` (a calm series is judged against that z).
4. Per metric, the ratio is the larger of the robust view and the shape views, where shape views
   count through the mean of their two largest ratios (two lengths must agree: one length alone
   is often surprised by noise on short histories). The combined ratio is the largest over
   metrics. Scores are ``1 − exp(−ratio/2)``, in [0, 1).
5. **One alarm per event**: after the combined ratio reaches ``alarm_ratio`` the combined
   ratio is capped at 1 for ``quiet_fraction`` of the fit rows (only the earliest detection of
   an event is useful; repeats are false alarms), unless a ratio ``escalation`` times larger
   comes. Capped, not zeroed: a repeat reads as "no more surprising than the most surprising
   normal rows" — never a new alarm, but the graded activity stays visible to a low threshold
   (the hourly Microsoft series' short, dense events are found there).

The quiet period is fixed by a published convention, not tuned: a fifth of the fit rows, the
rest period of NAB's CAD OSE detector (``probationaryPeriod / 5``), so at most 150 rows (NAB's
probationary period is at most 750 rows). The views and the robust
floor are chosen by leave-one-category-out cross-validation on NAB and leave-one-domain-out on
the Microsoft cloud-monitoring series, never scoring a series with a setting chosen on it
(``docs/model-selection.md``, ``bench/bench_anomaly.py``).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.ensemble import IsolationForest
from sklearn.exceptions import NotFittedError

from nexus_ml.errors import InputError
from nexus_ml.models.anomaly.calibration import Calibration
from nexus_ml.models.anomaly.features import (
    FloatArray,
    forest_inputs,
    isolation_scores,
    left_nn_distance,
    mean_of_top_two,
    robust_location_scale,
    suppress_alarms,
)
from nexus_ml.models.anomaly.params import HyperParameterError, validate_params
from nexus_ml.models.anomaly.robust import trailing_robust_z

__all__ = ["AnomalyDetector", "HyperParameterError"]

_ROLL = 10  # rows behind the IsolationForest's local mean and spread
# The robust view's local scale never drops below the scale learned at fit (1 in standardised
# units): on a flat stretch a small wiggle is not an anomaly.
_MIN_LOCAL_SCALE = 1.0
# A shape within a tenth of the fit scale (RMS per row) of an earlier one is not novel, however
# small the earlier distances were (noise-free periodic series repeat exactly).
_MIN_SHAPE_DISTANCE = 0.1
# The multivariate view's level never drops below this IsolationForest score.
_MIN_FOREST_SCORE = 0.5
# A view needs this many earlier values before its calibration means anything.
_MIN_CALIBRATION_ROWS = 20
# Inside a quiet period the combined ratio is capped at the calibration unit (1 = as surprising
# as the most surprising normal rows): a repeat of a known event is not news, yet not erased.
_QUIET_CEILING = 1.0


@dataclass
class _Stream:
    """Everything the detector remembers between calls (copied by ``score``)."""

    z: FloatArray  # last rows of standardised values, (rows, fields)
    last_raw: FloatArray  # last finite raw value per field, for gaps
    views: FloatArray  # last rows of the raw views, (rows, views)
    n_seen: int
    last_alarm: tuple[int, float]  # row and ratio of the last alarm
    level: tuple[int, FloatArray] | None = None  # calibration block start and its level


class AnomalyDetector(BaseEstimator):  # type: ignore[misc]
    """Causal anomaly scores in [0, 1] per metric and combined; online updates.

    Parameters
    ----------
    fields : sequence of str, optional
        Metric columns to score; default every numeric column of the ``fit`` frame.
    window_lengths : sequence of int
        Lengths of the value windows compared with their nearest earlier neighbour (the shape
        views); empty for the robust view alone.
    history : int
        How many earlier rows are searched for neighbours.
    robust_window : int
        Rows of the trailing median and MAD of the robust view.
    robust_floor : float
        The robust z is compared with at least this z (> 0).
    calibration_quantile : float
        Each view is divided by this quantile of its own earlier values (in (0, 1)).
    max_reference : int
        Earlier rows the calibration quantile is taken over (bounds memory for endless streams).
    alarm_ratio : float
        Combined ratio that raises an alarm and starts a quiet period (> 1; chosen by the
        cross-validation among 1.25, 1.5 and 2).
    quiet_fraction : float
        Quiet period after an alarm, as a fraction of the fit rows (default a fifth, the rest
        period of NAB's CAD OSE detector); the combined ratio is capped at 1 during it.
    max_quiet_rows : int
        The longest quiet period, in rows (default 150: CAD OSE's rest period is a fifth of
        NAB's probationary period, which NAB caps at 750 rows). A detector fitted on days of
        minutes (the decision service's) would otherwise stay quiet for more than a day after
        one alarm; NAB runs, fitted on the probationary rows, never reach the cap.
    escalation : float
        A ratio this many times the last alarm's raises a new alarm even in a quiet period.
    n_estimators : int
        Trees of the multivariate IsolationForest view (0: no such view).
    random_state : int
        Seed of the IsolationForest.
    """

    def __init__(
        self,
        *,
        fields: Sequence[str] | None = None,
        window_lengths: Sequence[int] = (4, 16, 64),
        history: int = 6000,
        robust_window: int = 100,
        robust_floor: float = 4.0,
        calibration_quantile: float = 0.98,
        max_reference: int = 10_000,
        alarm_ratio: float = 1.25,
        quiet_fraction: float = 0.2,
        max_quiet_rows: int = 150,
        escalation: float = 10.0,
        n_estimators: int = 0,
        random_state: int = 0,
    ) -> None:
        self.fields = fields
        self.window_lengths = window_lengths
        self.history = history
        self.robust_window = robust_window
        self.robust_floor = robust_floor
        self.calibration_quantile = calibration_quantile
        self.max_reference = max_reference
        self.alarm_ratio = alarm_ratio
        self.quiet_fraction = quiet_fraction
        self.max_quiet_rows = max_quiet_rows
        self.escalation = escalation
        self.n_estimators = n_estimators
        self.random_state = random_state

    @property
    def quiet_rows_(self) -> int:
        """Rows of the quiet period after an alarm (see ``quiet_fraction``)."""
        cap = getattr(self, "max_quiet_rows", 150)  # a model saved before the cap existed
        return min(int(self.quiet_fraction * self.n_fit_), int(cap))

    # ------------------------------------------------------------------ public API
    def fit(self, frame: pd.DataFrame) -> AnomalyDetector:
        """Learn scales (and the optional IsolationForest) and prime the online state.

        Parameters
        ----------
        frame : pandas.DataFrame
            Rows in time order (a ``DatetimeIndex`` in UTC) × numeric metric columns.

        Returns
        -------
        AnomalyDetector
            ``self``.
        """
        validate_params(self)
        fields = self._select_fields(frame)
        raw = self._values(frame, fields)
        if len(raw) < 2:
            raise InputError(f"fit needs at least 2 rows, got {len(raw)}")
        stats = np.array([robust_location_scale(raw[:, j]) for j in range(len(fields))])
        self.fields_ = list(fields)
        self.location_ = stats[:, 0]
        self.scale_ = stats[:, 1]
        self.n_fit_ = len(raw)
        start = np.where(np.isfinite(raw[0]), raw[0], self.location_)
        empty = _Stream(
            z=np.empty((0, len(fields))),
            last_raw=start,
            views=np.empty((0, self._n_views)),
            n_seen=0,
            last_alarm=(-(10**12), np.inf),
        )
        self.forest_: IsolationForest | None = None
        if self.n_estimators > 0:
            z = self._standardise(raw, empty)
            self.forest_ = IsolationForest(
                n_estimators=self.n_estimators, random_state=self.random_state
            ).fit(forest_inputs(z, 0, _ROLL))
        _, _, self.state_ = self._advance(raw, empty)
        return self

    def score(self, frame: pd.DataFrame) -> pd.DataFrame:
        """Score rows that follow the fitted ones, without changing the fitted state.

        Returns
        -------
        pandas.DataFrame
            ``index = frame.index``; one column per field and ``combined``, all in [0, 1].
            The score at a row uses the fitted state and the rows of ``frame`` up to it.
        """
        state = self._fitted_state()
        field_scores, combined, _ = self._advance(
            self._values(frame, self.fields_), copy.deepcopy(state)
        )
        return self._frame(frame.index, field_scores, combined)

    def update(self, frame_new: pd.DataFrame) -> pd.DataFrame:
        """Score new rows and absorb them into the state (online use, no refit).

        Returns
        -------
        pandas.DataFrame
            The same scores :meth:`score` gives for these rows before the update.
        """
        state = self._fitted_state()
        field_scores, combined, self.state_ = self._advance(
            self._values(frame_new, self.fields_), state
        )
        return self._frame(frame_new.index, field_scores, combined)

    # ------------------------------------------------------------------ the stream
    @property
    def _views_per_field(self) -> int:
        return 1 + len(self.window_lengths)

    @property
    def _n_views(self) -> int:
        n_fields = len(self.fields_) if hasattr(self, "fields_") else 0
        return n_fields * self._views_per_field + (1 if self.n_estimators > 0 else 0)

    def _view_floors(self, n_fields: int) -> FloatArray:
        per_field = [float(self.robust_floor)] + [_MIN_SHAPE_DISTANCE] * len(self.window_lengths)
        floors = per_field * n_fields + ([_MIN_FOREST_SCORE] if self.n_estimators > 0 else [])
        return np.asarray(floors, dtype=np.float64)

    def _advance(self, raw: FloatArray, state: _Stream) -> tuple[FloatArray, FloatArray, _Stream]:
        n_new, n_fields = raw.shape
        if n_new == 0:
            return np.empty((0, n_fields)), np.empty(0), state
        z_new = self._standardise(raw, state)
        z_all = np.vstack([state.z, z_new])
        start = len(state.z)
        columns = []
        robust = trailing_robust_z(z_all, start, self.robust_window, _MIN_LOCAL_SCALE)
        for j in range(n_fields):
            columns.append(robust[:, j])
            for m in self.window_lengths:
                columns.append(left_nn_distance(z_all[:, j], int(m), self.history, start))
        if self.forest_ is not None:
            columns.append(-isolation_scores(self.forest_, forest_inputs(z_all, start, _ROLL)))
        views = np.vstack([state.views, np.column_stack(columns)])
        calibration = Calibration(
            span=self.max_reference,
            quantile=self.calibration_quantile,
            floors=self._view_floors(n_fields),
            min_rows=_MIN_CALIBRATION_ROWS,
        )
        ratios, level = calibration.ratios(
            views, n_new, first_row=state.n_seen - len(state.views), cached=state.level
        )

        k = self._views_per_field
        field_ratio = np.empty((n_new, n_fields))
        for j in range(n_fields):
            own = ratios[:, j * k : (j + 1) * k]
            shape = mean_of_top_two(own[:, 1:]) if k > 1 else np.zeros(n_new)
            field_ratio[:, j] = np.maximum(own[:, 0], shape)
        combined_ratio = field_ratio.max(axis=1)
        if self.forest_ is not None:
            combined_ratio = np.maximum(combined_ratio, ratios[:, -1])

        positions = np.arange(state.n_seen, state.n_seen + n_new, dtype=np.int64)
        live = positions >= self.n_fit_
        suppressed, last_alarm = suppress_alarms(
            combined_ratio[live],
            positions[live],
            level=self.alarm_ratio,
            quiet_rows=self.quiet_rows_,
            quiet_growth=0.0,
            escalation=self.escalation,
            last_alarm=state.last_alarm,
            ceiling=_QUIET_CEILING,
        )
        combined_ratio[live] = suppressed
        combined_ratio[~live] = 0.0

        new_state = _Stream(
            z=z_all[-self._keep_values :],
            last_raw=self._last_raw(raw, state.last_raw),
            views=views[-calibration.memory :],
            n_seen=state.n_seen + n_new,
            last_alarm=last_alarm,
            level=level,
        )
        return _squash(field_ratio), _squash(combined_ratio), new_state

    @property
    def _keep_values(self) -> int:
        longest = max([int(m) for m in self.window_lengths], default=0)
        return max(self.history + longest + _ROLL, int(self.robust_window))

    # ------------------------------------------------------------------ plumbing
    def _standardise(self, raw: FloatArray, state: _Stream) -> FloatArray:
        filled = pd.DataFrame(np.vstack([state.last_raw[None, :], raw])).ffill().to_numpy()[1:]
        return np.asarray((filled - self.location_) / self.scale_, dtype=np.float64)

    @staticmethod
    def _last_raw(raw: FloatArray, previous: FloatArray) -> FloatArray:
        last = previous.copy()
        for j in range(raw.shape[1]):
            finite = np.flatnonzero(np.isfinite(raw[:, j]))
            if finite.size:
                last[j] = raw[finite[-1], j]
        return last

    def _fitted_state(self) -> _Stream:
        if not hasattr(self, "state_"):
            raise NotFittedError(
                "This AnomalyDetector instance is not fitted yet; call fit(frame) first."
            )
        state: _Stream = self.state_
        return state

    def _select_fields(self, frame: pd.DataFrame) -> list[str]:
        if not isinstance(frame, pd.DataFrame):
            raise InputError(f"expected a pandas DataFrame, got {type(frame).__name__}")
        if self.fields is None:
            numeric = frame.select_dtypes("number").columns
            if len(numeric) == 0:
                raise InputError(f"no numeric columns to score in {list(frame.columns)}")
            return [str(c) for c in numeric]
        return list(self.fields)

    @staticmethod
    def _values(frame: pd.DataFrame, fields: Sequence[str]) -> FloatArray:
        if not isinstance(frame, pd.DataFrame):
            raise InputError(f"expected a pandas DataFrame, got {type(frame).__name__}")
        missing = [f for f in fields if f not in frame.columns]
        if missing:
            raise InputError(f"frame lacks metric columns {missing}; has {list(frame.columns)}")
        try:
            chosen = frame if list(frame.columns) == list(fields) else frame[list(fields)]
            values: FloatArray = chosen.to_numpy(dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InputError(f"metric columns {list(fields)} must be numeric: {exc}") from exc
        return values

    def _frame(self, index: pd.Index, fields: FloatArray, combined: FloatArray) -> pd.DataFrame:
        # One block, built once: adding a column afterwards costs more than scoring a row.
        return pd.DataFrame(
            np.column_stack([fields, combined]), index=index, columns=[*self.fields_, "combined"]
        )


def _squash(ratio: FloatArray) -> FloatArray:
    """Map a non-negative ratio to [0, 1): 1 → 0.39, 1.5 → 0.53, 4 → 0.86."""
    return np.asarray(1.0 - np.exp(-np.maximum(ratio, 0.0) / 2.0), dtype=np.float64)
