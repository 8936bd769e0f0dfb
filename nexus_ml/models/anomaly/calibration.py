"""Causal calibration of anomaly views: each value over a high quantile of its own past.

Every view of the detector (a robust z, a nearest-neighbour distance, ...) has its own units and
its own normal range, which differs from series to series: a spiky series reaches a z of 10
every day, a calm one never does. Dividing a view by a high quantile of its *own* earlier values
makes it scale-free: the ratio is about 1 for the most surprising values of normal operation and
well above 1 only for values rarer than the top ``1 − quantile`` of the past. A quantile (not the
maximum) keeps the calibration robust to earlier anomalies as long as they are rarer than
``1 − quantile`` of the rows. The level never drops below a per-view ``floor`` (a distance that
small means nothing) and is undefined — ratio 0 — until ``min_rows`` earlier values exist.

The level is refreshed every :data:`REFRESH_ROWS` rows (a quantile of thousands of values moves
slowly, and recomputing it for every online row would cost more than all the views): row ``t``
is compared with the quantile of the ``span`` values before ``b = t − t mod REFRESH_ROWS``.
Positions are absolute row numbers, so batch and row-by-row scoring agree exactly.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from nexus_ml.models.anomaly.features import FloatArray

#: The calibration level is recomputed at rows that are multiples of this.
REFRESH_ROWS = 16


@dataclass(frozen=True)
class Calibration:
    """How views are calibrated: quantile, span, per-view floors and the rows needed."""

    span: int
    quantile: float
    floors: FloatArray
    min_rows: int

    @property
    def memory(self) -> int:
        """Rows of earlier view values a caller must keep for the next call."""
        return self.span + REFRESH_ROWS

    def ratios(
        self,
        history: FloatArray,
        n_new: int,
        first_row: int,
        cached: tuple[int, FloatArray] | None = None,
    ) -> tuple[FloatArray, tuple[int, FloatArray] | None]:
        """The last ``n_new`` rows of ``history`` over their calibration levels.

        Parameters
        ----------
        history : numpy.ndarray
            View values, ``(rows, views)``, oldest first, at least :attr:`memory` rows before
            the new ones when that many exist; the last ``n_new`` rows are scored.
        n_new : int
            Rows to score.
        first_row : int
            Absolute row number of ``history[0]``.
        cached : tuple, optional
            ``(block start, level)`` returned by the previous call: reused when the first new
            row falls in that block (online rows then cost no quantile).

        Returns
        -------
        tuple
            ``(n_new, views)`` ratios ``value_t / max(floor, level_t)`` (0 before ``min_rows``)
            and the ``(block start, level)`` of the last row, for the next call.
        """
        n, n_views = history.shape
        if n_new == 0:
            return np.empty((0, n_views)), cached
        rows = np.arange(n - n_new, n) + first_row  # absolute rows scored
        starts = rows - rows % REFRESH_ROWS  # absolute block start of each row
        blocks, inverse = np.unique(starts, return_inverse=True)
        local = blocks - first_row  # block starts as positions in `history`
        if len(blocks) <= 4:
            level = np.full((len(blocks), n_views), np.nan)
            for k, b in enumerate(local.tolist()):
                if cached is not None and cached[0] == int(blocks[k]):
                    level[k] = cached[1]
                    continue
                past = history[max(0, b - self.span) : max(b, 0)]
                if len(past) >= self.min_rows:
                    level[k] = np.quantile(past, self.quantile, axis=0)
        else:
            # One rolling pass; the level at position b covers [b − span, b).
            lo = max(0, int(local[0]) - self.span)
            rolled = (
                pd.DataFrame(history[lo:])
                .rolling(self.span, min_periods=self.min_rows)
                .quantile(self.quantile)
                .shift(1)
                .to_numpy()
            )
            level = rolled[np.maximum(local - lo, 0)]
            level[local - lo < 0] = np.nan
        per_row = level[inverse]
        ready = np.isfinite(per_row)
        per_row = np.maximum(np.where(ready, per_row, 1.0), self.floors[None, :])
        out = np.asarray(np.where(ready, history[-n_new:] / per_row, 0.0), dtype=np.float64)
        return out, (int(blocks[-1]), level[-1].copy())
