"""The robust-z view of the anomaly detector: a point far from its recent median.

The record ratios of :mod:`nexus_ml.models.anomaly` compare a feature with its own recent
*maximum*. That is scale-free and tolerant of heavy-tailed noise, but one anomaly in the reference
span hides the next smaller one: on series with frequent, short anomalies most of them go unseen.
A trailing median/MAD z-score has the opposite strengths: a 50 % breakdown point (earlier
anomalies barely move it) but no notion of how spiky a series normally is.

This module gives the z-score that notion, learned causally from the series itself: the z of
row ``t`` is divided by ``max(z_floor, q-quantile of the z of the rows before t)``. A series
whose z often reaches 10 (spiky noise) needs a z well above 10 to look anomalous; a calm series
is judged against ``z_floor``. The quantile (not the maximum) keeps the calibration robust to the
anomalies themselves as long as they are rarer than ``1 − q`` of the rows.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from nexus_ml.models.anomaly_features import FloatArray

#: Fewer earlier rows than this give no z (0): a median of a handful of rows means little.
MIN_ROWS = 10
#: Fewer earlier z values than this leave the calibration at ``z_floor``.
MIN_CALIBRATION_ROWS = 5
#: Up to this many new rows, each row's calibration quantile is computed directly.
_DIRECT_ROWS = 32


def trailing_robust_z(z: FloatArray, start: int, window: int, min_scale: float) -> FloatArray:
    """``|z_t − median| / max(1.4826·MAD, min_scale)`` over the ``window`` rows before ``t``.

    Parameters
    ----------
    z : numpy.ndarray
        Standardised values, ``(rows, fields)``, gaps already filled.
    start : int
        First row to score; rows before it only serve as history.
    window : int
        Rows of the trailing median and MAD.
    min_scale : float
        Floor of the local scale (in standardised units): a flat stretch does not make every
        small wiggle infinitely surprising.

    Returns
    -------
    numpy.ndarray
        ``(rows − start, fields)``; 0 where fewer than :data:`MIN_ROWS` earlier rows exist.
    """
    n, n_fields = z.shape
    out = np.zeros((max(n - start, 0), n_fields))
    first = max(start, MIN_ROWS)
    if first >= n:
        return out
    for j in range(n_fields):
        column = z[:, j]
        # Rows whose window is full and finite take the plain median: the nan-aware one goes
        # through masked arrays and costs tens of times more, paid by every online row.
        full = min(max(first, window), n) if np.isfinite(column[: n - 1]).all() else n
        if first < full:
            # Row t looks at z[max(0, t − window) : t]; pad the front so every row has
            # `window` slots and ignore the padding with nan-aware statistics.
            padded = np.concatenate([np.full(window, np.nan), column[: full - 1]])
            past = np.lib.stride_tricks.sliding_window_view(padded, window)[first:full]
            out[first - start : full - start, j] = _robust_z(
                column[first:full], past, min_scale, np.nanmedian
            )
        if full < n:
            past = np.lib.stride_tricks.sliding_window_view(column[: n - 1], window)
            out[full - start :, j] = _robust_z(
                column[full:], past[full - window :], min_scale, np.median
            )
    return out


def _robust_z(
    values: FloatArray, past: FloatArray, min_scale: float, median: Callable[..., FloatArray]
) -> FloatArray:
    """``|value − median(past)| / max(1.4826·MAD(past), min_scale)`` row by row."""
    med = median(past, axis=1)
    mad = median(np.abs(past - med[:, None]), axis=1) * 1.4826
    return np.asarray(np.abs(values - med) / np.maximum(mad, min_scale), dtype=np.float64)


def calibrated_ratio(
    history: FloatArray, n_new: int, *, span: int, quantile: float, z_floor: float
) -> FloatArray:
    """The last ``n_new`` rows of ``history`` over their causal calibration level.

    Parameters
    ----------
    history : numpy.ndarray
        Robust z values, ``(rows, fields)``, oldest first; the last ``n_new`` rows are scored.
    n_new : int
        Rows to score.
    span : int
        The calibration quantile is taken over at most this many rows before each scored row.
    quantile : float
        Quantile of the earlier z values that a row is compared with.
    z_floor : float
        The calibration level never goes below this z.

    Returns
    -------
    numpy.ndarray
        ``(n_new, fields)``: ``z_t / max(z_floor, quantile of z before t)``.
    """
    if n_new == 0:
        return np.empty((0, history.shape[1]))
    if n_new <= _DIRECT_ROWS:
        # Online updates bring a row or two: a quantile of each row's past is cheaper than a
        # rolling quantile over the whole span (the same numbers).
        n = len(history)
        level = np.full((n_new, history.shape[1]), np.nan)
        for k, i in enumerate(range(n - n_new, n)):
            past = history[max(0, i - span) : i]
            if len(past) >= MIN_CALIBRATION_ROWS:
                level[k] = np.quantile(past, quantile, axis=0)
    else:
        frame = pd.DataFrame(history[-(n_new + span) :])
        level = (
            frame.rolling(span, min_periods=MIN_CALIBRATION_ROWS).quantile(quantile).shift(1)
        ).to_numpy()[-n_new:]
    level = np.where(np.isfinite(level), np.maximum(level, z_floor), z_floor)
    return np.asarray(history[-n_new:] / level, dtype=np.float64)
