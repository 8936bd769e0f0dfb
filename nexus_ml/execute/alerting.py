"""Turn a decision (and what the executor did with it) into an operator alert."""

from __future__ import annotations

from nexus_ml.alerts.notifier import Alert
from nexus_ml.alerts.render import Language, phrase
from nexus_ml.domain.decision import Action, Decision
from nexus_ml.execute.context import MetricContext

METRIC_KINDS = ("requests_per_min", "memory_usage", "error_rate", "cpu_usage", "response_time")
_CRITICAL = frozenset({"cluster_error", "failed_release"})


def decision_alert(
    decision: Decision,
    problem: str,
    taken: str | None,
    *,
    language: Language = "pt",
    dashboard_url: str = "",
    context: MetricContext | None = None,
) -> Alert:
    """The alert about ``decision``; ``taken`` is the action taken (None: nothing was done).

    Key metrics come from the decision's evidence (kinds named after metric fields, and
    ``<field>_normal`` for the normal value) and, when a ``context`` is given, from the
    module's recent metrics; the evidence wins where both have a value.
    """
    metrics: dict[str, float] = {}
    normal: dict[str, float] = {}
    if context is not None:
        metrics, normal = context.metrics(decision.module)
    for e in decision.explanation:
        if e.value is None:
            continue
        if e.kind in METRIC_KINDS:
            metrics[e.kind] = e.value
        elif e.kind.endswith("_normal"):
            normal[e.kind.removesuffix("_normal")] = e.value
    impact = ""
    if decision.action in (Action.SCALE_UP, Action.SCALE_DOWN):
        impact = phrase("impact_capacity", language, after=decision.target_replicas)
    return Alert(
        module=decision.module,
        container=decision.module,
        problem=problem,
        severity="critical" if problem in _CRITICAL else "warning",
        action_taken=taken or phrase("hold", language),
        impact=impact,
        key_metrics=metrics,
        normal_metrics={k: v for k, v in normal.items() if k in metrics},
        probable_cause=decision.reason,
        next_action=phrase("next_watch" if taken else "next_operator", language),
        dashboard_url=dashboard_url,
    )
