"""Synthetic metric samples for the release tests (log-normal latency, binomial errors)."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from nexus_ml.release.samples import MetricSamples, write_samples_csv


def samples(
    seed: int,
    *,
    latency: float = 200.0,
    error_rate: float = 0.002,
    call_ms: float = 1.2,
    n: int = 60,
    requests: int = 400,
    latency_nan_every: int = 0,
) -> MetricSamples:
    """``n`` scrapes 15 s apart: p95 latency with 5 % noise, errors of ``requests``."""
    rng = np.random.default_rng(seed)
    rows = []
    for i in range(n):
        t = 1_790_000_000.0 + 15.0 * i
        value = latency * float(np.exp(0.05 * rng.standard_normal()))
        if latency_nan_every and i % latency_nan_every == 0:
            value = float("nan")
        rows += [
            (t, "latency_ms", value),
            (t, "requests", float(requests)),
            (t, "errors", float(rng.binomial(requests, error_rate))),
            (t, "call_latency_ms:nexus-crm", call_ms * float(np.exp(0.15 * rng.standard_normal()))),
        ]
    return MetricSamples.from_rows(rows)


def write_csv(path: Path, data: MetricSamples) -> Path:
    write_samples_csv(data, path)
    return path
