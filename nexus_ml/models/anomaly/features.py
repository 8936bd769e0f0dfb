"""Causal building blocks of the anomaly detector: every function only looks backwards.

* :func:`left_nn_distance` — distance from the last ``m`` values to their nearest earlier
  neighbour (a left discord, as in the matrix profile): a shape never seen before is far away.
* :func:`suppress_alarms` — one alarm per event: after a ratio crosses the alarm level the output
  stays quiet for a while (capped below alarm level), because NAB-style scoring (and an
  operator) only wants the earliest detection of an event, and repeated alarms are false
  positives.
* :func:`forest_inputs` — the per-row inputs of the multivariate IsolationForest.
* :func:`isolation_scores` — ``IsolationForest.score_samples`` without per-tree dispatch.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import numpy.typing as npt

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

_BLOCK = 512
# Online updates bring a row or two: one correlation per query row beats building the block
# products (which copy every candidate window).
_FEW_QUERIES = 4


def robust_location_scale(values: FloatArray) -> tuple[float, float]:
    """Median and a scale that is never zero (MAD, else standard deviation, else 1 % of level)."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return 0.0, 1.0
    med = float(np.median(finite))
    scale = float(np.median(np.abs(finite - med))) * 1.4826
    if scale <= 1e-12:
        scale = float(np.std(finite))
    if scale <= 1e-12:
        scale = max(abs(med) * 0.01, 1e-6)
    return med, scale


def left_nn_distance(z: FloatArray, m: int, history: int, start: int) -> FloatArray:
    """Nearest-neighbour distance of each window ``z[t-m+1 : t+1]`` for ``t >= start``.

    Candidates are the windows ending in ``[t - history, t - m]`` (no overlap with the query),
    so the result at ``t`` depends on rows up to ``t`` only. Rows without a candidate get 0.
    The distance is divided by ``sqrt(m)`` so that lengths are comparable.
    """
    n = len(z)
    out = np.zeros(max(n - start, 0))
    if n < m or start >= n:
        return out
    if n - start <= _FEW_QUERIES:
        for k, t in enumerate(range(start, n)):
            out[k] = _one_query_distance(z, t, m, history)
        return out
    emb = np.lib.stride_tricks.sliding_window_view(z, m)  # emb[i] ends at row i + m - 1
    sq = np.einsum("ij,ij->i", emb, emb)
    # Only the windows a query can reach, copied once: contiguous for BLAS (a strided view is
    # copied on every product) and pre-scaled by −2 (exact), so that a block's squared
    # distances are one product plus one in-place add.
    first = max(start - m + 1, 0)
    base = max(first - history, 0)
    minus_two = -2.0 * emb[base:]
    for s in range(first, len(emb), _BLOCK):
        e = min(len(emb), s + _BLOCK)
        best = _block_min_sq_distance(emb, minus_two, base, sq, s, e, m, history)
        rows = np.arange(s, e) + m - 1 - start
        keep = (rows >= 0) & np.isfinite(best)
        out[rows[keep]] = np.sqrt(np.maximum(best[keep], 0.0) / m)
    return out


def _one_query_distance(z: FloatArray, t: int, m: int, history: int) -> float:
    """:func:`left_nn_distance` of the single window ending at row ``t`` (0 without candidates).

    The candidates' squared norms come from a cumulative sum and their dot products with the
    query from one correlation, so no candidate window is copied.
    """
    if t < 2 * m - 1:
        return 0.0
    first = max(0, t - history - m + 1)  # first row of the earliest candidate window
    segment = z[first : t - m + 1]  # rows of every candidate window (they end at t − m)
    query = z[t - m + 1 : t + 1]
    csum = np.concatenate([[0.0], np.cumsum(segment * segment)])
    norms = csum[m:] - csum[:-m]
    dots = np.correlate(segment, query, mode="valid")
    best = float(np.min(norms - 2.0 * dots)) + float(query @ query)
    return float(np.sqrt(max(best, 0.0) / m))


def _block_min_sq_distance(
    emb: FloatArray,
    minus_two: FloatArray,
    base: int,
    sq: FloatArray,
    s: int,
    e: int,
    m: int,
    history: int,
) -> FloatArray:
    """Smallest squared distance of queries ``s…e-1`` to candidates ``[i-history, i-m]``.

    ``minus_two[k] = −2·emb[base + k]``. Candidates valid for every query of the block need no
    mask; only the two edge strips do.
    """
    queries = np.arange(s, e)
    best = np.full(e - s, np.inf)
    lo, hi = max(0, s - history), e - m  # union of the candidate ranges
    if hi <= lo:
        return best
    common_lo, common_hi = max(0, e - 1 - history), s - m + 1  # valid for all queries
    q = np.ascontiguousarray(emb[s:e])

    def squared(a: int, b: int) -> FloatArray:
        d2 = q @ minus_two[a - base : b - base].T
        d2 += sq[None, a:b]
        return d2

    if common_hi > common_lo:
        best = squared(common_lo, common_hi).min(axis=1)
    for a, b in ((lo, min(common_lo, hi)), (max(common_hi, lo), hi)):
        if b <= a:
            continue
        cand = np.arange(a, b)[None, :]
        valid = (cand <= queries[:, None] - m) & (cand >= queries[:, None] - history)
        best = np.minimum(best, np.where(valid, squared(a, b), np.inf).min(axis=1))
    return np.asarray(best + sq[s:e], dtype=np.float64)


def suppress_alarms(
    ratio: FloatArray,
    positions: IntArray,
    *,
    level: float,
    quiet_rows: int,
    quiet_growth: float,
    escalation: float,
    last_alarm: tuple[int, float],
    ceiling: float = 0.0,
) -> tuple[FloatArray, tuple[int, float]]:
    """Cap the ratio at ``ceiling`` for ``max(quiet_rows, quiet_growth·t)`` rows after each alarm.

    A ratio ``escalation`` times the last alarm's breaks the quiet period: a much stronger event
    is news even right after a weak one (with many metrics, noise alarms are not rare).
    ``ceiling`` 0 silences a quiet period; a ceiling below ``level`` keeps the rows' graded
    activity (up to the ceiling) visible without letting them read as new alarms.
    ``positions`` are the absolute row numbers ``t``; ``last_alarm`` = (row, ratio) carries the
    state across calls. Returns the suppressed ratio and the new ``last_alarm``.
    """
    out = ratio.copy()
    alarm_row, alarm_ratio = last_alarm
    for i, t in enumerate(positions.tolist()):
        value = float(ratio[i])
        quiet = t - alarm_row <= max(quiet_rows, quiet_growth * t)
        if quiet and value < escalation * alarm_ratio:
            out[i] = min(value, ceiling)
        elif value >= level:
            alarm_row, alarm_ratio = t, value
    return out, (alarm_row, alarm_ratio)


def mean_of_top_two(ratios: FloatArray) -> FloatArray:
    """Mean of the two largest values per row (columns are candidates).

    Two independent views must agree before the score gets high: one feature alone spikes on
    noise far more often than two at once.
    """
    if ratios.shape[1] == 1:
        return ratios[:, 0].copy()
    top = np.sort(ratios, axis=1)[:, -2:]
    return np.asarray(top.mean(axis=1), dtype=np.float64)


def forest_inputs(z_all: FloatArray, start: int, roll: int) -> FloatArray:
    """``[z, Δz, mean and std of the last roll z]`` per field for rows ``start…``."""
    n, n_fields = z_all.shape
    padded = np.vstack([np.repeat(z_all[:1], roll - 1, axis=0), z_all]) if n else z_all
    windows = np.lib.stride_tricks.sliding_window_view(padded, roll, axis=0)[start:]
    # Rows before the first real one are repeats of it: no spurious jump at the start.
    diff = np.diff(z_all, axis=0, prepend=z_all[:1])[start:]
    parts = [z_all[start:], diff, windows.mean(axis=2), windows.std(axis=2)]
    return np.hstack(parts).reshape(n - start, 4 * n_fields)


def isolation_scores(forest: Any, inputs: FloatArray) -> FloatArray:
    """``forest.score_samples(inputs)`` of a fitted IsolationForest, in one plain loop.

    scikit-learn dispatches every tree through joblib: on the one or two rows of an online
    update that overhead (~0.25 ms per tree) dwarfs the tree walks. This sums the same per-tree
    depths in the same order with the same arithmetic, so the scores are identical; a forest
    without the (private) attributes used here, or one that subsamples features, falls back to
    ``score_samples``.
    """
    try:
        from sklearn.ensemble._iforest import _average_path_length

        path_lengths = forest._decision_path_lengths
        leaf_lengths = forest._average_path_length_per_tree
        whole = forest._max_features == inputs.shape[1] == forest.n_features_in_
        max_samples = forest._max_samples
    except (ImportError, AttributeError):
        whole = False
    if not whole:
        return np.asarray(forest.score_samples(inputs), dtype=np.float64)
    x = np.ascontiguousarray(inputs, dtype=np.float32)
    depths = np.zeros(len(x))
    for tree, lengths, leaf in zip(forest.estimators_, path_lengths, leaf_lengths, strict=True):
        leaves = tree.tree_.apply(x)  # what tree.apply(x, check_input=False) returns
        depths += lengths[leaves] + leaf[leaves] - 1.0
    denominator = len(forest.estimators_) * _average_path_length([max_samples])
    scores = 2 ** (
        -np.divide(depths, denominator, out=np.ones_like(depths), where=denominator != 0)
    )
    return np.asarray(-scores, dtype=np.float64)
