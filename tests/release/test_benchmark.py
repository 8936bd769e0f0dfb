"""The issue's targets on a small scenario set, and the fixed-threshold reference beside it.

Seeds: the judge's settings and the analysis interval were chosen on seeds 101-108 and the
fixed gate is calibrated on seed 101 (TUNING_SEED); this test reports on seed 5, never used
for a setting.
"""

from __future__ import annotations

import pytest

from nexus_ml.catalog import load_catalog
from nexus_ml.release.analysis import AnalysisSettings, JudgeGate, run_analysis
from nexus_ml.release.benchmark import GateSummary, evaluate, summarise
from nexus_ml.release.fixed_gate import FixedThresholdGate, calibrate_fixed_thresholds
from nexus_ml.release.scenarios import KINDS, generate_scenarios

TUNING_SEED, TEST_SEED = 101, 5
COUNTS = {k: (12 if k == "good" else 3) for k in KINDS}  # 30 scenarios


@pytest.fixture(scope="module")
def summaries() -> dict[str, GateSummary]:
    catalog = load_catalog()
    settings = AnalysisSettings()
    thresholds = calibrate_fixed_thresholds(
        generate_scenarios(catalog, COUNTS, seed=TUNING_SEED), settings
    )
    scenarios = generate_scenarios(catalog, COUNTS, seed=TEST_SEED)
    outcomes = evaluate(
        scenarios,
        [lambda sc: JudgeGate(), lambda sc: FixedThresholdGate(thresholds, sc.module)],
        settings,
    )
    return {s.gate: s for s in summarise(outcomes, settings.abort_bound_s)}


def test_judge_meets_the_targets(summaries: dict[str, GateSummary]) -> None:
    judge = summaries["judge"]
    assert judge.scenarios == sum(COUNTS.values())
    met = judge.meets(AnalysisSettings().abort_bound_s)
    assert met["correct >= 95%"] and met["false aborts <= 5%"], judge
    assert met["silent rollbacks 100%"], judge
    assert met["aborts within 900s with enough traffic"], judge
    # Below MIN_REQUESTS_PER_INTERVAL a +1 point error rate can take a third interval to show
    # (one of the 18 faulty releases of this seed, errors_5xx on CRM at ~150 requests/min):
    # the abort-time target holds for releases with enough staging traffic, not for all.
    assert judge.within_bound >= 0.9, judge


def test_fixed_thresholds_miss_silent_rollbacks(summaries: dict[str, GateSummary]) -> None:
    # it reads no release status: it only fails a rollback whose metrics happen to cross a limit
    fixed = summaries["fixed"]
    assert fixed.rollbacks_caught < 1.0
    assert fixed.correct < summaries["judge"].correct


def test_failure_limit_counts_failed_measurements() -> None:
    catalog = load_catalog()
    (sc,) = generate_scenarios(catalog, {"failing_healthcheck": 1}, seed=TEST_SEED)
    for limit in (1, 2, 3):
        settings = AnalysisSettings(interval_s=300, failure_limit=limit)
        result = run_analysis(
            JudgeGate(),
            sc.baseline,
            sc.candidate,
            start=sc.start,
            duration_s=sc.duration_s,
            settings=settings,
        )
        assert result.verdict == "Failed" and result.failures == limit
        assert result.aborted_at_s == 300 * limit
    with pytest.raises(ValueError, match="failure_limit"):
        AnalysisSettings(failure_limit=0)
