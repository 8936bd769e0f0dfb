"""Interval-based analysis, Argo Rollouts' way: a measurement every ``interval``, abort on the
``failure_limit``-th failed one.

Argo's AnalysisRun takes one measurement per ``interval`` and fails when the failed count
exceeds ``failureLimit``. Here ``failure_limit`` is the number of failed measurements that
aborts (Argo's ``failureLimit: failure_limit - 1``), so an abort happens at most
``interval × failure_limit`` after a fault that every measurement sees. A measurement may also
be terminal (the release status says Swarm rolled the candidate back): it aborts at once.

A :class:`Gate` turns the data up to a measurement into that measurement's verdict; the judge
(:class:`JudgeGate`, cumulative data since the start, as Kayenta judges a growing window) and a
fixed-threshold gate (:mod:`nexus_ml.release.fixed_gate`, the last interval only) run through
the same loop.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from nexus_ml.release.config import DEFAULT_CONFIG, JudgeConfig
from nexus_ml.release.judge import judge
from nexus_ml.release.samples import MetricSamples
from nexus_ml.release.verdict import ReleaseStatus, VerdictName


@dataclass(frozen=True)
class AnalysisSettings:
    """Measurement cadence and tolerance (Argo's ``interval`` and ``failureLimit + 1``)."""

    interval_s: float = 450.0
    failure_limit: int = 2

    def __post_init__(self) -> None:
        if not (self.interval_s > 0 and math.isfinite(self.interval_s)):
            raise ValueError(f"interval_s must be a positive number, got {self.interval_s!r}")
        if self.failure_limit < 1:
            raise ValueError(f"failure_limit must be ≥ 1, got {self.failure_limit!r}")

    @property
    def abort_bound_s(self) -> float:
        """The longest a fault seen by every measurement can run before the abort."""
        return self.interval_s * self.failure_limit


@dataclass(frozen=True)
class Measurement:
    """One measurement: when (seconds into the run), its verdict and why."""

    at_s: float
    verdict: VerdictName
    reason: str
    terminal: bool = False


@dataclass(frozen=True)
class AnalysisResult:
    """The run: final verdict, every measurement, and when it aborted (if it did)."""

    verdict: VerdictName
    measurements: tuple[Measurement, ...]
    aborted_at_s: float | None

    @property
    def failures(self) -> int:
        return sum(m.verdict == "Failed" for m in self.measurements)

    @property
    def decided_at_s(self) -> float | None:
        """When a Failed verdict was reached: the abort, else the last measurement."""
        if self.verdict != "Failed":
            return None
        if self.aborted_at_s is not None:
            return self.aborted_at_s
        return self.measurements[-1].at_s if self.measurements else None


class Gate(Protocol):
    """Decides one measurement from the samples and the release status."""

    name: str

    def measure(
        self,
        baseline: MetricSamples,
        candidate: MetricSamples,
        status: ReleaseStatus | None,
        *,
        start: float,
        now: float,
        interval_s: float,
    ) -> Measurement: ...


class JudgeGate:
    """The statistical judge on everything measured since the start of the run."""

    name = "judge"

    def __init__(self, config: JudgeConfig = DEFAULT_CONFIG) -> None:
        self.config = config

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
        verdict = judge(
            baseline.window(start, now),
            candidate.window(start, now),
            self.config,
            release_status=status,
        )
        terminal = status is not None and status.failure() is not None
        return Measurement(now - start, verdict.verdict, verdict.reason, terminal)


def run_analysis(
    gate: Gate,
    baseline: MetricSamples,
    candidate: MetricSamples,
    *,
    start: float,
    duration_s: float,
    settings: AnalysisSettings = AnalysisSettings(),
    status_at: Callable[[float], ReleaseStatus | None] = lambda _: None,
) -> AnalysisResult:
    """Measure every ``interval`` until the run ends or the gate aborts it.

    The final verdict is Failed on an abort or when the last measurement failed, Inconclusive
    when the last measurement was, and Successful otherwise.

    Parameters
    ----------
    gate
        What decides each measurement.
    baseline, candidate
        Samples of the whole run (epoch seconds); each measurement sees those before it.
    start, duration_s
        The run's first instant (epoch seconds) and length.
    settings
        Interval and failure limit.
    status_at
        The release status known ``s`` seconds into the run.
    """
    measurements: list[Measurement] = []
    failures = 0
    count = int(duration_s // settings.interval_s)
    for k in range(1, count + 1):
        offset = k * settings.interval_s
        m = gate.measure(
            baseline,
            candidate,
            status_at(offset),
            start=start,
            now=start + offset,
            interval_s=settings.interval_s,
        )
        measurements.append(m)
        failures += m.verdict == "Failed"
        if m.terminal or failures >= settings.failure_limit:
            return AnalysisResult("Failed", tuple(measurements), offset)
    final: VerdictName = measurements[-1].verdict if measurements else "Inconclusive"
    return AnalysisResult(final, tuple(measurements), None)
