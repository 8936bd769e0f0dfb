from __future__ import annotations

import numpy as np

from nexus_ml.decide.canary import Verdict, judge_canary, judge_metric
from nexus_ml.domain import ErrorType

RNG = np.random.default_rng(3)
BASE_ERR = list(RNG.normal(0.01, 0.002, 30).clip(0))
BASE_RT = list(RNG.normal(150, 15, 30))


def test_same_distribution_passes() -> None:
    same = list(RNG.normal(150, 15, 30))
    assert judge_metric("response_time", BASE_RT, same).verdict is Verdict.PASS


def test_significant_increase_beyond_the_allowed_effect_is_high() -> None:
    worse = list(RNG.normal(300, 20, 30))
    j = judge_metric("response_time", BASE_RT, worse)
    assert j.verdict is Verdict.HIGH and j.p_value is not None and j.p_value < 0.001


def test_significant_but_small_increase_passes() -> None:
    # Kayenta's effect size: a 5 % slower release is real but tolerated
    slightly = [v * 1.05 for v in BASE_RT]
    assert judge_metric("response_time", BASE_RT, slightly).verdict is Verdict.PASS


def test_too_few_samples_is_nodata() -> None:
    assert judge_metric("error_rate", BASE_ERR, [0.5, 0.5]).verdict is Verdict.NODATA


def test_error_regression_fails_the_release_as_an_error_burst() -> None:
    errors = list(RNG.normal(0.08, 0.01, 30))
    report = judge_canary(
        {"error_rate": BASE_ERR, "response_time": BASE_RT},
        {"error_rate": errors, "response_time": list(RNG.normal(150, 15, 30))},
    )
    assert report.regression and report.error_type is ErrorType.ERROR_BURST
    assert report.score == 50.0
    assert "error_rate" in report.summary()


def test_latency_only_regression_is_performance_degradation() -> None:
    report = judge_canary(
        {"error_rate": BASE_ERR, "response_time": BASE_RT},
        {
            "error_rate": list(RNG.normal(0.01, 0.002, 30).clip(0)),
            "response_time": list(RNG.normal(400, 30, 30)),
        },
    )
    assert report.regression and report.error_type is ErrorType.PERFORMANCE_DEGRADATION


def test_healthy_release_passes() -> None:
    report = judge_canary(
        {"error_rate": BASE_ERR}, {"error_rate": list(RNG.normal(0.01, 0.002, 30).clip(0))}
    )
    assert not report.regression and report.score == 100.0
