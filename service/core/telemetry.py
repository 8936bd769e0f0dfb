"""The service's own metrics, on a registry of its own (never the process-global one).

A registry per app keeps tests independent and lets two apps live in one process.
"""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

from nexus_ml.domain import Decision
from nexus_ml.logs import get_logger

log = get_logger(__name__)

DecisionListener = Callable[[Decision], None]


class ServiceMetrics:
    """Latency per route, decisions by action and policy, the models being served."""

    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        self.registry = registry or CollectorRegistry()
        self.latency = Histogram(
            "nexus_service_request_seconds",
            "Request latency by route and method",
            ["route", "method", "status"],
            registry=self.registry,
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
        )
        self.decisions = Counter(
            "nexus_decisions",
            "Decisions made, by module, action and policy",
            ["module", "action", "policy"],
            registry=self.registry,
        )
        self.model_info = Info(
            "nexus_model",
            "The champion model version served per module",
            ["module"],
            registry=self.registry,
        )
        self.model_reloads = Counter(
            "nexus_model_reloads",
            "Champion bundles loaded (at start and when the alias moves)",
            ["module"],
            registry=self.registry,
        )
        self.model_errors = Counter(
            "nexus_model_errors",
            "Failures to load or use a model (the rules policy answers instead)",
            ["module", "stage"],
            registry=self.registry,
        )
        self.policy_rules = Gauge(
            "nexus_policy_rules",
            "1 when a module is decided by the seed's rules (no champion loaded)",
            ["module"],
            registry=self.registry,
        )
        # observers of every decision (the dashboard's history); called in the deciding thread
        self._listeners: list[DecisionListener] = []

    def add_listener(self, listener: DecisionListener) -> None:
        """Call ``listener(decision)`` for every decision recorded from now on."""
        self._listeners.append(listener)

    def record_decision(self, decision: Decision) -> None:
        self.decisions.labels(decision.module, decision.action.value, decision.policy).inc()
        for listener in tuple(self._listeners):
            try:
                listener(decision)
            except Exception:  # an observer must never cost a decision
                log.exception("service.decision_listener_failed", module=decision.module)

    def model_error(self, module: str, kind: str) -> None:
        """Count a model failure of ``kind`` (forecast, anomaly, scaling) for ``module``."""
        self.model_errors.labels(module, kind).inc()

    def record_model(self, module: str, version: str | None) -> None:
        self.model_info.labels(module).info({"version": version or "none"})
        self.policy_rules.labels(module).set(0 if version else 1)
