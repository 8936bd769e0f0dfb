from __future__ import annotations

import math

import numpy as np
import pytest

from nexus_ml.decide.confidence import exceed_probability, z_for_level


def test_z_of_80_percent_interval() -> None:
    assert z_for_level(80) == pytest.approx(1.2815515655, rel=1e-6)


def test_probability_half_at_the_mean_and_monotone_in_threshold() -> None:
    mean, lo, hi = [100.0], [90.0], [110.0]
    assert exceed_probability(mean, lo, hi, 100.0) == pytest.approx(0.5)
    # the 80 % interval's upper bound is the 90th percentile
    assert exceed_probability(mean, lo, hi, 110.0) == pytest.approx(0.10, abs=1e-6)
    ps = [exceed_probability(mean, lo, hi, t) for t in (80, 95, 105, 130)]
    assert ps == sorted(ps, reverse=True)


def test_probability_is_calibrated_on_normal_draws() -> None:
    rng = np.random.default_rng(7)
    sigma, mean, threshold = 10.0, 100.0, 112.0
    half = 1.2815515655 * sigma
    p = exceed_probability([mean], [mean - half], [mean + half], threshold)
    observed = float(np.mean(rng.normal(mean, sigma, 200_000) > threshold))
    assert p == pytest.approx(observed, abs=0.005)


def test_horizon_takes_the_most_likely_step_and_skips_nan() -> None:
    p = exceed_probability([50.0, 100.0, math.nan], [45.0, 90.0, 1.0], [55.0, 110.0, 2.0], 100.0)
    assert p == pytest.approx(0.5)


def test_empty_horizon_is_uninformative_and_lengths_must_match() -> None:
    assert exceed_probability([], [], [], 1.0) == 0.5
    with pytest.raises(ValueError, match="same length"):
        exceed_probability([1.0], [1.0, 2.0], [1.0], 1.0)
