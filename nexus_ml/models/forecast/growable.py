"""Growable arrays for online models: O(1) amortised appends, numpy views without copies."""

from __future__ import annotations

import numpy as np


class GrowableArray:
    """An array that grows along its first axis, one row (or one value) at a time.

    Parameters
    ----------
    width : int or None
        Shape of a row: ``None`` for scalars (a 1-D array), an int for 1-D rows, a tuple for
        higher-dimensional rows.
    """

    def __init__(self, width: int | tuple[int, ...] | None = None) -> None:
        shape: tuple[int, ...] = () if width is None else np.atleast_1d(width).tolist()
        self._data = np.empty((1024, *shape))
        self._n = 0

    def append(self, row: float | np.ndarray) -> None:
        if self._n == len(self._data):
            self._data = np.concatenate((self._data, np.empty_like(self._data)))
        self._data[self._n] = row
        self._n += 1

    def __len__(self) -> int:
        return self._n

    def last(self) -> np.ndarray:
        """The last row (a 0-d array for scalars)."""
        return self.row(-1)

    def at(self, i: int) -> float:
        """Scalar ``i`` (negative counts from the end)."""
        return float(self._data[i + self._n if i < 0 else i])

    def row(self, i: int) -> np.ndarray:
        """Row ``i`` (negative counts from the end), a view."""
        row: np.ndarray = self._data[i + self._n if i < 0 else i]
        return row

    def view(self, start: int, stop: int) -> np.ndarray:
        """Rows ``start`` to ``stop`` (clipped to what was appended), a view."""
        rows: np.ndarray = self._data[start : min(stop, self._n)]
        return rows
