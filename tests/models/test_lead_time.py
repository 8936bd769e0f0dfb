"""Contract of the lead-time peak forecaster: sklearn conventions, causality, coverage."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.exceptions import NotFittedError

from nexus_ml.errors import InputError
from nexus_ml.models.forecast.lead_time import LeadTimeQuantileForecaster

DAY = 288  # a short synthetic "day" keeps the tests fast


def noisy_daily(days: int, seed: int = 0) -> np.ndarray:
    rng = np.random.default_rng(seed)
    t = np.arange(days * DAY)
    return 100 + 30 * np.sin(2 * np.pi * t / DAY) + rng.normal(0, 4, t.size)


def small_model(**kw: object) -> LeadTimeQuantileForecaster:
    params: dict[str, object] = {"season": DAY, "calib_window": 500, "seasonal_days": 3}
    params.update(kw)
    return LeadTimeQuantileForecaster(**params)


def peaks(y: np.ndarray, lead_time: int) -> np.ndarray:
    """peaks[o] = max(y[o+1 .. o+1+lead_time]), the quantity predicted from origin o."""
    n = y.size - lead_time - 1
    return np.array([y[o + 1 : o + 2 + lead_time].max() for o in range(n)])


def test_fit_returns_self_and_clone_keeps_params() -> None:
    model = small_model(level=0.9)
    assert model.fit(noisy_daily(1)) is model
    copy = clone(model)
    assert copy.get_params()["level"] == 0.9
    assert not hasattr(copy, "y_")


def test_unfitted_model_raises_not_fitted() -> None:
    model = small_model()
    with pytest.raises(NotFittedError):
        model.predict_upper()
    with pytest.raises(NotFittedError):
        model.update([1.0])
    with pytest.raises(NotFittedError):
        small_model().fit([]).exceed_probability(1.0)


@pytest.mark.parametrize(
    ("param", "value"),
    [
        ("level", 1.5),
        ("lead_time", -1),
        ("centre_weights", ()),
        ("centre_weights", (1.2,)),
        ("lags", -1),
    ],
)
def test_bad_parameters_are_rejected_with_the_value(param: str, value: object) -> None:
    with pytest.raises(InputError, match="got"):
        small_model(**{param: value}).fit([1.0, 2.0])


def test_updates_equal_one_fit_and_predictions_use_only_the_past() -> None:
    y = noisy_daily(3, seed=1)
    whole = small_model().fit(y[:700])
    stepwise = small_model().fit(y[:400])
    for value in y[400:700]:
        stepwise.update([value])
    assert stepwise.predict_upper() == pytest.approx(whole.predict_upper())
    # Whatever comes next cannot change a prediction already made.
    before = whole.predict_upper()
    whole.update(y[700:800])
    assert small_model().fit(y[:700]).predict_upper() == pytest.approx(before)


def test_upper_quantile_covers_the_lead_time_peak_at_its_level() -> None:
    y = noisy_daily(8, seed=2)
    lead_time, start = 2, 4 * DAY
    # Walk origin by origin: the model has seen y[: o + 1] when predicting from origin o.
    model = small_model(lead_time=lead_time, level=0.9).fit(y[: start + 1])
    uppers = []
    for o in range(start, y.size - lead_time - 1):
        uppers.append(model.predict_upper())
        model.update([y[o + 1]])
    coverage = np.mean(peaks(y, lead_time)[start:] <= np.asarray(uppers))
    assert 0.85 <= coverage <= 0.95


def test_exceed_probability_is_monotone_and_consistent_with_the_quantile() -> None:
    model = small_model(level=0.9).fit(noisy_daily(4, seed=3))
    upper = model.predict_upper()
    probs = [model.exceed_probability(upper + delta) for delta in (-40, -10, 0, 10, 40)]
    assert probs == sorted(probs, reverse=True)
    assert probs[0] > 0.9
    assert probs[2] == pytest.approx(0.1, abs=0.02)
    assert probs[-1] < 0.01


def test_robust_centre_is_learned_on_reverting_spikes() -> None:
    rng = np.random.default_rng(4)
    y = 100 + rng.normal(0, 1, 6 * DAY)
    spikes = rng.choice(y.size, size=y.size // 15, replace=False)
    y[spikes] += 60  # one-minute spikes that revert at once: the last value misleads
    model = small_model().fit(y)
    assert model.centre_weight != 1.0  # not the last value alone
    smooth = small_model().fit(100 + np.cumsum(rng.normal(0, 1, 6 * DAY)))
    assert smooth.centre_weight != 0.0  # on a random walk the last value is informative


def test_lag_regression_learns_short_term_memory() -> None:
    """Demand that alternates minute by minute (two batch jobs taking turns): no blend of the
    last value and the median predicts the next minute, the lag regression does."""
    rng = np.random.default_rng(6)
    n = 4 * DAY
    y = 100 + 20 * (-1.0) ** np.arange(n) + rng.normal(0, 1, n)
    start = 2 * DAY
    model = small_model(lead_time=0, level=0.9).fit(y[: start + 1])
    blends = small_model(lead_time=0, level=0.9, lags=0).fit(y[: start + 1])
    uppers, blend_uppers = [], []
    for o in range(start, n - 1):
        uppers.append(model.predict_upper())
        blend_uppers.append(blends.predict_upper())
        model.update([y[o + 1]])
        blends.update([y[o + 1]])
    actual = y[start + 1 :]
    assert model.centre_weight is None  # the lag regression's centre is in use
    assert 0.85 <= np.mean(actual <= np.asarray(uppers)) <= 0.95
    # Same coverage target, far tighter: the bound follows the alternation.
    width = np.mean(np.asarray(uppers) - actual)
    assert width < 3.0
    assert width < 0.2 * np.mean(np.asarray(blend_uppers) - actual)


def test_ready_step_model_predicts_that_step_only() -> None:
    y = noisy_daily(5, seed=5)
    lead_time, start = 2, 3 * DAY
    window = small_model(lead_time=lead_time, level=0.9).fit(y[: start + 1])
    ready = small_model(lead_time=lead_time, level=0.9, first_step=lead_time + 1)
    ready.fit(y[: start + 1])
    ready_upper, window_upper = [], []
    for o in range(start, y.size - lead_time - 1):
        ready_upper.append(ready.predict_upper())
        window_upper.append(window.predict_upper())
        ready.update([y[o + 1]])
        window.update([y[o + 1]])
    # The step a replica started now is ready at is one value; the window's peak is a maximum.
    assert np.mean(ready_upper) < np.mean(window_upper)
    coverage = np.mean(y[start + lead_time + 1 :] <= np.asarray(ready_upper))
    assert 0.85 <= coverage <= 0.95
    with pytest.raises(InputError, match="first_step"):
        small_model(first_step=lead_time + 2).fit(y[:10])
