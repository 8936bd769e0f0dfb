"""Causal, online anomaly scores for metric frames (one column per metric).

How a score is made, for every row ``t`` and using rows up to ``t`` only:

1. Each metric is standardised with the median and a robust scale learned at ``fit``.
2. Features per metric: the nearest-neighbour distance of the last 4, 16 and 64 values to every
   earlier window of the same length (a shape never seen before is far from all of them), and
   the distance of the value from the fitted median (a level never seen before). One more
   feature is shared by all metrics: the score of an IsolationForest fitted on the fit rows over
   ``[value, change, mean and spread of the last 10 values]`` of every metric (multivariate).
3. Each feature becomes a *record ratio*: its value divided by its own maximum over a recent
   reference span that ends a little before ``t`` (so a slowly growing anomaly is compared with
   what came before it, not with its own rise). Ratios near 1 are normal; 1.5 means 50 % above
   anything seen recently.
4. Per metric, the mean of the two largest ratios (two views must agree).
5. Beside them sits a robust view (:mod:`~nexus_ml.models.anomaly_robust`): the distance of the
   value from the median of the last ``robust_window`` rows in units of their MAD, divided by a
   high quantile of the same z over the series' own past (never below ``robust_floor``). Record
   ratios miss an anomaly that follows a larger one within the reference span; a median barely
   moves with earlier anomalies, so the robust view still sees it. Each metric's ratio is the
   larger of the two views; the combined ratio is the largest over metrics. Scores are
   ``1 − exp(−ratio/2)``, in [0, 1].
6. The combined score raises one alarm per event: after a ratio reaches ``alarm_ratio`` the
   combined output is held at 0 for a quiet period, because only the earliest detection of an
   event is useful and repeats are false alarms.

The reference span, gap and quiet period scale with the number of rows seen at ``fit`` (and grow
slowly with the rows seen since), never with anything known about a particular series: one
general method, measured on NAB (see ``bench/bench_anomaly.py``).
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
from nexus_ml.models.anomaly_features import (
    FloatArray,
    IntArray,
    forest_inputs,
    isolation_scores,
    left_nn_distance,
    mean_of_top_two,
    range_max,
    robust_location_scale,
    suppress_alarms,
)
from nexus_ml.models.anomaly_params import HyperParameterError, validate_params
from nexus_ml.models.anomaly_robust import calibrated_ratio, trailing_robust_z

__all__ = ["AnomalyDetector", "HyperParameterError"]

_ROLL = 10  # rows behind the IsolationForest's local mean and spread
# The robust view's local scale never drops below the scale learned at fit (1 in standardised
# units): on a flat stretch a small wiggle is not an anomaly.
_MIN_LOCAL_SCALE = 1.0


@dataclass
class _Stream:
    """Everything the detector remembers between calls (copied by ``score``)."""

    z: FloatArray  # last rows of standardised values, (rows, fields)
    last_raw: FloatArray  # last finite raw value per field, for gaps
    features: FloatArray  # last rows of raw features, (rows, features)
    robust: FloatArray  # last rows of the robust z, (rows, fields)
    n_seen: int
    last_alarm: tuple[int, float]  # row and ratio of the last alarm


class AnomalyDetector(BaseEstimator):  # type: ignore[misc]
    """Causal anomaly scores in [0, 1] per metric and combined; online updates.

    Parameters
    ----------
    fields : sequence of str, optional
        Metric columns to score; default every numeric column of the ``fit`` frame.
    window_lengths : sequence of int
        Lengths of the value windows compared with their nearest earlier neighbour.
    history : int
        How many earlier rows are searched for neighbours.
    reference_fraction : float
        Reference span of the record ratio, as a fraction of the fit rows.
    reference_growth : float
        The reference span grows to this fraction of all rows seen when that is longer.
    gap_fraction : float
        The reference span ends this fraction of the fit rows before the scored row.
    burn_in_fraction : float
        Fraction of the fit rows not used as reference (neighbour distances are inflated
        while little history exists).
    alarm_ratio : float
        Combined ratio that raises an alarm and starts a quiet period (> 1).
    quiet_fraction : float
        Quiet period after an alarm, as a fraction of the fit rows.
    quiet_growth : float
        The quiet period grows to this fraction of all rows seen when that is longer.
    escalation : float
        A ratio this many times the last alarm's raises a new alarm even in a quiet period.
    robust_window : int
        Rows of the trailing median and MAD of the robust view.
    robust_quantile : float
        The robust z is divided by this quantile of its own earlier values (in (0, 1)).
    robust_floor : float
        ... but never by less than this z (> 0).
    max_reference : int
        Cap on the reference span (bounds memory for endless streams).
    n_estimators : int
        Trees of the IsolationForest.
    random_state : int
        Seed of the IsolationForest.
    """

    def __init__(
        self,
        *,
        fields: Sequence[str] | None = None,
        window_lengths: Sequence[int] = (4, 16, 64),
        history: int = 6000,
        reference_fraction: float = 0.5,
        reference_growth: float = 0.05,
        gap_fraction: float = 0.1,
        burn_in_fraction: float = 0.5,
        alarm_ratio: float = 1.5,
        quiet_fraction: float = 0.1,
        quiet_growth: float = 0.01,
        escalation: float = 10.0,
        robust_window: int = 100,
        robust_quantile: float = 0.98,
        robust_floor: float = 6.0,
        max_reference: int = 10_000,
        n_estimators: int = 100,
        random_state: int = 0,
    ) -> None:
        self.fields = fields
        self.window_lengths = window_lengths
        self.history = history
        self.reference_fraction = reference_fraction
        self.reference_growth = reference_growth
        self.gap_fraction = gap_fraction
        self.burn_in_fraction = burn_in_fraction
        self.alarm_ratio = alarm_ratio
        self.quiet_fraction = quiet_fraction
        self.quiet_growth = quiet_growth
        self.escalation = escalation
        self.robust_window = robust_window
        self.robust_quantile = robust_quantile
        self.robust_floor = robust_floor
        self.max_reference = max_reference
        self.n_estimators = n_estimators
        self.random_state = random_state

    # ------------------------------------------------------------------ public API
    def fit(self, frame: pd.DataFrame) -> AnomalyDetector:
        """Learn scales and the IsolationForest from ``frame`` and prime the online state.

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
            features=np.empty((0, self._n_features)),
            robust=np.empty((0, len(fields))),
            n_seen=0,
            last_alarm=(-(10**12), np.inf),
        )
        z = self._standardise(raw, empty)
        self.forest_ = IsolationForest(
            n_estimators=self.n_estimators, random_state=self.random_state
        ).fit(forest_inputs(z, 0, _ROLL))
        # Features of rows before the burn-in never enter a reference span, and only the last
        # rows' features survive in the state: start the (costly) pass after both, primed with
        # the values the first of those rows looks back at (same scores, less work). The robust
        # z is cheap: it covers every row, so its calibration sees the whole fit frame.
        burn = int(self.burn_in_fraction * self.n_fit_)
        skip = min(max(0, len(raw) - self._keep_features, burn), len(raw) - 1)
        lead = min(skip, self._keep_values)
        robust = trailing_robust_z(z[:skip], 0, self.robust_window, _MIN_LOCAL_SCALE)
        primed = _Stream(
            z=z[skip - lead : skip],
            last_raw=self._last_raw(raw[:skip], start),
            features=empty.features,
            robust=robust[-self.max_reference :],
            n_seen=skip,
            last_alarm=empty.last_alarm,
        )
        _, _, self.state_ = self._advance(raw[skip:], primed)
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
    def _n_features(self) -> int:
        n_fields = len(self.fields_) if hasattr(self, "fields_") else 0
        return n_fields * (len(self.window_lengths) + 1) + 1

    def _advance(self, raw: FloatArray, state: _Stream) -> tuple[FloatArray, FloatArray, _Stream]:
        n_new, n_fields = raw.shape
        if n_new == 0:
            return np.empty((0, n_fields)), np.empty(0), state
        z_new = self._standardise(raw, state)
        z_all = np.vstack([state.z, z_new])
        start = len(state.z)
        columns = []
        for j in range(n_fields):
            for m in self.window_lengths:
                columns.append(left_nn_distance(z_all[:, j], int(m), self.history, start))
            columns.append(np.abs(z_new[:, j]))
        columns.append(-isolation_scores(self.forest_, forest_inputs(z_all, start, _ROLL)))
        feats = np.column_stack(columns) if n_new else np.empty((0, self._n_features))

        positions = np.arange(state.n_seen, state.n_seen + n_new, dtype=np.int64)
        ratios = self._record_ratios(feats, positions, state)
        robust_all = np.vstack(
            [state.robust, trailing_robust_z(z_all, start, self.robust_window, _MIN_LOCAL_SCALE)]
        )
        robust_ratio = calibrated_ratio(
            robust_all,
            n_new,
            span=self.max_reference,
            quantile=self.robust_quantile,
            z_floor=self.robust_floor,
        )
        robust_ratio[positions < int(self.burn_in_fraction * self.n_fit_)] = 0.0
        per_field_k = len(self.window_lengths) + 1
        forest_ratio = ratios[:, -1:]
        field_ratio = np.empty((n_new, n_fields))
        combined_ratio = np.zeros(n_new)
        for j in range(n_fields):
            own = ratios[:, j * per_field_k : (j + 1) * per_field_k]
            field_ratio[:, j] = np.maximum(mean_of_top_two(own), robust_ratio[:, j])
            with_forest = mean_of_top_two(np.hstack([own, forest_ratio]))
            combined_ratio = np.maximum(combined_ratio, np.maximum(with_forest, robust_ratio[:, j]))

        live = positions >= self.n_fit_
        suppressed, last_alarm = suppress_alarms(
            combined_ratio[live],
            positions[live],
            level=self.alarm_ratio,
            quiet_rows=int(self.quiet_fraction * self.n_fit_),
            quiet_growth=self.quiet_growth,
            escalation=self.escalation,
            last_alarm=state.last_alarm,
        )
        combined_ratio[live] = suppressed
        combined_ratio[~live] = 0.0

        keep_z, keep_f = self._keep_values, self._keep_features
        new_state = _Stream(
            z=z_all[-keep_z:],
            last_raw=self._last_raw(raw, state.last_raw),
            features=np.vstack([state.features, feats])[-keep_f:],
            robust=robust_all[-self.max_reference :],
            n_seen=state.n_seen + n_new,
            last_alarm=last_alarm,
        )
        return _squash(field_ratio), _squash(combined_ratio), new_state

    def _record_ratios(self, feats: FloatArray, positions: IntArray, state: _Stream) -> FloatArray:
        """Each feature over its maximum in ``[t − span, t − gap]`` (0 while burning in)."""
        history = np.vstack([state.features, feats])
        offset = state.n_seen - len(state.features)  # absolute row of history[0]
        burn = int(self.burn_in_fraction * self.n_fit_)
        span = np.maximum(
            int(self.reference_fraction * self.n_fit_),
            (self.reference_growth * positions).astype(np.int64),
        )
        span = np.minimum(span, self.max_reference)
        lo = np.maximum(np.maximum(burn, positions - span), offset) - offset
        hi = np.maximum(positions - self._gap + 1, offset) - offset
        hi = np.maximum(hi, lo)
        out = np.zeros_like(feats)
        for k in range(feats.shape[1]):
            ref = range_max(history[:, k], lo, hi)
            with np.errstate(divide="ignore", invalid="ignore"):
                ratio = feats[:, k] / np.maximum(ref, 1e-12)
            out[:, k] = np.where(np.isfinite(ratio) & (positions >= burn), ratio, 0.0)
        return out

    @property
    def _keep_values(self) -> int:
        longest = self.history + max(int(m) for m in self.window_lengths) + _ROLL
        return max(longest, int(self.robust_window))

    @property
    def _keep_features(self) -> int:
        return self.max_reference + self._gap + 1

    @property
    def _gap(self) -> int:
        return max(1, int(self.gap_fraction * self.n_fit_))

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
            values: FloatArray = frame[list(fields)].to_numpy(dtype=np.float64)
        except (TypeError, ValueError) as exc:
            raise InputError(f"metric columns {list(fields)} must be numeric: {exc}") from exc
        return values

    def _frame(self, index: pd.Index, fields: FloatArray, combined: FloatArray) -> pd.DataFrame:
        out = pd.DataFrame(fields, index=index, columns=self.fields_)
        out["combined"] = combined
        return out


def _squash(ratio: FloatArray) -> FloatArray:
    """Map a non-negative ratio to [0, 1): 1 → 0.39, 1.5 → 0.53, 4 → 0.86."""
    return np.asarray(1.0 - np.exp(-np.maximum(ratio, 0.0) / 2.0), dtype=np.float64)
