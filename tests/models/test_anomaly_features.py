"""Building blocks of the anomaly detector against brute-force definitions."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import IsolationForest

from nexus_ml.models.anomaly.features import (
    isolation_scores,
    left_nn_distance,
    suppress_alarms,
)


def _brute_left_nn(z: np.ndarray, m: int, history: int, start: int) -> np.ndarray:
    windows = np.lib.stride_tricks.sliding_window_view(z, m)  # windows[i] ends at row i + m - 1
    out = np.zeros(len(z) - start)
    for t in range(max(start, m - 1), len(z)):
        query = windows[t - m + 1]
        # Candidate windows end in [t - history, t - m]: no overlap with the query.
        first_end, last_end = max(m - 1, t - history), t - m
        if last_end >= first_end:
            candidates = windows[first_end - m + 1 : last_end - m + 2]
            out[t - start] = np.sqrt(((candidates - query) ** 2).sum(axis=1).min() / m)
    return out


@pytest.mark.parametrize(
    ("m", "history", "start"),
    # the last two: an online update's few rows (one correlation per row, no blocks)
    [(4, 50, 0), (16, 300, 200), (8, 1000, 700), (16, 300, 1297), (64, 1000, 1299)],
)
def test_left_nn_distance_matches_brute_force(m: int, history: int, start: int) -> None:
    # Longer than one block of queries, so the blocked search and its edge strips are exercised.
    rng = np.random.default_rng(m)
    z = np.cumsum(rng.normal(0, 0.3, 1300)) + rng.normal(0, 1, 1300)
    got = left_nn_distance(z, m, history, start)
    np.testing.assert_allclose(got, _brute_left_nn(z, m, history, start), rtol=1e-6, atol=1e-6)


def test_suppress_alarms_keeps_the_first_alarm_and_lets_a_much_stronger_one_through() -> None:
    ratio = np.array([0.5, 2.0, 1.8, 1.9, 0.5, 30.0, 1.6, 0.5, 0.5, 2.0])
    positions = np.arange(100, 110, dtype=np.int64)
    out, last = suppress_alarms(
        ratio,
        positions,
        level=1.5,
        quiet_rows=3,
        quiet_growth=0.0,
        escalation=10.0,
        last_alarm=(-(10**12), np.inf),
    )
    # 101 alarms; 102-104 quiet; 105 is 15x the last alarm; 106-108 quiet; 109 alarms again.
    np.testing.assert_array_equal(out, [0.5, 2.0, 0, 0, 0, 30.0, 0, 0, 0, 2.0])
    assert last == (109, 2.0)


def test_a_quiet_period_caps_the_ratio_at_its_ceiling_instead_of_silencing_it() -> None:
    ratio = np.array([2.0, 1.8, 0.4, 0.9, 1.2, 2.5])
    out, last = suppress_alarms(
        ratio,
        np.arange(6, dtype=np.int64),
        level=1.5,
        quiet_rows=4,
        quiet_growth=0.0,
        escalation=10.0,
        last_alarm=(-(10**12), np.inf),
        ceiling=1.0,
    )
    # Row 0 alarms; rows 1-4 are quiet: kept up to 1 (graded activity), never above it; row 5
    # is past the quiet period and alarms again.
    np.testing.assert_array_equal(out, [2.0, 1.0, 0.4, 0.9, 1.0, 2.5])
    assert last == (5, 2.5)


@pytest.mark.parametrize("max_features", [1.0, 0.5])
def test_isolation_scores_equal_score_samples(max_features: float) -> None:
    rng = np.random.default_rng(6)
    train = rng.standard_t(3, (500, 8))
    forest = IsolationForest(n_estimators=40, max_features=max_features, random_state=0)
    forest.fit(train)
    rows = np.vstack([rng.standard_t(3, (50, 8)), np.full((1, 8), 30.0)])
    # Whole batch and one row at a time (the online case): the same numbers as scikit-learn.
    np.testing.assert_array_equal(isolation_scores(forest, rows), forest.score_samples(rows))
    one_by_one = np.concatenate([isolation_scores(forest, row[None, :]) for row in rows])
    np.testing.assert_array_equal(one_by_one, forest.score_samples(rows))
    assert one_by_one[-1] < np.median(one_by_one)  # the far-out row is the most isolated
