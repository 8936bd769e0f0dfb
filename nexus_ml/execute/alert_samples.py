"""Sample decisions and the alerts the executor would send for them (``nexus-ml alerts preview``).

Each sample is an hour of per-minute metrics of one catalog module — steady, then the symptom of
the action for the last few minutes — and the decision the policy would make on it, with the
evidence kinds it would carry. The alert is built by the same code as the executor's
(:func:`~nexus_ml.execute.alerting.decision_alert` over a metric context), so operators review
the real texts. Numbers derive from the module's catalog capacity.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import numpy as np
import pandas as pd

from nexus_ml.alerts.notifier import Alert
from nexus_ml.alerts.phrases import Language, phrase
from nexus_ml.catalog import ModuleProfile
from nexus_ml.domain.decision import Action, Decision, Evidence
from nexus_ml.domain.metrics import METRIC_FIELDS
from nexus_ml.domain.rollback import RollbackScope
from nexus_ml.execute.alerting import applied_problem, decision_alert, rollback_announcement
from nexus_ml.execute.context import MetricContext
from nexus_ml.ingest.frame_source import FrameSource

SAMPLE_ACTIONS = ("scale_up", "scale_down", "restart", "rollback", "alert")
SAMPLE_AT = datetime(2026, 11, 30, 17, 5, tzinfo=UTC)
_MINUTES = {"scale_up": 7, "scale_down": 20, "restart": 3, "rollback": 4, "alert": 10}


def _replicas(profile: ModuleProfile, action: str) -> tuple[int, int]:
    if action == "scale_up":
        current = min(max(profile.min_replicas, 1), profile.max_replicas - 1)
        return current, current + 1
    if action == "scale_down":
        current = min(profile.min_replicas + 1, profile.max_replicas)
        return current, current - 1
    current = max(profile.min_replicas, 1)
    return current, current


def sample_history(profile: ModuleProfile, action: str, at: datetime = SAMPLE_AT) -> pd.DataFrame:
    """An hour of the module's metrics ending at ``at``, with ``action``'s symptom at the end."""
    current, _ = _replicas(profile, action)
    capacity = profile.capacity_rpm_per_replica * current
    n, k = 60, _MINUTES[action]
    base = {
        "cpu_usage": 0.40,
        "memory_usage": 0.55,
        "response_time": 180.0,
        "active_connections": 20.0,
        "error_rate": 0.004,
        "disk_usage": 0.30,
        "network_latency": 2.0,
        "requests_per_min": 0.5 * capacity,
    }
    values = {f: np.full(n, base[f]) for f in METRIC_FIELDS}
    tail = slice(n - k, n)
    if action == "scale_up":
        values["requests_per_min"][tail] = 1.25 * capacity
    elif action == "scale_down":
        values["requests_per_min"][tail] = 0.3 * capacity
    elif action == "restart":
        values["response_time"][tail] = 4.1 * base["response_time"]
        values["error_rate"][tail] = 0.12
    elif action == "rollback":
        values["response_time"][tail] = 2.0 * base["response_time"]
        values["error_rate"][tail] = 0.08
    else:
        values["cpu_usage"][tail] = 0.95
    stamps = pd.date_range(end=at, periods=n, freq="1min")
    return pd.DataFrame({"timestamp": stamps, "module": profile.name, **values})


def sample_decision(profile: ModuleProfile, action: str, at: datetime = SAMPLE_AT) -> Decision:
    """The decision the policy would make for ``action`` on the sample history."""
    current, target = _replicas(profile, action)
    capacity = profile.capacity_rpm_per_replica * current
    evidence: tuple[Evidence, ...] = {
        "scale_up": (
            Evidence(kind="exceed_probability", detail="P(demand > capacity)", value=0.93),
            Evidence(kind="forecast_peak", detail="peak upper bound", value=1.4 * capacity),
        ),
        "scale_down": (
            Evidence(kind="scaling", detail=f"{target} replicas suffice", value=float(target)),
        ),
        "restart": (
            Evidence(kind="anomaly", detail="anomaly scores", value=0.82),
            Evidence(kind="health", detail="seed rule"),
        ),
        "rollback": (Evidence(kind="canary", detail="error rate regressed", value=0.97),),
        "alert": (Evidence(kind="alert", detail="firing: NexusHighCPU (warning)"),),
    }[action]
    return Decision(
        module=profile.name,
        action=Action(action),
        current_replicas=current,
        target_replicas=target,
        scale_up=action == "scale_up",
        scale_down=action == "scale_down",
        restart=action == "restart",
        rollback=action == "rollback",
        rollback_scope=RollbackScope.MODULE_ONLY if action == "rollback" else None,
        alert_admin=action == "alert",
        reason=f"sample {action}",
        confidence=0.9,
        explanation=evidence,
        decided_at=at,
    )


def sample_alert(
    profile: ModuleProfile,
    action: str,
    language: Language = "pt",
    *,
    dashboard_url: str = "",
    at: datetime = SAMPLE_AT,
) -> Alert:
    """The alert the executor would send after acting on :func:`sample_decision`.

    Raises
    ------
    ValueError
        When ``action`` is not one of :data:`SAMPLE_ACTIONS`.
    """
    if action not in SAMPLE_ACTIONS:
        raise ValueError(f"action must be one of {', '.join(SAMPLE_ACTIONS)}, got {action!r}")
    decision = sample_decision(profile, action, at)
    source = FrameSource(sample_history(profile, action, at), stale_after=timedelta(hours=2))
    context = MetricContext(source, lambda: at)
    taken: str | None
    if decision.action is Action.ALERT:
        problem, taken = "degradation", None
    else:
        problem = applied_problem(decision)
        if decision.action is Action.RESTART:
            taken = phrase("restart", language)
        elif decision.action is Action.ROLLBACK:
            taken = rollback_announcement(decision.rollback_scope, (profile.name,), language)
        else:
            taken = phrase(
                decision.action.value,
                language,
                before=decision.current_replicas,
                after=decision.target_replicas,
            )
    return decision_alert(
        decision,
        problem,
        taken,
        language=language,
        dashboard_url=dashboard_url,
        context=context,
        capacity_per_replica=profile.capacity_rpm_per_replica,
        severity="info" if problem in ("demand_high", "demand_low") else None,
    )
