"""One decision path: the replay's ``nexus`` policy and the HTTP service decide alike.

The replay runs a trace through ``NexusPolicy`` (the engine in process, the executor's
guardrails); then the decision service, built by ``create_app`` over a metric source that
knows the same minutes and the same champion, is asked over HTTP — with what the executor
would have observed at each minute — and must answer the same target, action and confidence.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import numpy as np
import pandas as pd
from fastapi.testclient import TestClient

from nexus_ml.catalog import Catalog, ModuleProfile
from nexus_ml.evaluate.replay import prepare_trace, replay
from nexus_ml.evaluate.replay.nexus_policy import MODULE, NexusPolicy, trace_profile
from nexus_ml.ingest.source import MetricFetch, QualityReport
from nexus_ml.models.forecast.lead_time_risk import LeadTimeRisk
from nexus_ml.models.registry.store import ModelBundle
from service.app import create_app
from service.core.config import ServiceSettings
from tests.service.fakes import AUTH, TOKEN, MemoryStore

HISTORY = 7 * 1440
SCORED = 90


def _trace(seed: int = 11) -> pd.Series:
    rng = np.random.default_rng(seed)
    minutes = np.arange(HISTORY + SCORED)
    daily = 50 + 40 * np.sin(2 * np.pi * (minutes % 1440) / 1440 - np.pi / 2).clip(0)
    # the scored minutes start at the morning ramp, where the policy has work to do
    index = pd.date_range("2026-10-01 06:00", periods=minutes.size, freq="1min", tz="UTC")
    return pd.Series(daily * rng.lognormal(0, 0.08, minutes.size), index=index)


class KnownMinutes:
    """A metric source holding demand and replica counts up to (excluding) ``until``, as a
    scrape would: the current minute is not known yet."""

    def __init__(self, frame: pd.DataFrame) -> None:
        self.frame = frame
        self.until = frame["timestamp"].iloc[0]

    def fetch(
        self,
        modules: Sequence[str],
        start: datetime,
        end: datetime,
        step: timedelta = timedelta(minutes=1),
    ) -> MetricFetch:
        ts = self.frame["timestamp"]
        rows = self.frame[(ts >= start) & (ts <= end) & (ts < self.until)]
        return MetricFetch(frame=rows.reset_index(drop=True), quality=QualityReport())


def test_the_service_answers_what_the_replay_decided(tmp_path: Path) -> None:
    trace = prepare_trace(_trace())
    profile: ModuleProfile = trace_profile(trace)
    history = pd.Series(trace.demand[:HISTORY], index=trace.timestamps[:HISTORY])
    champion = ModelBundle(
        MODULE,
        "7",
        forecasters={},
        detector=None,
        scaler=LeadTimeRisk(lead_time=trace.params.startup_delay).fit(history),
    )
    policy = NexusPolicy(lambda h, p: champion, keep_decisions=True)
    result = replay(trace, policy)
    assert len(policy.decisions) == SCORED
    assert {d.action.value for *_, d in policy.decisions} >= {"scale_up"}  # it had work

    # what Prometheus' nexus:replicas reports: the replicas running (ready or starting)
    running = np.r_[trace.demanded[:HISTORY], result.targets]
    frame = pd.DataFrame(
        {
            "module": MODULE,
            "timestamp": trace.timestamps,
            "requests_per_min": trace.demand,
            "replicas": running.astype(float),
        }
    )
    source = KnownMinutes(frame)
    clock = {"now": trace.timestamps[HISTORY].to_pydatetime()}
    settings = ServiceSettings(
        api_token=TOKEN, state_dir=tmp_path, prometheus_url=None, decision_cache_s=0
    )
    app = create_app(
        settings,
        catalog=Catalog(modules=(profile,)),
        metric_source=source,
        model_store=MemoryStore({MODULE: champion}),  # type: ignore[arg-type]
        clock=lambda: clock["now"],
        poll_models=False,
    )
    with TestClient(app) as client:
        for now, current, recent, replayed in policy.decisions:
            clock["now"] = now
            source.until = now
            body = {
                "modules": {
                    MODULE: {
                        "replicas": current,
                        "recent_actions": [
                            {"action": a.action.value, "at": a.at.isoformat()} for a in recent
                        ],
                    }
                }
            }
            r = client.post("/v1/decisions/observed", headers=AUTH, json=body)
            assert r.status_code == 200, r.text
            served = r.json()["decisions"][0]
            assert (served["action"], served["target_replicas"], served["confidence"]) == (
                replayed.action.value,
                replayed.target_replicas,
                replayed.confidence,
            ), f"minute {now:%H:%M}"
