"""Online isotonic calibrator: biased probabilities are mapped to observed frequencies."""

from __future__ import annotations

import warnings

import numpy as np
import pytest

from nexus_ml.errors import InputError
from nexus_ml.models.calibration import OnlineIsotonicCalibrator, OnlinePlattCalibrator


def feed(
    cal: OnlineIsotonicCalibrator | OnlinePlattCalibrator, raw: np.ndarray, outcome: np.ndarray
) -> None:
    for p, hit in zip(raw, outcome, strict=True):
        cal.record(float(p), bool(hit))


def test_raw_probability_is_reported_until_enough_outcomes() -> None:
    cal = OnlineIsotonicCalibrator(min_samples=50)
    feed(cal, np.full(49, 0.8), np.zeros(49))
    assert cal.calibrate(0.8) == pytest.approx(0.8)
    cal.record(0.8, False)
    assert cal.calibrate(0.8) == pytest.approx(0.0)


def test_overconfident_probabilities_are_mapped_to_frequencies() -> None:
    rng = np.random.default_rng(0)
    raw = rng.uniform(0, 1, 5000)
    outcome = rng.uniform(0, 1, raw.size) < raw / 2  # the model claims twice the real risk
    cal = OnlineIsotonicCalibrator(window=5000)
    feed(cal, raw, outcome)
    for p in (0.2, 0.5, 0.8):
        assert cal.calibrate(p) == pytest.approx(p / 2, abs=0.06)
    grid = np.linspace(0, 1, 21)
    mapped = cal.calibrate_many(grid)
    assert np.all(np.diff(mapped) >= 0)  # isotonic: more raw risk never means less
    assert mapped == pytest.approx([cal.calibrate(p) for p in grid])


def test_window_forgets_old_outcomes() -> None:
    rng = np.random.default_rng(1)
    raw = rng.uniform(0, 1, 1000)
    cal = OnlineIsotonicCalibrator(window=300, refit_every=10)
    feed(cal, raw, np.ones(raw.size))
    assert cal.calibrate(0.5) == pytest.approx(1.0)
    feed(cal, raw[:300], np.zeros(300))  # the regime changed: scale-ups are no longer needed
    assert cal.calibrate(0.5) == pytest.approx(0.0)


@pytest.mark.parametrize(
    "kw",
    [{"min_samples": 0}, {"min_samples": 10, "window": 5}, {"refit_every": 0}],
)
def test_bad_parameters_are_rejected_with_the_values(kw: dict[str, int]) -> None:
    with pytest.raises(InputError, match="got"):
        OnlineIsotonicCalibrator(**kw)


# -- Platt scaling ----------------------------------------------------------------------------


def test_platt_recovers_a_known_logistic_distortion() -> None:
    # outcomes drawn from sigmoid(0.5 · logit(raw) - 0.3): the raw probabilities are too extreme
    rng = np.random.default_rng(2)
    raw = rng.uniform(0.02, 0.98, 4000)
    logit = np.log(raw / (1 - raw))
    truth = 1 / (1 + np.exp(-(0.5 * logit - 0.3)))
    cal = OnlinePlattCalibrator(window=4000)
    feed(cal, raw, rng.uniform(0, 1, raw.size) < truth)
    assert cal.coef is not None
    a, b = cal.coef
    assert a == pytest.approx(0.5, abs=0.08) and b == pytest.approx(-0.3, abs=0.1)
    for p in (0.05, 0.5, 0.95):
        expected = 1 / (1 + np.exp(-(0.5 * np.log(p / (1 - p)) - 0.3)))
        assert cal.calibrate(p) == pytest.approx(expected, abs=0.03)
    mapped = cal.calibrate_many(np.linspace(0.01, 0.99, 25))
    assert np.all(np.diff(mapped) > 0)  # the order of raw probabilities is kept


def test_platt_reports_raw_until_enough_and_survives_one_sided_outcomes() -> None:
    cal = OnlinePlattCalibrator(min_samples=40)
    feed(cal, np.full(39, 0.3), np.ones(39))
    assert cal.calibrate(0.3) == pytest.approx(0.3)
    feed(cal, np.full(10, 0.3), np.ones(10))  # every outcome positive: nothing to fit
    assert cal.coef is None and cal.calibrate(0.3) == pytest.approx(0.3)
    # perfectly separated outcomes: Platt's smoothed targets keep the fit finite
    feed(cal, np.full(40, 0.1), np.zeros(40))
    assert cal.coef is not None and all(np.isfinite(cal.coef))
    assert 0.0 < cal.calibrate(0.1) < cal.calibrate(0.3) < 1.0


@pytest.mark.parametrize(
    "kw",
    [{"min_samples": 1}, {"min_samples": 10, "window": 5}, {"refit_every": 0}],
)
def test_platt_bad_parameters_are_rejected_with_the_values(kw: dict[str, int]) -> None:
    with pytest.raises(InputError, match="got"):
        OnlinePlattCalibrator(**kw)


def test_platt_on_extreme_raw_probabilities_is_stable() -> None:
    # a risk model that says "0" or "1" while the truth is 35 % and 72 %: the map must flatten
    # it, without overflow (a plain Newton iteration from the identity diverged here)
    rng = np.random.default_rng(4)
    low = rng.uniform(1e-7, 1e-3, 900)
    high = 1 - rng.uniform(1e-7, 1e-3, 400)
    raw = np.concatenate([low, high])
    outcome = np.concatenate([rng.uniform(0, 1, 900) < 0.35, rng.uniform(0, 1, 400) < 0.72])
    order = rng.permutation(raw.size)
    cal = OnlinePlattCalibrator(window=2000)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        feed(cal, raw[order], outcome[order])
        assert cal.calibrate(5e-4) == pytest.approx(0.35, abs=0.05)
        assert cal.calibrate(1 - 5e-4) == pytest.approx(0.72, abs=0.06)
