"""The robust-z view of the anomaly detector: a point far from its recent median.

A trailing median/MAD z-score has a 50 % breakdown point: earlier anomalies in the window
barely move it, so one anomaly does not hide the next. It has no notion of how spiky a series
normally is; :mod:`~nexus_ml.models.anomaly.calibration` adds that, from the series' own past.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from nexus_ml.models.anomaly.features import FloatArray

#: Fewer earlier rows than this give no z (0): a median of a handful of rows means little.
MIN_ROWS = 10


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
