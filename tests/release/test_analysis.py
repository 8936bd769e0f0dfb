"""Interval analysis rules with scripted gates, and the fixed-threshold reference gate."""

from __future__ import annotations

import math

import numpy as np
import pytest

from nexus_ml.release.analysis import AnalysisSettings, Measurement, run_analysis
from nexus_ml.release.fixed_gate import FixedThresholdGate, FixedThresholds, window_stats
from nexus_ml.release.judge import judge
from nexus_ml.release.samples import MetricSamples
from nexus_ml.release.verdict import ReleaseStatus, VerdictName

from .helpers import samples

EMPTY = MetricSamples({})


class Scripted:
    """A gate that answers a fixed sequence and records what it was asked."""

    name = "scripted"

    def __init__(self, verdicts: str, terminal_at: int | None = None) -> None:
        names: dict[str, VerdictName] = {"S": "Successful", "F": "Failed", "I": "Inconclusive"}
        self.verdicts = [names[c] for c in verdicts]
        self.terminal_at = terminal_at
        self.calls: list[tuple[float, ReleaseStatus | None]] = []

    def measure(
        self,
        baseline: MetricSamples,
        candidate: MetricSamples,
        status: ReleaseStatus | None,
        *,
        start: float,
        now: float,
        interval_s: float,
    ) -> Measurement:
        k = len(self.calls)
        self.calls.append((now - start, status))
        return Measurement(now - start, self.verdicts[k], "scripted", k == self.terminal_at)


def run(gate: Scripted, limit: int = 2, duration: float = 400.0) -> tuple[str, float | None]:
    result = run_analysis(
        gate,
        EMPTY,
        EMPTY,
        start=1000.0,
        duration_s=duration,
        settings=AnalysisSettings(interval_s=100, failure_limit=limit),
    )
    return result.verdict, result.aborted_at_s


@pytest.mark.parametrize(
    ("script", "limit", "expected"),
    [
        ("SSSS", 2, ("Successful", None)),
        ("FSSS", 2, ("Successful", None)),  # one failed measurement is tolerated
        ("FSFS", 2, ("Failed", 300.0)),  # the second one aborts
        ("SSSF", 2, ("Failed", None)),  # the last measurement decides at the end
        ("SSSI", 2, ("Inconclusive", None)),
        ("FSSS", 1, ("Failed", 100.0)),
    ],
)
def test_failure_limit_and_final_verdict(
    script: str, limit: int, expected: tuple[str, float | None]
) -> None:
    assert run(Scripted(script), limit) == expected


def test_a_terminal_measurement_aborts_at_once_and_status_is_passed() -> None:
    gate = Scripted("SSSS", terminal_at=1)
    gate.verdicts[1] = "Failed"
    seen: list[float] = []

    def status_at(offset: float) -> ReleaseStatus | None:
        seen.append(offset)
        return ReleaseStatus(update_state="rollback_completed") if offset >= 200 else None

    result = run_analysis(
        gate,
        EMPTY,
        EMPTY,
        start=0.0,
        duration_s=400.0,
        settings=AnalysisSettings(interval_s=100, failure_limit=5),
        status_at=status_at,
    )
    assert result.verdict == "Failed" and result.aborted_at_s == 200.0
    assert seen == [100.0, 200.0] and gate.calls[1][1] is not None
    assert result.decided_at_s == 200.0


def test_settings_are_validated() -> None:
    assert AnalysisSettings(interval_s=60, failure_limit=3).abort_bound_s == 180
    for bad in ({"interval_s": 0}, {"interval_s": math.inf}, {"failure_limit": 0}):
        with pytest.raises(ValueError):
            AnalysisSettings(**bad)  # type: ignore[arg-type]


def test_window_stats_and_fixed_limits() -> None:
    data = samples(1, n=40, latency=200.0, error_rate=0.0, requests=100)
    start, end = data.span() or (0.0, 0.0)
    stats = window_stats(data, start, end + 1)
    assert stats.p95_ms == pytest.approx(200.0, rel=0.05)
    assert stats.error_rate == 0.0 and stats.call_ms == pytest.approx(1.2, rel=0.2)
    limits = FixedThresholds({"crm": 250.0}, max_error_rate=0.01, max_call_latency_ms=5.0)
    assert limits.passes("crm", stats) == (True, "within every limit")
    ok, why = FixedThresholds({"crm": 150.0}, 0.01, 5.0).passes("crm", stats)
    assert not ok and "p95" in why
    gate = FixedThresholdGate(limits, "crm")
    # a window without samples is a failed measurement, as an empty query errors in Argo
    m = gate.measure(EMPTY, data, None, start=start, now=end + 10_000, interval_s=60)
    assert m.verdict == "Failed" and m.reason == "no data in the interval"


def test_error_rate_pairs_scrapes_by_timestamp() -> None:
    t = np.arange(10, dtype=np.float64) * 15.0
    base = MetricSamples.from_rows(
        [(x, "requests", 100.0) for x in t] + [(x, "errors", 0.0) for x in t]
    )
    # the candidate lost the requests count of two scrapes: their errors are not counted
    rows = [(x, "requests", 100.0) for x in t[2:]] + [(x, "errors", 50.0) for x in t]
    rows += [(t[5], "latency_ms", 1.0)]
    v = judge(base, MetricSamples.from_rows(rows))
    err = next(m for m in v.metrics if m.name == "error_rate")
    assert err.candidate == pytest.approx(0.5)  # 400 / 800, not 500 / 800
    assert err.n_candidate == 8 and err.nan_dropped == 2
