"""The judge on synthetic samples whose truth is known."""

from __future__ import annotations

from pathlib import Path

import pytest

from nexus_ml.errors import ConfigError
from nexus_ml.release.config import DEFAULT_CONFIG, JudgeConfig, MetricCheck, load_judge_config
from nexus_ml.release.judge import judge
from nexus_ml.release.verdict import ReleaseStatus

from .helpers import samples

BASE = samples(1)


def by_name(verdict: object, name: str) -> object:
    return next(m for m in verdict.metrics if m.name == name)  # type: ignore[attr-defined]


def test_same_version_is_successful_with_every_metric_passing() -> None:
    v = judge(BASE, samples(2))
    assert v.verdict == "Successful" and v.exit_code == 0
    assert v.score == 100.0
    assert {m.status for m in v.metrics} == {"pass"}
    assert {m.name for m in v.metrics} == {"latency_ms", "error_rate", "call_latency_ms:nexus-crm"}


def test_twenty_percent_more_latency_fails_on_latency() -> None:
    v = judge(BASE, samples(2, latency=240.0))
    lat = by_name(v, "latency_ms")
    assert v.verdict == "Failed" and v.exit_code == 1 and v.score == 0.0
    assert lat.status == "fail" and lat.comparison == "higher"  # type: ignore[attr-defined]
    assert lat.effect == pytest.approx(0.2, abs=0.04)  # type: ignore[attr-defined]
    assert lat.p_value < 0.001  # type: ignore[attr-defined]
    assert "latency_ms" in v.reason


def test_a_significant_shift_inside_the_band_passes() -> None:
    # +4 % with 600 samples a side is highly significant, and allowed (band 10 %)
    v = judge(samples(1, n=600), samples(2, n=600, latency=208.0))
    lat = by_name(v, "latency_ms")
    assert lat.p_value < 0.001 and lat.status == "pass"  # type: ignore[attr-defined]
    assert "within the allowed band" in lat.reason  # type: ignore[attr-defined]
    assert v.verdict == "Successful"


def test_one_point_more_errors_fails_on_error_rate() -> None:
    v = judge(BASE, samples(2, error_rate=0.012))
    err = by_name(v, "error_rate")
    assert v.verdict == "Failed"
    assert err.status == "fail" and err.effect == pytest.approx(0.01, abs=0.003)  # type: ignore[attr-defined]


def test_lower_latency_is_not_a_failure_when_only_increase_is_bad() -> None:
    assert judge(BASE, samples(2, latency=150.0)).verdict == "Successful"
    either = JudgeConfig(
        metrics=[MetricCheck(name="latency_ms", direction="either", critical=True)]
    )
    assert judge(BASE, samples(2, latency=150.0), either).verdict == "Failed"
    decrease = JudgeConfig(metrics=[MetricCheck(name="latency_ms", direction="decrease")])
    v = judge(BASE, samples(2, latency=150.0), decrease)
    assert by_name(v, "latency_ms").comparison == "lower"  # type: ignore[attr-defined]


def test_nan_samples_are_dropped_and_counted() -> None:
    v = judge(BASE, samples(2, latency_nan_every=4))
    lat = by_name(v, "latency_ms")
    assert lat.nan_dropped == 15 and lat.n_candidate == 45  # type: ignore[attr-defined]
    assert lat.status == "pass"  # type: ignore[attr-defined]


def test_missing_required_data_is_inconclusive_or_failed_per_config() -> None:
    dead = samples(2, latency_nan_every=1)  # every latency NaN: a candidate that served nothing
    v = judge(BASE, dead)
    assert by_name(v, "latency_ms").status == "nodata"  # type: ignore[attr-defined]
    assert v.verdict == "Inconclusive" and v.exit_code == 2
    assert "without data: latency_ms" in v.reason
    strict = JudgeConfig(
        metrics=[
            MetricCheck(name="latency_ms", must_have_data=True, on_missing="fail"),
            *DEFAULT_CONFIG.metrics[1:],
        ]
    )
    assert judge(BASE, dead, strict).verdict == "Failed"
    optional = JudgeConfig(metrics=[MetricCheck(name="latency_ms"), *DEFAULT_CONFIG.metrics[1:]])
    assert judge(BASE, dead, optional).verdict == "Successful"


def test_no_metric_with_data_is_inconclusive() -> None:
    cfg = JudgeConfig(metrics=[MetricCheck(name="cpu", metric="cpu_usage")])
    v = judge(BASE, samples(2), cfg)
    assert v.verdict == "Inconclusive" and "no sample metric matches" in v.metrics[0].reason


def test_weighted_score_with_pass_and_marginal_thresholds() -> None:
    cfg = JudgeConfig(
        pass_score=80,
        marginal_score=40,
        metrics=[
            MetricCheck(name="latency_ms", weight=1),
            MetricCheck(
                name="error_rate",
                kind="proportion",
                numerator="errors",
                denominator="requests",
                weight=3,
            ),
        ],
    )
    assert judge(BASE, samples(2, latency=260.0), cfg).verdict == "Inconclusive"  # score 75
    assert judge(BASE, samples(2, latency=260.0), cfg).score == 75.0
    assert judge(BASE, samples(2, error_rate=0.02), cfg).verdict == "Failed"  # score 25
    assert judge(BASE, samples(2), cfg).verdict == "Successful"


@pytest.mark.parametrize(
    ("status", "fails"),
    [
        (ReleaseStatus(update_state="rollback_completed"), True),
        (ReleaseStatus(update_state="rollback_started"), True),
        (ReleaseStatus(update_state="paused"), True),
        (ReleaseStatus(update_state="completed", candidate_version="2", running_version="1"), True),
        (
            ReleaseStatus(update_state="completed", candidate_version="2", running_version="2"),
            False,
        ),
        (ReleaseStatus(update_state="updating"), False),
    ],
)
def test_a_rollback_fails_the_release_whatever_the_metrics(
    status: ReleaseStatus, fails: bool
) -> None:
    v = judge(BASE, samples(2), release_status=status)
    assert (v.verdict == "Failed") is fails
    if fails:
        assert v.score == 0.0 and ("roll" in v.reason or "paused" in v.reason)


def test_config_file_errors_name_the_field_and_value(tmp_path: Path) -> None:
    path = tmp_path / "judge.yaml"
    path.write_text("metrics:\n  - name: latency_ms\n    direction: up\n")
    with pytest.raises(ConfigError) as err:
        load_judge_config(path)
    assert "metrics[0].direction" in str(err.value) and "'up'" in str(err.value)
    assert err.value.exit_code == 2
    path.write_text("metrics:\n  - name: e\n    kind: proportion\n    numerator: errors\n")
    with pytest.raises(ConfigError, match="needs both numerator and denominator"):
        load_judge_config(path)
    path.write_text("pass_score: 40\nmarginal_score: 60\nmetrics: [{name: a}]\n")
    with pytest.raises(ConfigError, match="must not exceed"):
        load_judge_config(path)
    path.write_text("metrics: [\n")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_judge_config(path)


def test_config_file_is_read(tmp_path: Path) -> None:
    path = tmp_path / "judge.yaml"
    path.write_text(
        "alpha: 0.01\nmetrics:\n  - name: latency_ms\n    allowed_effect: 0.3\n    critical: true\n"
    )
    cfg = load_judge_config(path)
    assert cfg.alpha == 0.01 and cfg.metrics[0].allowed_effect == 0.3
    assert judge(BASE, samples(2, latency=240.0), cfg).verdict == "Successful"  # +20 % < 30 %
