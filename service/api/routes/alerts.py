"""``/v1/alerts/alertmanager``: Alertmanager's webhook, turned into decisions."""

from __future__ import annotations

from fastapi import APIRouter, Request
from starlette.concurrency import run_in_threadpool

from nexus_ml.domain import Action, Decision, Evidence
from nexus_ml.errors import NotFoundError
from service.api.deps import EngineDep
from service.api.schemas import AlertDecisions, AlertIn, AlertmanagerWebhook, IgnoredAlert

router = APIRouter(prefix="/alerts", tags=["alerts"])


def _module_label(alert: AlertIn) -> str | None:
    for key in ("module", "service", "job"):
        if alert.labels.get(key):
            return alert.labels[key]
    return None


def _with_alert(decision: Decision, alerts: list[AlertIn]) -> Decision:
    names = ", ".join(
        f"{a.labels.get('alertname', '?')} ({a.labels.get('severity', 'unknown')})" for a in alerts
    )
    evidence = (*decision.explanation, Evidence(kind="alert", detail=f"firing: {names}"))
    update: dict[str, object] = {"explanation": evidence, "alert_admin": True}
    if decision.action is Action.HOLD:
        # the policy sees nothing to change, but someone saw trouble: tell a human
        update["action"] = Action.ALERT
        update["reason"] = f"alert firing: {names}; {decision.reason}"
    return decision.model_copy(update=update)


@router.post("/alertmanager", response_model=AlertDecisions, summary="Alertmanager webhook")
async def alertmanager(
    body: AlertmanagerWebhook, engine: EngineDep, request: Request
) -> AlertDecisions:
    """One decision per module with a firing alert; resolved or unknown alerts are listed."""
    ignored: list[IgnoredAlert] = []
    by_module: dict[str, list[AlertIn]] = {}
    for alert in body.alerts:
        alertname = alert.labels.get("alertname", "")
        label = _module_label(alert)
        if alert.status != "firing":
            ignored.append(IgnoredAlert(alertname=alertname, reason="resolved"))
            continue
        if label is None:
            ignored.append(IgnoredAlert(alertname=alertname, reason="no module/service label"))
            continue
        try:
            name = engine.catalog.get(label.removeprefix("nexus_")).name
        except NotFoundError:
            ignored.append(IgnoredAlert(alertname=alertname, reason=f"unknown module {label!r}"))
            continue
        by_module.setdefault(name, []).append(alert)

    sink = getattr(request.app.state, "incident_sink", None)

    def work() -> list[Decision]:
        if not by_module:
            return []
        if sink is not None:  # a crisis Alertmanager reports opens an incident (crisis store)
            for module, firing in by_module.items():
                for alert in firing:
                    sink.firing(module, alert.labels)
        windows = engine.read_windows(list(by_module))
        return [_with_alert(engine.decide(m, windows[m]), a) for m, a in by_module.items()]

    decisions = await run_in_threadpool(work)
    return AlertDecisions(received=len(body.alerts), decisions=decisions, ignored=ignored)
