"""The statistics behind the judge: Mann–Whitney U, Hodges–Lehmann shift, two proportions.

Pure functions on arrays; the judge decides what their numbers mean.
"""

from __future__ import annotations

import math
from typing import Literal

import numpy as np
import numpy.typing as npt
from scipy import stats

FloatArray = npt.NDArray[np.float64]
Alternative = Literal["greater", "less", "two-sided"]

#: Above this many pairs the Hodges–Lehmann estimate uses evenly spaced order statistics of
#: each side: the estimate moves by far less than any allowed effect, memory stays bounded.
MAX_PAIRS = 4_000_000


def hodges_lehmann_shift(baseline: FloatArray, candidate: FloatArray) -> float:
    """Median of all pairwise differences ``candidate_i − baseline_j`` (the HL estimator).

    Robust to outliers and the natural companion of the Mann–Whitney test: it estimates by
    how much the candidate's distribution is shifted against the baseline's.
    """
    b = np.sort(np.asarray(baseline, dtype=np.float64))
    c = np.sort(np.asarray(candidate, dtype=np.float64))
    if len(b) == 0 or len(c) == 0:
        raise ValueError("both samples need at least one value")
    if len(b) * len(c) > MAX_PAIRS:
        keep = int(math.sqrt(MAX_PAIRS))
        b = _order_statistics(b, keep)
        c = _order_statistics(c, keep)
    return float(np.median(np.subtract.outer(c, b)))


def _order_statistics(sorted_values: FloatArray, keep: int) -> FloatArray:
    if len(sorted_values) <= keep:
        return sorted_values
    idx = np.round(np.linspace(0, len(sorted_values) - 1, keep)).astype(np.int64)
    return sorted_values[idx]


def mann_whitney_p(baseline: FloatArray, candidate: FloatArray, alternative: Alternative) -> float:
    """p-value of Mann–Whitney U for ``candidate`` against ``baseline``.

    ``alternative="greater"`` tests whether the candidate is stochastically larger. Identical
    constant samples (no information) give 1.
    """
    b = np.asarray(baseline, dtype=np.float64)
    c = np.asarray(candidate, dtype=np.float64)
    if np.ptp(np.concatenate([b, c])) == 0.0:
        return 1.0
    result = stats.mannwhitneyu(c, b, alternative=alternative)
    return float(result.pvalue)


def two_proportion_p(
    x_baseline: float,
    n_baseline: float,
    x_candidate: float,
    n_candidate: float,
    alternative: Alternative,
) -> float:
    """p-value of the pooled two-proportion z test (the two-sided one is Pearson's χ² on the
    2×2 table without continuity correction).

    ``alternative="greater"``: the candidate's rate is higher. No events on either side (or
    events everywhere) carries no evidence: p = 1.
    """
    if n_baseline <= 0 or n_candidate <= 0:
        raise ValueError("both sides need at least one trial")
    p_b, p_c = x_baseline / n_baseline, x_candidate / n_candidate
    pooled = (x_baseline + x_candidate) / (n_baseline + n_candidate)
    se = math.sqrt(pooled * (1.0 - pooled) * (1.0 / n_baseline + 1.0 / n_candidate))
    if se == 0.0:
        return 1.0
    z = (p_c - p_b) / se
    if alternative == "greater":
        return float(stats.norm.sf(z))
    if alternative == "less":
        return float(stats.norm.cdf(z))
    return float(2.0 * stats.norm.sf(abs(z)))
