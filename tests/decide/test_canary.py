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


def test_a_shift_within_the_baselines_own_minute_to_minute_noise_passes() -> None:
    # a healthy 0.2 % error rate wandering ±30 %, by chance high for 5 minutes: significant and
    # 1.55x the median, but the shift is under 3 robust standard deviations of the baseline
    base = [1.87, 0.68, 2.1, 1.75, 1.53, 1.2, 1.73, 1.98, 1.42]
    noisy = [2.69, 2.65, 3.5, 1.89, 3.08]
    j = judge_metric("error_rate", [v / 1000 for v in base], [v / 1000 for v in noisy])
    assert j.p_value is not None and j.p_value < 0.05
    assert j.verdict is Verdict.PASS
    # the same baseline against a real error burst still fails
    burst = [v / 1000 + 0.05 for v in noisy]
    assert judge_metric("error_rate", [v / 1000 for v in base], burst).verdict is Verdict.HIGH


def test_a_flat_baseline_keeps_the_ratio_test() -> None:
    # no spread at all (zero errors): any significant rise beyond the ratio fails
    j = judge_metric("error_rate", [0.0] * 10, [0.01, 0.012, 0.011, 0.013, 0.01])
    assert j.verdict is Verdict.HIGH


def test_a_significant_rise_of_a_tiny_error_rate_is_immaterial() -> None:
    # 0.16 % → 0.27 % errors, steady on both sides: real, tripled-ish, but under the floor
    base = [0.0016 + 0.00002 * (i % 3) for i in range(10)]
    after = [0.0027 + 0.00002 * (i % 3) for i in range(6)]
    j = judge_metric("error_rate", base, after)
    assert j.p_value is not None and j.p_value < 0.01 and j.verdict is Verdict.PASS
    # from half a percentage point up the ratio counts again
    assert judge_metric("error_rate", base, [v + 0.01 for v in after]).verdict is Verdict.HIGH
