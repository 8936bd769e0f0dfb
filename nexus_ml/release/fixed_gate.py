"""The fixed-threshold gate, the Argo/Flagger way: the candidate alone against set limits.

Each measurement reads the last interval of the candidate's samples: p95 latency below
``max_latency_ms``, error rate below ``max_error_rate``, every dependency call below
``max_call_latency_ms``. No query result (no successful request) fails the measurement, as an
empty result errors an Argo measurement. It reads no release status: Argo's and Flagger's
metric checks know nothing of a Swarm rollback.

:func:`calibrate_fixed_thresholds` picks the limits that give the most correct verdicts on a
set of scenarios (per module for latency, as a user writes one AnalysisTemplate per service):
the most generous setting for the reference, chosen on scenarios other than those reported.
"""

from __future__ import annotations

import itertools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from nexus_ml.release.analysis import AnalysisSettings, Measurement
from nexus_ml.release.samples import FloatArray, MetricSamples
from nexus_ml.release.scenarios import ReleaseScenario
from nexus_ml.release.verdict import ReleaseStatus

LATENCY_MARGINS = tuple(np.round(np.arange(1.0, 1.55, 0.05), 2))
ERROR_LIMITS = (0.005, 0.01, 0.015, 0.02, 0.03, 0.05)
CALL_LIMITS_MS = (2.0, 3.0, 5.0, 8.0, 1e9)


@dataclass(frozen=True)
class WindowStats:
    """What a fixed gate reads from one interval of the candidate's samples."""

    p95_ms: float
    error_rate: float
    call_ms: float


def window_stats(candidate: MetricSamples, start: float, end: float) -> WindowStats:
    """p95 latency (mean of the scrapes' p95), error rate and slowest dependency call."""
    cut = candidate.window(start, end)
    latency = cut.values("latency_ms")
    latency = latency[np.isfinite(latency)]
    requests = float(np.nansum(cut.values("requests")))
    errors = float(np.nansum(cut.values("errors")))
    calls = [cut.values(m) for m in cut.metrics if m.startswith("call_latency_ms:")]
    call_means = [float(np.nanmean(c)) for c in calls if np.isfinite(c).any()]
    return WindowStats(
        p95_ms=float(latency.mean()) if len(latency) else float("nan"),
        error_rate=errors / requests if requests > 0 else float("nan"),
        call_ms=max(call_means) if call_means else 0.0,
    )


@dataclass(frozen=True)
class FixedThresholds:
    """Limits of the fixed gate (``max_latency_ms`` per module, the rest shared)."""

    max_latency_ms: Mapping[str, float]
    max_error_rate: float
    max_call_latency_ms: float

    def passes(self, module: str, stats: WindowStats) -> tuple[bool, str]:
        limit = self.max_latency_ms.get(module, float("inf"))
        if not np.isfinite(stats.p95_ms) or not np.isfinite(stats.error_rate):
            return False, "no data in the interval"
        if stats.p95_ms >= limit:
            return False, f"p95 {stats.p95_ms:.1f} ms ≥ {limit:.1f} ms"
        if stats.error_rate >= self.max_error_rate:
            return False, f"error rate {stats.error_rate:.2%} ≥ {self.max_error_rate:.2%}"
        if stats.call_ms >= self.max_call_latency_ms:
            return False, f"call latency {stats.call_ms:.1f} ms ≥ {self.max_call_latency_ms} ms"
        return True, "within every limit"


class FixedThresholdGate:
    """One module's fixed limits as an analysis gate (see :mod:`nexus_ml.release.analysis`)."""

    name = "fixed"

    def __init__(self, thresholds: FixedThresholds, module: str) -> None:
        self.thresholds = thresholds
        self.module = module

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
        ok, reason = self.thresholds.passes(
            self.module, window_stats(candidate, now - interval_s, now)
        )
        return Measurement(now - start, "Successful" if ok else "Failed", reason)


def _stats_table(
    scenario: ReleaseScenario, settings: AnalysisSettings, *, baseline: bool
) -> FloatArray:
    count = int(scenario.duration_s // settings.interval_s)
    samples = scenario.baseline if baseline else scenario.candidate
    rows = []
    for k in range(1, count + 1):
        end = scenario.start + k * settings.interval_s
        s = window_stats(samples, end - settings.interval_s, end)
        rows.append((s.p95_ms, s.error_rate, s.call_ms))
    return np.asarray(rows, dtype=np.float64)


def _correct(
    table: FloatArray, latency: float, errors: float, calls: float, failure_limit: int
) -> tuple[bool, bool]:
    """(verdict is Failed, by the analysis loop's rules) for one scenario's window table."""
    failed = ~(
        np.isfinite(table[:, 0])
        & np.isfinite(table[:, 1])
        & (table[:, 0] < latency)
        & (table[:, 1] < errors)
        & (table[:, 2] < calls)
    )
    aborted = int(failed.sum()) >= failure_limit
    return aborted or bool(failed[-1]), aborted


def calibrate_fixed_thresholds(
    scenarios: Sequence[ReleaseScenario], settings: AnalysisSettings = AnalysisSettings()
) -> FixedThresholds:
    """The limits with the most correct verdicts on ``scenarios`` (ties: fewer false aborts).

    The latency limit of a module is a margin (searched in :data:`LATENCY_MARGINS`) above the
    highest interval p95 its baseline showed in these scenarios; the error-rate and
    call-latency limits are searched in :data:`ERROR_LIMITS` and :data:`CALL_LIMITS_MS`.
    """
    reference: dict[str, float] = {}
    tables = []
    for sc in scenarios:
        base = _stats_table(sc, settings, baseline=True)
        finite = base[:, 0][np.isfinite(base[:, 0])]
        if len(finite):
            reference[sc.module] = max(reference.get(sc.module, 0.0), float(finite.max()))
        tables.append(_stats_table(sc, settings, baseline=False))
    best: tuple[tuple[int, int], FixedThresholds] | None = None
    for margin, errors, calls in itertools.product(LATENCY_MARGINS, ERROR_LIMITS, CALL_LIMITS_MS):
        correct = false_aborts = 0
        for sc, table in zip(scenarios, tables, strict=True):
            limit = margin * reference.get(sc.module, np.inf)
            failed, _ = _correct(table, limit, errors, calls, settings.failure_limit)
            correct += failed == (sc.expected == "Failed")
            false_aborts += failed and sc.expected == "Successful"
        key = (correct, -false_aborts)
        if best is None or key > best[0]:
            thresholds = FixedThresholds(
                {m: float(margin) * r for m, r in reference.items()}, errors, calls
            )
            best = (key, thresholds)
    assert best is not None
    return best[1]
