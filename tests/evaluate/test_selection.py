"""Leave-one-group-out selection: a group is never scored with a choice made on it."""

from __future__ import annotations

import numpy as np
import pytest

from nexus_ml.errors import InputError
from nexus_ml.evaluate.anomaly_selection import anomaly_candidates, leave_one_group_out
from nexus_ml.evaluate.nab.scoring import LabelledSeries

N = 1000
WINDOW = ((600, 640),)


def _series(name: str, hit: bool) -> LabelledSeries:
    """A file with one window: the detector fires early inside it, or only far after it."""
    scores = np.zeros(N)
    scores[605 if hit else 900] = 0.9
    return LabelledSeries(name, scores, WINDOW)


def _candidates() -> dict[str, list[LabelledSeries]]:
    # "wide" finds the windows of groups a and b; "narrow" only those of group c.
    files = [f"{g}/{k}.csv" for g in "abc" for k in range(2)]
    return {
        "wide": [_series(f, f[0] in "ab") for f in files],
        "narrow": [_series(f, f[0] == "c") for f in files],
    }


def test_each_fold_chooses_on_the_other_groups_only() -> None:
    report = leave_one_group_out(_candidates())
    chosen = {f.held_out: f.chosen for f in report.folds}
    # Held out c, the choice made on a and b is "wide", which misses c's windows.
    assert chosen == {"a": "wide", "b": "wide", "c": "wide"}
    assert report.in_sample_choice == "wide"
    assert report.in_sample["standard"] == pytest.approx(report.out_of_fold["standard"])
    # (Held out a or b, the other two groups tie; the candidate listed first wins.)
    assert report.gap == pytest.approx(0.0)


def test_out_of_fold_is_below_in_sample_when_the_choice_depends_on_the_group() -> None:
    candidates = _candidates()
    # Four more files in group c: on everything "narrow" now wins (6 windows against 4), a
    # choice the fold holding out c cannot make — its out-of-fold score shows the difference.
    extra = [f"c/{k}.csv" for k in range(2, 6)]
    candidates["wide"] += [_series(f, False) for f in extra]
    candidates["narrow"] += [_series(f, True) for f in extra]
    report = leave_one_group_out(candidates)
    assert report.in_sample_choice == "narrow"
    assert {f.held_out: f.chosen for f in report.folds}["c"] == "wide"
    assert report.out_of_fold["standard"] < report.in_sample["standard"]
    assert report.gap > 5.0


def test_strict_scoring_uses_the_training_threshold() -> None:
    candidates = _candidates()
    # A weak detection (0.3) in group a's windows: the threshold chosen on b and c (0.9) misses
    # it, while NAB's sweep over all held-out results lowers the threshold and finds it.
    for s in candidates["wide"]:
        if s.name.startswith("a/"):
            s.scores[605] = 0.3
    report = leave_one_group_out(candidates)
    assert report.out_of_fold_strict["standard"] < report.out_of_fold["standard"]


def test_candidates_must_share_files_and_groups() -> None:
    candidates = _candidates()
    candidates["narrow"] = candidates["narrow"][:-1]
    with pytest.raises(InputError, match="same files"):
        leave_one_group_out(candidates)
    one_group = {"x": [_series("a/0.csv", True), _series("a/1.csv", True)]}
    with pytest.raises(InputError, match="two or more groups"):
        leave_one_group_out(one_group)


def test_the_anomaly_grid_lists_twelve_settings_simplest_first() -> None:
    grid = anomaly_candidates()
    assert len(grid) == 12
    first = next(iter(grid.values()))
    assert first["window_lengths"] == ()
    # The quiet period is fixed by convention, not chosen: no candidate sets it.
    assert all("quiet_fraction" not in params for params in grid.values())
