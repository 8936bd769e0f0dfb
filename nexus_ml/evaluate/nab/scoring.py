"""NAB scoring: the sweep over thresholds, the profiles, and the normalised score.

This follows NAB's own scorer (``nab/sweeper.py`` and ``nab/optimizer.py`` of numenta/NAB,
version 1.1) so that it reproduces the published numbers:

* every row gets a *sweep score*, the value it would contribute if it were a detection: inside a
  window ``A_TP·σ(y)/σ(−1)`` with ``y = −(right − i + 1)/width``; outside a window
  ``A_FP·σ(y)`` with ``y = |prev_right − i|/(prev_width − 1)``, or ``−A_FP`` before any window;
* the first ``min(floor(0.15·N), 750)`` rows of a file (the probationary period) are not scored;
* a window counts once, with the best (earliest) detection, or ``−A_FN`` when it has none;
* one threshold per detector and profile is chosen over the whole corpus by sweeping every
  distinct anomaly score (a row is a detection when its score ``>=`` the threshold);
* the normalised score is ``100·(S − S_null)/(S_perfect − S_null)``: the null detector never
  fires (every scorable window is missed) and the perfect one earns ``A_TP`` per labelled window.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import numpy.typing as npt
import pandas as pd

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]

#: Rows before this many (or 15 % of the file, whichever is smaller) are not scored.
PROBATIONARY_PERCENT = 0.15
PROBATIONARY_CAP = PROBATIONARY_PERCENT * 5000

#: Row labels in the sweep: not in a window / in the probationary period.
OUTSIDE = -1
PROBATIONARY = -2


@dataclass(frozen=True)
class Profile:
    """Weights of one NAB application profile."""

    name: str
    tp_weight: float
    fn_weight: float
    fp_weight: float


PROFILES: tuple[Profile, ...] = (
    Profile("standard", 1.0, 1.0, 0.11),
    Profile("reward_low_FP_rate", 1.0, 1.0, 0.22),
    Profile("reward_low_FN_rate", 1.0, 2.0, 0.11),
)


@dataclass(frozen=True)
class LabelledSeries:
    """One scored file: its anomaly scores and the row spans of its windows."""

    name: str
    scores: FloatArray
    windows: tuple[tuple[int, int], ...]  # inclusive (first row, last row), sorted


@dataclass(frozen=True)
class ProfileResult:
    """The outcome of scoring one detector on one profile."""

    profile: str
    threshold: float
    raw_score: float
    null_score: float
    perfect_score: float
    normalised: float
    tp: int
    fp: int
    fn: int


def probationary_length(n_rows: int) -> int:
    """Number of leading rows NAB does not score in a file of ``n_rows`` rows."""
    return int(min(math.floor(PROBATIONARY_PERCENT * n_rows), PROBATIONARY_CAP))


def scaled_sigmoid(position: FloatArray) -> FloatArray:
    """NAB's ``2/(1+e^{5y}) − 1``, clamped to −1 from ``y >= 3``."""
    with np.errstate(over="ignore"):
        value = 2.0 / (1.0 + np.exp(5.0 * position)) - 1.0
    return np.where(position >= 3.0, -1.0, value)


def sweep_rows(
    n_rows: int, windows: Sequence[tuple[int, int]], profile: Profile
) -> tuple[FloatArray, IntArray]:
    """Per-row sweep score and window id (``OUTSIDE``/``PROBATIONARY`` otherwise) of one file."""
    sweep = np.empty(n_rows)
    window_id = np.full(n_rows, OUTSIDE, dtype=np.int64)
    max_tp = float(scaled_sigmoid(np.array([-1.0]))[0])
    rows = np.arange(n_rows, dtype=np.float64)
    # Before the first window every false positive costs the full weight.
    first = windows[0][0] if windows else n_rows
    sweep[:first] = -profile.fp_weight
    for k, (left, right) in enumerate(windows):
        width = float(right - left + 1)
        inside = slice(left, right + 1)
        sweep[inside] = scaled_sigmoid(-(right - rows[inside] + 1) / width) * (
            profile.tp_weight / max_tp
        )
        window_id[inside] = k
        stop = windows[k + 1][0] if k + 1 < len(windows) else n_rows
        after = slice(right + 1, stop)
        # NAB divides by (width - 1): a one-row window puts every later FP at +inf (= -1).
        with np.errstate(divide="ignore"):
            position = np.abs(right - rows[after]) / (width - 1.0)
        sweep[after] = scaled_sigmoid(position) * profile.fp_weight
    window_id[: probationary_length(n_rows)] = PROBATIONARY
    return sweep, window_id


def _scorable_windows(window_id: IntArray) -> int:
    return len(np.unique(window_id[window_id >= 0]))


def sweep_thresholds(
    series: Sequence[LabelledSeries], profile: Profile
) -> tuple[FloatArray, FloatArray, IntArray, IntArray]:
    """Total score of the corpus at every candidate threshold.

    Returns ``(thresholds, scores, tp_rows, fp_rows)``; the first candidate is 1.1 (no detection),
    then every distinct anomaly score in decreasing order, as in NAB's ``calcScoreByThreshold``.
    """
    scores_parts, sweep_parts, window_parts = [], [], []
    n_windows = 0
    for one in series:
        sweep, window_id = sweep_rows(len(one.scores), one.windows, profile)
        keep = window_id != PROBATIONARY
        # Window ids become global so that windows of different files never merge.
        window_id = np.where(window_id >= 0, window_id + n_windows, window_id)
        n_windows += len(one.windows)
        scores_parts.append(one.scores[keep])
        sweep_parts.append(sweep[keep])
        window_parts.append(window_id[keep])
    score = np.concatenate(scores_parts) if scores_parts else np.empty(0)
    sweep = np.concatenate(sweep_parts) if sweep_parts else np.empty(0)
    window = np.concatenate(window_parts) if window_parts else np.empty(0, dtype=np.int64)

    order = np.argsort(-score, kind="stable")
    score, sweep, window = score[order], sweep[order], window[order]
    in_window = window >= 0
    base = -profile.fn_weight * _scorable_windows(window)

    # A window's contribution is the best sweep score among its detected rows, or -A_FN.
    gain = np.where(in_window, 0.0, sweep)
    frame = pd.DataFrame({"window": window[in_window], "sweep": sweep[in_window]})
    best = frame.groupby("window")["sweep"].cummax().to_numpy()
    before = frame.assign(best=best).groupby("window")["best"].shift(1)
    before = before.fillna(-profile.fn_weight).to_numpy()
    gain[in_window] = best - before
    total = base + np.cumsum(gain)

    # The score at a threshold counts every row whose score is >= it: the last row of each run.
    last_of_run = np.r_[score[1:] != score[:-1], True] if len(score) else np.empty(0, bool)
    thresholds = np.r_[1.1, score[last_of_run]]
    totals = np.r_[base, total[last_of_run]]
    tp_rows = np.r_[0, np.cumsum(in_window)[last_of_run]]
    fp_rows = np.r_[0, np.cumsum(~in_window)[last_of_run]]
    return thresholds, totals, tp_rows.astype(np.int64), fp_rows.astype(np.int64)


def score_profile(
    series: Sequence[LabelledSeries], profile: Profile, n_labelled_windows: int | None = None
) -> ProfileResult:
    """Optimise the threshold over the corpus and return the normalised score for one profile.

    ``n_labelled_windows`` defaults to the windows of ``series``; NAB's perfect score counts every
    window of the label file, including those hidden in a probationary period.
    """
    thresholds, totals, _tp_rows, fp_rows = sweep_thresholds(series, profile)
    best = int(np.argmax(totals))  # first maximum: the highest threshold wins ties, as in NAB
    n_windows = (
        sum(len(s.windows) for s in series) if n_labelled_windows is None else n_labelled_windows
    )
    null = float(totals[0])
    perfect = profile.tp_weight * n_windows
    raw = float(totals[best])
    span = perfect - null
    normalised = 100.0 * (raw - null) / span if span else 0.0
    detected = _detected_windows(series, float(thresholds[best]))
    return ProfileResult(
        profile=profile.name,
        threshold=float(thresholds[best]),
        raw_score=raw,
        null_score=null,
        perfect_score=perfect,
        normalised=normalised,
        tp=detected,
        fp=int(fp_rows[best]),
        fn=n_windows - detected,
    )


def _detected_windows(series: Sequence[LabelledSeries], threshold: float) -> int:
    found = 0
    for s in series:
        start = probationary_length(len(s.scores))
        for left, right in s.windows:
            lo = max(left, start)
            if lo <= right and bool(np.any(s.scores[lo : right + 1] >= threshold)):
                found += 1
    return found


def score_corpus(
    series: Sequence[LabelledSeries],
    profiles: Sequence[Profile] = PROFILES,
    n_labelled_windows: int | None = None,
) -> Mapping[str, ProfileResult]:
    """Score a detector's results on every profile: ``{profile name: result}``."""
    return {p.name: score_profile(series, p, n_labelled_windows) for p in profiles}
