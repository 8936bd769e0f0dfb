"""Baseline and candidate under the same load in staging: the judge's samples.

Requests alternate between the two versions (baseline first on even requests, candidate first
on odd ones), so that whatever else the machine does at that moment falls on both alike. Each
window gives one sample per metric and version: ``latency_ms`` (the p95 of the window's
successful requests), ``requests`` and ``errors`` (5xx or no answer), and for every catalog
edge *into* the module under test ``call_latency_ms:<caller>-><module>``: the median of the
window's calls made as that caller. Edges out of the module are not measured: a stand-in makes
no calls of its own, so both versions would show the same dependency.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from nexus_ml.release.flows import CALLER_HEADER, edges
from nexus_ml.release.http import Http
from nexus_ml.release.samples import MetricSamples
from nexus_ml.release.staging import StagingPlan

#: Read-only endpoints every module stand-in serves; a real module's would be configured.
LOAD_PATHS = ("/api/info", "/api/customers", "/api/appointments", "/api/users")


@dataclass(frozen=True)
class LoadSettings:
    """How much load the measurement drives.

    Attributes
    ----------
    windows
        Samples per metric and version (the judge needs at least its ``min_samples``).
    requests_per_window
        Requests to each version per window.
    edge_calls_per_window
        Calls per incoming edge and version per window.
    """

    windows: int = 20
    requests_per_window: int = 20
    edge_calls_per_window: int = 3


def _p95(values: list[float]) -> float:
    return float(np.percentile(values, 95)) if values else float("nan")


def measure(
    plan: StagingPlan,
    http: Http,
    settings: LoadSettings = LoadSettings(),
    *,
    clock: Callable[[], float] = time.time,
) -> tuple[MetricSamples, MetricSamples]:
    """Drive the paired load; the baseline's samples and the candidate's."""
    prefixes = {
        "baseline": plan.proxy_url + plan.path(plan.baseline).rstrip("/"),
        "candidate": plan.proxy_url + plan.path(plan.module).rstrip("/"),
    }
    incoming = [e for e in edges(plan) if e.callee == plan.module]
    rows: dict[str, list[tuple[float, str, float]]] = {"baseline": [], "candidate": []}
    for _window in range(settings.windows):
        latencies: dict[str, list[float]] = {"baseline": [], "candidate": []}
        errors = {"baseline": 0, "candidate": 0}
        for i in range(settings.requests_per_window):
            order = ("baseline", "candidate") if i % 2 == 0 else ("candidate", "baseline")
            path = LOAD_PATHS[i % len(LOAD_PATHS)]
            for version in order:
                answer = http.request("GET", prefixes[version] + path)
                if answer.status == 0 or answer.status >= 500:
                    errors[version] += 1
                else:
                    latencies[version].append(answer.seconds * 1000)
        calls: dict[str, dict[str, list[float]]] = {"baseline": {}, "candidate": {}}
        for edge in incoming:
            for i in range(settings.edge_calls_per_window):
                order = ("baseline", "candidate") if i % 2 == 0 else ("candidate", "baseline")
                for version in order:
                    answer = http.request(
                        "GET", prefixes[version] + "/api/info", headers={CALLER_HEADER: edge.caller}
                    )
                    if 0 < answer.status < 500:
                        calls[version].setdefault(edge.label, []).append(answer.seconds * 1000)
        t = clock()
        for version in ("baseline", "candidate"):
            rows[version] += [
                (t, "latency_ms", _p95(latencies[version])),
                (t, "requests", float(settings.requests_per_window)),
                (t, "errors", float(errors[version])),
            ]
            for edge in incoming:
                values = calls[version].get(edge.label, [])
                median = statistics.median(values) if values else float("nan")
                rows[version].append((t, f"call_latency_ms:{edge.label}", median))
    return MetricSamples.from_rows(rows["baseline"]), MetricSamples.from_rows(rows["candidate"])
