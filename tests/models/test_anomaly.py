"""AnomalyDetector: model contract, causality, online updates, detection of injected faults."""

from __future__ import annotations

import copy
import pickle
from pathlib import Path

import joblib
import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from nexus_ml.domain.metrics import METRIC_FIELDS
from nexus_ml.errors import ConfigError, InputError
from nexus_ml.models.anomaly.detector import AnomalyDetector

N_FIT = 400


def _series(n: int = 1400, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    t = np.arange(n)
    value = 50 + 10 * np.sin(2 * np.pi * t / 96) + rng.normal(0, 1.0, n)
    index = pd.date_range("2026-01-01", periods=n, freq="5min", tz="UTC")
    return pd.DataFrame({"value": value}, index=index)


def _fitted(frame: pd.DataFrame) -> AnomalyDetector:
    return AnomalyDetector(history=2000).fit(frame.iloc[:N_FIT])


@pytest.fixture(scope="module")
def frame() -> pd.DataFrame:
    return _series()


@pytest.fixture(scope="module")
def fitted_once(frame: pd.DataFrame) -> AnomalyDetector:
    return _fitted(frame)


@pytest.fixture
def fitted(fitted_once: AnomalyDetector) -> AnomalyDetector:
    return copy.deepcopy(fitted_once)


@pytest.fixture(scope="module")
def whole(fitted_once: AnomalyDetector, frame: pd.DataFrame) -> pd.DataFrame:
    return fitted_once.score(frame.iloc[N_FIT:])


def test_fit_returns_self_and_learns_state(frame: pd.DataFrame) -> None:
    det = AnomalyDetector(history=2000)
    assert det.fit(frame.iloc[:N_FIT]) is det
    assert det.fields_ == ["value"]
    assert det.n_fit_ == N_FIT


@pytest.mark.parametrize("method", ["score", "update"])
def test_unfitted_raises_not_fitted(frame: pd.DataFrame, method: str) -> None:
    with pytest.raises(NotFittedError):
        getattr(AnomalyDetector(), method)(frame)


@pytest.mark.parametrize(
    ("params", "quoted"),
    [
        ({"alarm_ratio": 0.7}, "alarm_ratio must be greater than 1, got 0.7"),
        ({"quiet_fraction": 1.5}, "quiet_fraction must be in [0, 1], got 1.5"),
        ({"window_lengths": (4, 0)}, "got [4, 0]"),
        ({"history": 10, "window_lengths": (16,)}, "got 10"),
        ({"calibration_quantile": 1.0}, "calibration_quantile must be in (0, 1), got 1.0"),
        ({"n_estimators": -1}, "n_estimators must be a non-negative integer, got -1"),
        ({"robust_floor": 0}, "robust_floor must be greater than 0, got 0"),
        ({"robust_window": 2.5}, "robust_window must be a positive integer, got 2.5"),
        ({"max_quiet_rows": 0}, "max_quiet_rows must be a positive integer, got 0"),
    ],
)
def test_bad_hyper_parameters_quote_the_value(
    frame: pd.DataFrame, params: dict[str, object], quoted: str
) -> None:
    with pytest.raises(ConfigError) as info:
        AnomalyDetector(**params).fit(frame)  # type: ignore[arg-type]
    assert quoted in str(info.value)
    assert isinstance(info.value, ValueError)


def test_scores_have_one_column_per_field_plus_combined_in_unit_interval(
    frame: pd.DataFrame, whole: pd.DataFrame
) -> None:
    scores = whole
    assert list(scores.columns) == ["value", "combined"]
    assert scores.index.equals(frame.index[N_FIT:])
    assert np.isfinite(scores.to_numpy()).all()
    assert ((scores >= 0) & (scores <= 1)).all().all()


def test_score_is_causal(frame: pd.DataFrame, fitted: AnomalyDetector, whole: pd.DataFrame) -> None:
    prefix = fitted.score(frame.iloc[N_FIT : N_FIT + 300])
    np.testing.assert_allclose(prefix.to_numpy(), whole.iloc[:300].to_numpy(), atol=1e-9)


def test_score_does_not_change_the_fitted_state(
    frame: pd.DataFrame, fitted_once: AnomalyDetector, whole: pd.DataFrame
) -> None:
    pd.testing.assert_frame_equal(fitted_once.score(frame.iloc[N_FIT:]), whole)
    assert fitted_once.state_.n_seen == N_FIT


def test_update_equals_score_and_moves_the_state(
    frame: pd.DataFrame, fitted: AnomalyDetector, whole: pd.DataFrame
) -> None:
    det, expected = fitted, whole
    a = det.update(frame.iloc[N_FIT:900])
    assert det.state_.n_seen == 900
    b = det.update(frame.iloc[900:])
    got = pd.concat([a, b])
    np.testing.assert_allclose(got.to_numpy(), expected.to_numpy(), atol=1e-9)
    assert det.state_.n_seen == len(frame)


def test_row_by_row_updates_match_one_batch(
    frame: pd.DataFrame, fitted: AnomalyDetector, whole: pd.DataFrame
) -> None:
    det, expected = fitted, whole.iloc[:40]
    rows = [det.update(frame.iloc[i : i + 1]) for i in range(N_FIT, N_FIT + 40)]
    np.testing.assert_allclose(pd.concat(rows).to_numpy(), expected.to_numpy(), atol=1e-9)


def test_injected_spike_gets_the_top_score(frame: pd.DataFrame) -> None:
    spiky = frame.copy()
    spiky.iloc[1000, 0] += 25.0
    scores = _fitted(spiky).score(spiky.iloc[N_FIT:])["combined"]
    assert scores.idxmax() == spiky.index[1000]
    assert scores.iloc[1000 - N_FIT] > 0.5
    assert scores.drop(spiky.index[1000]).max() < scores.iloc[1000 - N_FIT]


def test_injected_level_shift_raises_an_alarm_at_its_start(frame: pd.DataFrame) -> None:
    shifted = frame.copy()
    shifted.iloc[1000:, 0] += 30.0
    scores = _fitted(shifted).score(shifted.iloc[N_FIT:])["combined"]
    alarm = scores[scores > 0.5]
    assert len(alarm) >= 1
    first = shifted.index.get_loc(alarm.index[0])
    assert 1000 <= first <= 1010
    assert scores.iloc[: 1000 - N_FIT].max() < 0.5


def test_the_quiet_period_after_an_alarm_caps_repeats_below_alarm_level(
    frame: pd.DataFrame,
) -> None:
    # A level shift keeps the views far out for many rows after its first alarm. Inside the
    # quiet period (a fifth of the fit rows) they read at most "as surprising as the most
    # surprising normal rows" (ratio 1 -> 1 - e^-0.5), never a new alarm, yet not erased.
    shifted = frame.copy()
    shifted.iloc[1000:, 0] += 30.0
    detector = _fitted(shifted)
    assert detector.quiet_fraction == 0.2
    combined = detector.score(shifted.iloc[N_FIT:])["combined"].to_numpy()
    first = int(np.flatnonzero(combined > 0.5)[0]) + N_FIT
    after = combined[first - N_FIT + 1 : first - N_FIT + int(0.2 * N_FIT)]
    ceiling = 1.0 - np.exp(-0.5)
    assert after.max() <= ceiling + 1e-12
    assert after.max() > 0.5 * ceiling  # the shift is still visible as graded activity


def test_the_quiet_period_is_at_most_150_rows_whatever_the_fit_length() -> None:
    # Fitted on 1,000 rows a fifth would be 200 rows; CAD OSE's rest period never exceeds 150
    # (a fifth of NAB's longest probationary period), so a second spike 170 rows after the
    # first is a new alarm — unless the cap is lifted.
    frame = _series(n=2000, seed=3)
    frame.iloc[[1300, 1470], 0] += 30.0
    capped = AnomalyDetector(history=2000).fit(frame.iloc[:1000])
    uncapped = AnomalyDetector(history=2000, max_quiet_rows=10**6).fit(frame.iloc[:1000])
    assert (capped.quiet_rows_, uncapped.quiet_rows_) == (150, 200)
    ceiling = 1.0 - np.exp(-0.5)
    for detector, second_alarms in ((capped, True), (uncapped, False)):
        combined = detector.score(frame.iloc[1000:])["combined"]
        assert combined.iloc[300] > 0.5  # the first spike alarms either way
        assert bool(combined.iloc[470] > ceiling) is second_alarms


def test_clean_series_raises_no_alarm(whole: pd.DataFrame) -> None:
    assert whole["combined"].max() < 0.5


def test_multivariate_fault_shows_in_its_own_field() -> None:
    rng = np.random.default_rng(3)
    n = 700
    index = pd.date_range("2026-01-01", periods=n, freq="1min", tz="UTC")
    data = {f: 1.0 + 0.1 * rng.normal(size=n) for f in METRIC_FIELDS}
    frame = pd.DataFrame(data, index=index)
    frame.loc[index[600], "response_time"] += 5.0
    det = AnomalyDetector(fields=METRIC_FIELDS, history=500, window_lengths=(4, 16)).fit(
        frame.iloc[:N_FIT]
    )
    scores = det.score(frame.iloc[N_FIT:])
    assert list(scores.columns) == [*METRIC_FIELDS, "combined"]
    at_fault = scores.loc[index[600]]
    assert at_fault.drop("combined").idxmax() == "response_time"
    assert scores["combined"].idxmax() == index[600]


def test_gaps_are_filled_from_the_last_value(frame: pd.DataFrame) -> None:
    holed = frame.copy()
    holed.iloc[700:705, 0] = np.nan
    scores = _fitted(holed).score(holed.iloc[N_FIT:])
    assert np.isfinite(scores.to_numpy()).all()


def test_missing_field_is_an_input_error(frame: pd.DataFrame, fitted: AnomalyDetector) -> None:
    with pytest.raises(InputError, match="value"):
        fitted.score(frame.rename(columns={"value": "other"}))


def test_refit_is_idempotent_and_clone_keeps_params(
    frame: pd.DataFrame, fitted: AnomalyDetector, whole: pd.DataFrame
) -> None:
    det = fitted.fit(frame.iloc[:N_FIT])
    pd.testing.assert_frame_equal(whole, det.score(frame.iloc[N_FIT:]))
    twin = clone(det)
    assert twin.get_params() == det.get_params()
    assert not hasattr(twin, "state_")


@pytest.mark.parametrize("dump", ["joblib", "pickle"])
def test_round_trip_gives_identical_scores(
    frame: pd.DataFrame, fitted: AnomalyDetector, whole: pd.DataFrame, dump: str, tmp_path: Path
) -> None:
    det = fitted
    path = tmp_path / "det.bin"
    if dump == "joblib":
        joblib.dump(det, path)
        loaded = joblib.load(path)
    else:
        loaded = pickle.loads(pickle.dumps(det))
    pd.testing.assert_frame_equal(whole, loaded.score(frame.iloc[N_FIT:]))


def test_frequent_spikes_each_raise_an_alarm() -> None:
    # Spikes every 60 rows on a noisy level, each smaller than the one before: the calibration
    # quantile of each view is robust to earlier spikes (they are rarer than 2 % of the rows), so
    # each still stands out.
    rng = np.random.default_rng(5)
    index = pd.date_range("2026-01-01", periods=1400, freq="1h", tz="UTC")
    spiky = pd.DataFrame({"value": 50 + rng.normal(0, 1.0, 1400)}, index=index)
    starts = list(range(500, 1400, 60))
    for k, row in enumerate(starts):
        spiky.iloc[row, 0] += 30.0 - k
    # The quiet period after an alarm (quiet_fraction of the fit rows) is shorter than the
    # spacing of the spikes here: each one is a new event.
    detector = AnomalyDetector(history=2000, quiet_fraction=0.1).fit(spiky.iloc[:N_FIT])
    combined = detector.score(spiky.iloc[N_FIT:])["combined"].to_numpy()
    first_alarm = {row: combined[row - N_FIT : row - N_FIT + 3].max() for row in starts}
    assert min(first_alarm.values()) > 0.55, first_alarm
    quiet = np.ones(len(combined), bool)
    for row in starts:
        quiet[row - N_FIT : row - N_FIT + 12] = False
    assert combined[quiet].max() < 0.55
