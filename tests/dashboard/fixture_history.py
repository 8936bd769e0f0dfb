"""A dashboard history of many modules over a day, built through the history's public API."""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta

import numpy as np

from nexus_ml.domain import Action, Decision, Evidence
from service.core.history import DashboardHistory

_ACTIONS = (Action.SCALE_UP, Action.SCALE_DOWN, Action.RESTART, Action.ALERT, Action.ROLLBACK)
_STATUSES = ("applied", "skipped", "applied", "failed", "decided")


def module_names(n: int, keep: tuple[str, ...] = ()) -> list[str]:
    """``keep`` first, then ``nexus-mod-NN`` up to ``n`` names."""
    names = list(keep)
    i = 1
    while len(names) < n:
        names.append(f"nexus-mod-{i:02d}")
        i += 1
    return names


def _decision(module: str, action: Action, at: datetime, replicas: int, k: int) -> Decision:
    target = {Action.SCALE_UP: replicas + 1, Action.SCALE_DOWN: max(0, replicas - 1)}.get(
        action, replicas
    )
    return Decision(
        module=module,
        action=action,
        current_replicas=replicas,
        target_replicas=target,
        scale_up=action is Action.SCALE_UP,
        scale_down=action is Action.SCALE_DOWN,
        restart=action is Action.RESTART,
        alert_admin=action is Action.ALERT,
        reason=f"{action.value} #{k}: forecast peak above capacity at target utilisation",
        confidence=0.55 + 0.04 * (k % 10),
        explanation=(
            Evidence(kind="forecast_peak", detail=f"peak {400 + k} rpm in 5 min", value=400.0 + k),
            Evidence(kind="anomaly", detail="anomaly scores: cpu_usage 0.41", value=0.41),
        ),
        policy="model",
        decided_at=at,
    )


def _hold(module: str, at: datetime, replicas: int, score: float) -> Decision:
    return Decision(
        module=module,
        current_replicas=replicas,
        target_replicas=replicas,
        reason="within capacity",
        confidence=0.9,
        explanation=(Evidence(kind="anomaly", detail="anomaly scores", value=score),),
        policy="model",
        decided_at=at,
    )


def build_history(
    names: list[str],
    *,
    end: datetime,
    minutes: int = 1440,
    markers_per_module: int = 6,
    seed: int = 0,
) -> DashboardHistory:
    """Daily-shaped demand with an 80 % band, replicas, anomalies and decisions per module.

    The newest minute is ``end``; a 30-minute forecast reaches past it.
    """
    rng = np.random.default_rng(seed)
    history = DashboardHistory(max_points=max(2880, minutes))
    start = end - timedelta(minutes=minutes - 1)
    t0 = int(start.timestamp())
    for i, name in enumerate(names):
        history.set_profile(name, 60.0 + 10 * i, 0.7)
        base = 200.0 + 25 * i
        when = [start + timedelta(minutes=m) for m in range(minutes)]
        decisions = {
            int(minutes * (j + 1) / (markers_per_module + 1)): _ACTIONS[(i + j) % len(_ACTIONS)]
            for j in range(markers_per_module)
        }
        replicas = 2
        for m, at in enumerate(when):
            t = t0 + 60 * m
            hour = (at.hour - 3) % 24  # São Paulo
            shape = 0.35 + 0.65 * max(0.0, math.sin(math.pi * (hour - 7) / 12))
            mean = base * shape
            spread = 0.12 * mean + 5
            history.set_forecast(name, [t], [mean], [mean - spread], [mean + spread])
            actual = max(0.0, mean + rng.normal(0, 0.6 * spread))
            # the executor's poll: a hold carrying the anomaly score, then and there
            spike = max(math.exp(-(((m - d) / 12) ** 2)) for d in decisions) if decisions else 0
            score = min(1.0, 0.08 + 0.75 * spike + abs(rng.normal(0, 0.04)))
            history.record_decision(_hold(name, at, replicas, score))
            if m in decisions:
                action = decisions[m]
                if action is Action.SCALE_UP:
                    replicas += 1
                elif action is Action.SCALE_DOWN and replicas > 1:
                    replicas -= 1
                history.record_decision(_decision(name, action, at, replicas, m))
            history.add_point(name, t, actual, replicas=replicas)
        for j, marker in enumerate(history.markers(name)):
            status = _STATUSES[(i + j) % len(_STATUSES)]
            if status != "decided":
                history.mark_outcome(name, marker.action, marker.t + 5, status, f"{status} (test)")
        last = t0 + 60 * (minutes - 1)
        future = [last + 60 * (k + 1) for k in range(30)]
        level = [base * 0.6] * 30
        history.set_forecast(
            name, future, level, [v * 0.85 for v in level], [v * 1.15 for v in level]
        )
    return history


def utc_minute(moment: datetime | None = None) -> datetime:
    now = moment or datetime.now(UTC)
    return now.replace(second=0, microsecond=0)
