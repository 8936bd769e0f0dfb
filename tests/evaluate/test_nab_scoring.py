"""NAB scorer: reproduces NAB's official scores, and the scoring rules on small hand-made cases."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from nexus_ml.errors import InputError
from nexus_ml.evaluate.nab.corpus import detector_dirs, load_results, read_windows
from nexus_ml.evaluate.nab.scoring import (
    PROFILES,
    LabelledSeries,
    probationary_length,
    scaled_sigmoid,
    score_corpus,
    score_profile,
)
from tests.conftest import SharedData

STANDARD = PROFILES[0]


@pytest.mark.shared_data
@pytest.mark.parametrize("detector", ["numenta", "windowedGaussian"])
def test_reproduces_official_scores_on_all_profiles(shared_data: SharedData, detector: str) -> None:
    nab = shared_data.file("anomaly/nab")
    windows = read_windows(nab / "labels" / "combined_windows.json")
    official = json.loads(
        (nab / "reference_results" / "official_scores_dev_subset.json").read_text()
    )
    series = load_results(nab / "reference_results" / detector, windows)
    assert len(series) == 25

    results = score_corpus(series, n_labelled_windows=sum(len(w) for w in windows.values()))

    for profile in PROFILES:
        got = results[profile.name].normalised
        assert got == pytest.approx(official[detector][profile.name], abs=0.1), profile.name


@pytest.mark.shared_data
def test_reference_layout_lists_each_detector(shared_data: SharedData) -> None:
    nab = shared_data.file("anomaly/nab")
    windows = read_windows(nab / "labels" / "combined_windows.json")
    found = detector_dirs(nab / "reference_results", windows)
    assert set(found) == {"numenta", "windowedGaussian"}


def test_probationary_period_is_15_percent_capped_at_750() -> None:
    assert probationary_length(1000) == 150
    assert probationary_length(22695) == 750


def test_scaled_sigmoid_matches_nab_landmarks() -> None:
    values = scaled_sigmoid(np.array([-1.0, 0.0, 1.0, 3.0, 10.0]))
    np.testing.assert_allclose(values[:3], [0.98661, 0.0, -0.98661], atol=1e-5)
    assert values[3] == -1.0 and values[4] == -1.0


def _series(scores: list[float], windows: tuple[tuple[int, int], ...]) -> LabelledSeries:
    return LabelledSeries("cat/f.csv", np.asarray(scores, dtype=float), windows)


def test_earliest_detection_at_window_start_earns_full_credit() -> None:
    scores = [0.0] * 100
    scores[40] = 1.0  # first row of the window
    result = score_profile([_series(scores, ((40, 49),))], STANDARD)
    assert result.raw_score == pytest.approx(1.0)
    assert result.normalised == pytest.approx(100.0)


def test_later_detection_earns_less_and_only_once_per_window() -> None:
    early = [0.0] * 100
    early[40] = 1.0
    late = [0.0] * 100
    late[45] = late[46] = late[47] = 1.0
    s_early = score_profile([_series(early, ((40, 49),))], STANDARD).raw_score
    s_late = score_profile([_series(late, ((40, 49),))], STANDARD).raw_score
    assert 0.0 < s_late < s_early
    # three detections in the window count as one: at most A_TP
    assert s_late <= 1.0


def test_false_positive_before_any_window_costs_full_weight() -> None:
    scores = [0.0] * 100
    scores[20] = 1.0  # after the 15-row probation, before the window
    scores[60] = 1.0
    result = score_profile([_series(scores, ((60, 69),))], STANDARD)
    assert result.raw_score == pytest.approx(1.0 - 0.11)


def test_detections_in_the_probationary_period_are_ignored() -> None:
    scores = [0.0] * 100
    scores[5] = 1.0
    result = score_profile([_series(scores, ((60, 69),))], STANDARD)
    assert result.raw_score == pytest.approx(-1.0)  # the window is missed, no FP counted
    assert result.normalised == pytest.approx(0.0)


def test_missing_result_file_is_an_input_error(tmp_path: Path) -> None:
    labels = tmp_path / "labels.json"
    labels.write_text(json.dumps({"cat/a.csv": [], "cat/b.csv": []}))
    (tmp_path / "res" / "cat").mkdir(parents=True)
    (tmp_path / "res" / "cat" / "a.csv").write_text(
        "timestamp,value,anomaly_score\n2020-01-01 00:00:00,1,0.5\n"
    )
    with pytest.raises(InputError, match=r"cat/b\.csv"):
        load_results(tmp_path / "res", read_windows(labels))
