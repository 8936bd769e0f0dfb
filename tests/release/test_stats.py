"""The judge's statistics against their definitions."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from nexus_ml.release.stats import hodges_lehmann_shift, mann_whitney_p, two_proportion_p


def test_hodges_lehmann_is_the_median_of_pairwise_differences() -> None:
    rng = np.random.default_rng(1)
    b, c = rng.normal(10, 2, 37), rng.normal(13, 2, 41)
    brute = np.median([ci - bj for ci in c for bj in b])
    assert hodges_lehmann_shift(b, c) == pytest.approx(brute)


def test_hodges_lehmann_on_large_samples_stays_close_to_the_exact_shift() -> None:
    rng = np.random.default_rng(2)
    b, c = rng.gamma(2, 50, 3000), rng.gamma(2, 50, 3000) + 25.0
    assert hodges_lehmann_shift(b, c) == pytest.approx(25.0, abs=6.0)


def test_hodges_lehmann_ignores_an_outlier() -> None:
    b = np.array([10.0, 11, 12, 13, 14])
    c = np.array([10.0, 11, 12, 13, 1e6])
    assert hodges_lehmann_shift(b, c) == pytest.approx(0.0, abs=1.0)


def test_mann_whitney_direction_and_constant_samples() -> None:
    b = np.arange(20.0)
    assert mann_whitney_p(b, b + 15, "greater") < 0.001
    assert mann_whitney_p(b, b + 15, "less") > 0.99
    assert mann_whitney_p(np.ones(5), np.ones(5), "two-sided") == 1.0


def test_two_sided_two_proportion_test_equals_pearson_chi_square() -> None:
    x_b, n_b, x_c, n_c = 12, 4100, 45, 4169
    table = [[x_b, n_b - x_b], [x_c, n_c - x_c]]
    chi2 = stats.chi2_contingency(table, correction=False)
    assert two_proportion_p(x_b, n_b, x_c, n_c, "two-sided") == pytest.approx(chi2.pvalue)
    one_sided = two_proportion_p(x_b, n_b, x_c, n_c, "greater")
    assert one_sided == pytest.approx(chi2.pvalue / 2)


def test_two_proportions_without_events_carry_no_evidence() -> None:
    assert two_proportion_p(0, 100, 0, 100, "greater") == 1.0
    with pytest.raises(ValueError, match="at least one trial"):
        two_proportion_p(0, 0, 1, 10, "greater")
