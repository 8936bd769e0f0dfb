"""The scenario generator: deterministic, labelled, and each kind moves the metrics it should."""

from __future__ import annotations

import numpy as np
import pytest

from nexus_ml.catalog import Catalog, load_catalog
from nexus_ml.release.analysis import AnalysisSettings, JudgeGate, run_analysis
from nexus_ml.release.scenarios import EXPECTED, KINDS, generate_scenarios


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    return load_catalog()


def one(catalog: Catalog, kind: str, seed: int = 3) -> object:
    return generate_scenarios(catalog, {kind: 1}, seed=seed)[0]


def test_deterministic_in_seed_and_labelled(catalog: Catalog) -> None:
    a = generate_scenarios(catalog, {k: 1 for k in KINDS}, seed=9)
    b = generate_scenarios(catalog, {k: 1 for k in KINDS}, seed=9)
    c = generate_scenarios(catalog, {k: 1 for k in KINDS}, seed=10)
    assert [s.kind for s in a] == list(KINDS)
    assert all(s.expected == EXPECTED[s.kind] for s in a)
    for x, y in zip(a, b, strict=True):
        assert np.array_equal(x.candidate.values("errors"), y.candidate.values("errors"))
    assert not np.array_equal(a[0].candidate.values("errors"), c[0].candidate.values("errors"))
    with pytest.raises(ValueError, match="unknown scenario kind"):
        generate_scenarios(catalog, {"meteor": 1}, seed=1)


def ratio(sc: object, metric: str) -> float:
    b = sc.baseline.values(metric)  # type: ignore[attr-defined]
    c = sc.candidate.values(metric)  # type: ignore[attr-defined]
    return float(np.nanmedian(c) / np.nanmedian(b))


def error_rate(samples: object) -> float:
    return float(np.nansum(samples.values("errors")) / np.nansum(samples.values("requests")))  # type: ignore[attr-defined]


def test_each_kind_moves_its_metric(catalog: Catalog) -> None:
    assert ratio(one(catalog, "latency_p95"), "latency_ms") == pytest.approx(1.2, abs=0.08)
    errs = one(catalog, "errors_5xx")
    assert error_rate(errs.candidate) - error_rate(errs.baseline) == pytest.approx(0.01, abs=0.005)  # type: ignore[attr-defined]
    dead = one(catalog, "failing_healthcheck")
    assert np.isnan(dead.candidate.values("latency_ms")).all()  # type: ignore[attr-defined]
    assert error_rate(dead.candidate) == 1.0  # type: ignore[attr-defined]
    crash = one(catalog, "crash_loop")
    assert error_rate(crash.candidate) > error_rate(crash.baseline) + 0.02  # type: ignore[attr-defined]


def test_slow_dependency_shows_only_in_call_latency(catalog: Catalog) -> None:
    for sc in generate_scenarios(catalog, {"slow_dependency": 4}, seed=4):
        assert catalog.get(sc.module).depends_on
        calls = [m for m in sc.candidate.metrics if m.startswith("call_latency_ms:")]
        assert max(ratio(sc, m) for m in calls) > 3.0
        assert ratio(sc, "latency_ms") < 1.10  # inside the judge's 10 % band


def test_silent_rollback_reverts_to_the_baseline_and_says_so(catalog: Catalog) -> None:
    for sc in generate_scenarios(catalog, {"silent_rollback": 2}, seed=4):
        assert sc.onset_s is not None and 0 < sc.onset_s < sc.duration_s
        before, after = sc.status_at(sc.onset_s - 1), sc.status_at(sc.onset_s)
        assert before is not None and before.failure() is None
        assert after is not None and after.failure() is not None
        assert after.running_version == "1"
        # the metrics alone look like a good release: only the status can catch it
        result = run_analysis(
            JudgeGate(), sc.baseline, sc.candidate, start=sc.start, duration_s=sc.duration_s
        )
        assert result.verdict == "Successful"
        caught = run_analysis(
            JudgeGate(),
            sc.baseline,
            sc.candidate,
            start=sc.start,
            duration_s=sc.duration_s,
            status_at=sc.status_at,
        )
        assert caught.verdict == "Failed" and caught.aborted_at_s is not None
        assert caught.aborted_at_s - sc.onset_s <= AnalysisSettings().interval_s
