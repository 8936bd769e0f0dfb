"""Model selection that never scores a series with a setting chosen on it.

Every setting (or method) of a detector is chosen by *leave-one-group-out* cross-validation:
the groups are NAB's categories (or the Microsoft dataset's domains); for each group the
candidate with the best NAB score on the *other* groups is chosen, and its results on the
held-out group are what the out-of-fold score is made of. Two out-of-fold figures are reported:

* ``out_of_fold``: the held-out results of every fold put together and scored as NAB scores any
  detector (one threshold per profile swept over the whole corpus);
* ``out_of_fold_strict``: the threshold is a setting too, so each held-out group is scored at
  the threshold that was best on the other groups (nothing at all is learned from the group).

The in-sample figure is the usual one: the candidate and the threshold that score best on the
whole corpus. A gap of more than a few points between in-sample and out-of-fold means the
choice fits the corpus rather than the problem. See ``docs/model-selection.md``.

Candidates are compared on results computed once per candidate (each file's scores depend only
on the file and the candidate), so the cross-validation itself costs no detector runs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from nexus_ml.errors import InputError
from nexus_ml.evaluate.nab.scoring import (
    PROFILES,
    LabelledSeries,
    Profile,
    score_corpus,
    score_profile,
    sweep_thresholds,
)

#: The profile settings are chosen on (the one NAB ranks detectors by).
SELECTION_PROFILE = "standard"

#: Views of the detector compared as a method choice: the robust z alone, or with shape views.
VIEW_CHOICES: dict[str, tuple[int, ...]] = {"robust": (), "robust+shape": (4, 16, 64)}
#: Combined ratio that raises an alarm and starts a quiet period. Rows between NAB's threshold
#: and the alarm level count as detections but start no quiet period, so they can repeat; how
#: low the level should be is left to the folds (a ladder around the former fixed 1.5).
ALARM_CHOICES: tuple[float, ...] = (1.25, 1.5, 2.0)
#: The lowest z the robust view is compared with (how far out a calm series' point must be).
FLOOR_CHOICES: tuple[float, ...] = (4.0, 6.0)
# The quiet period after an alarm is not a candidate: it is fixed by a published convention
# (the detector's default, a fifth of the fit rows as NAB's CAD OSE rest period). As a
# candidate the NAB folds chose 0.1, 0.33 and 0.67 of the fit rows, each against the category
# it held out, and that disagreement cost 3.8 points out of fold (docs/model-selection.md).


def anomaly_candidates() -> dict[str, dict[str, Any]]:
    """The :class:`~nexus_ml.models.anomaly.detector.AnomalyDetector` settings cross-validation
    picks from: every combination of :data:`VIEW_CHOICES`, :data:`ALARM_CHOICES` and
    :data:`FLOOR_CHOICES` (12), simplest first. Everything else keeps its default."""
    return {
        f"{views} alarm={alarm:g} floor={floor:g}": {
            "window_lengths": lengths,
            "alarm_ratio": alarm,
            "robust_floor": floor,
        }
        for views, lengths in VIEW_CHOICES.items()
        for alarm in ALARM_CHOICES
        for floor in FLOOR_CHOICES
    }


@dataclass(frozen=True)
class FoldChoice:
    """What one fold chose: the candidate, with its score on the groups it was chosen on."""

    held_out: str
    chosen: str
    train_score: float
    thresholds: Mapping[str, float]  # per profile, best on the training groups


@dataclass(frozen=True)
class SelectionReport:
    """In-sample and out-of-fold NAB scores of a leave-one-group-out choice."""

    in_sample_choice: str
    in_sample: Mapping[str, float]  # normalised score per profile
    out_of_fold: Mapping[str, float]
    out_of_fold_strict: Mapping[str, float]
    folds: tuple[FoldChoice, ...]
    candidate_scores: Mapping[str, float]  # in-sample standard score of every candidate

    @property
    def gap(self) -> float:
        """In-sample minus out-of-fold standard score (points)."""
        return float(self.in_sample[SELECTION_PROFILE] - self.out_of_fold[SELECTION_PROFILE])


def category_of(name: str) -> str:
    """The group of a result: the folder part of ``<category>/<file>.csv``."""
    return name.split("/", 1)[0]


def _standard(series: Sequence[LabelledSeries], n_windows: int | None = None) -> float:
    profile = next(p for p in PROFILES if p.name == SELECTION_PROFILE)
    return float(score_profile(series, profile, n_windows).normalised)


def _total_at(series: Sequence[LabelledSeries], profile: Profile, threshold: float) -> float:
    """The raw NAB total of ``series`` when every row scoring ``>= threshold`` is a detection."""
    thresholds, totals, _, _ = sweep_thresholds(series, profile)
    # Candidates are decreasing; the rows detected at `threshold` are those of the last
    # candidate that is still >= it.
    above = np.flatnonzero(thresholds >= threshold)
    return float(totals[above[-1]] if above.size else totals[0])


def leave_one_group_out(
    candidates: Mapping[str, Sequence[LabelledSeries]],
    *,
    group_of: Callable[[str], str] = category_of,
    n_labelled_windows: int | None = None,
) -> SelectionReport:
    """Choose among ``candidates`` by leave-one-group-out NAB score.

    Parameters
    ----------
    candidates
        Candidate name → its results on every file (the same files, in the same order, for
        every candidate). Ties go to the candidate listed first, so list the simplest first.
    group_of
        Maps a result's name to its group (default: the NAB category folder).
    n_labelled_windows
        Windows of the label file, for NAB's perfect score (default: those of the results).

    Returns
    -------
    SelectionReport
        In-sample and out-of-fold normalised scores per profile and each fold's choice.

    Raises
    ------
    InputError
        No candidates, candidates scored on different files, or fewer than two groups.
    """
    if not candidates:
        raise InputError("leave_one_group_out needs at least one candidate")
    names = list(candidates)
    files = [s.name for s in candidates[names[0]]]
    for name in names[1:]:
        if [s.name for s in candidates[name]] != files:
            raise InputError(f"candidate {name!r} was not run on the same files as {names[0]!r}")
    groups = sorted({group_of(f) for f in files})
    if len(groups) < 2:
        raise InputError(f"leave-one-group-out needs two or more groups, got {groups}")

    whole = {name: _standard(candidates[name], n_labelled_windows) for name in names}
    best_whole = max(names, key=lambda n: whole[n])  # max keeps the first of equals
    in_sample = {
        p: r.normalised
        for p, r in score_corpus(
            candidates[best_whole], n_labelled_windows=n_labelled_windows
        ).items()
    }

    folds: list[FoldChoice] = []
    assembled: list[LabelledSeries] = []
    strict_totals = dict.fromkeys((p.name for p in PROFILES), 0.0)
    for group in groups:
        keep = [group_of(f) != group for f in files]
        train = {n: [s for s, k in zip(candidates[n], keep, strict=True) if k] for n in names}
        scores = {n: _standard(train[n]) for n in names}
        chosen = max(names, key=lambda n: scores[n])
        held = [s for s, k in zip(candidates[chosen], keep, strict=True) if not k]
        thresholds = {p.name: score_profile(train[chosen], p).threshold for p in PROFILES}
        for p in PROFILES:
            strict_totals[p.name] += _total_at(held, p, thresholds[p.name])
        assembled.extend(held)
        folds.append(FoldChoice(group, chosen, scores[chosen], thresholds))

    out_of_fold = {
        p: r.normalised
        for p, r in score_corpus(assembled, n_labelled_windows=n_labelled_windows).items()
    }
    strict = {}
    n_windows = (
        sum(len(s.windows) for s in assembled) if n_labelled_windows is None else n_labelled_windows
    )
    for p in PROFILES:
        null = _total_at(assembled, p, 1.1)  # 1.1: above every score, no detection
        perfect = p.tp_weight * n_windows
        span = perfect - null
        strict[p.name] = 100.0 * (strict_totals[p.name] - null) / span if span else 0.0
    return SelectionReport(
        in_sample_choice=best_whole,
        in_sample=in_sample,
        out_of_fold=out_of_fold,
        out_of_fold_strict=strict,
        folds=tuple(folds),
        candidate_scores=whole,
    )
