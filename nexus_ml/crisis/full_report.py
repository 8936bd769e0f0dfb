"""The seed's full crisis report: every field, from the incident's stored data.

:func:`build_full_report` reads the incident record, its category rows (actions, transactions,
customers, stack traces, tasks) and, when collected, its metric window (probable cause, impact,
plot). Rendering (Markdown, HTML, the Telegram summary) is in :mod:`~.full_report_render`.
Financial impact is the failed transactions times a configurable revenue per transaction: the
transactions the logs name when there are any, else the extra failed requests the metrics show
(the report says which).
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import Field

from nexus_ml.catalog import Catalog
from nexus_ml.crisis.cause import Language, probable_cause
from nexus_ml.crisis.collect import CollectedIncident
from nexus_ml.crisis.records import IncidentRecord, RecordStore
from nexus_ml.crisis.report import _failed_requests, build_report
from nexus_ml.crisis.rules import CrisisRules
from nexus_ml.crisis.sampling import is_failed
from nexus_ml.decide.rollback import MINIMUM_SCOPE
from nexus_ml.domain.base import Frozen
from nexus_ml.domain.rollback import RollbackScope


class TimelineItem(Frozen):
    at: datetime
    what: str


class FinancialImpact(Frozen):
    failed_transactions: int
    revenue_per_transaction: float
    amount: float
    basis: str  # "logs" (transactions named in the logs) | "metrics" (extra failed requests)


class FullCrisisReport(Frozen):
    """Every field of the seed's CrisisReport."""

    incident_id: str
    module: str
    error_type: str
    severity: str
    language: Language
    opened_at: datetime
    closed_at: datetime | None
    trigger: str
    timeline: tuple[TimelineItem, ...]
    root_cause: str
    root_cause_code: str
    root_cause_evidence: tuple[str, ...]
    affected_modules: tuple[str, ...]
    affected_customers: int
    affected_customer_sample: tuple[str, ...] = ()
    financial_impact: FinancialImpact
    recovery_time_s: float | None
    rollback_scope: RollbackScope
    rollback_modules: tuple[str, ...] = ()
    actions_taken: tuple[str, ...]
    lessons_learned: tuple[str, ...] = Field(min_length=1)
    prevention_actions: tuple[str, ...] = Field(min_length=1)
    data_kept: dict[str, int] = Field(default_factory=dict)
    data_ignored: tuple[str, ...] = ()


_L: dict[Language, dict[str, str]] = {
    "pt": {
        "opened": "incidente aberto ({trigger})",
        "closed": "incidente encerrado: módulo saudável",
        "image": "versão {previous} → {image}",
        "rolled": "rollback concluído: {previous} → {image}",
        "no_cause": "Sem janela de métricas coletada: causa provável indeterminada.",
        "traces": "{n} stack trace(s) únicos; o mais recente: {first}",
        "tasks": "tarefas Swarm: {states}",
        "deploy": "versão em execução {image} (anterior {previous})",
        "lesson_held": "A ação {action} foi bloqueada ({reason}); rever se o guardrail deve "
        "ceder numa crise",
        "lesson_first": "Primeira ação {minutes} min após a abertura do incidente",
        "lesson_release": "Uma versão nova chegou à produção com defeito; o portão de release "
        "não a barrou antes",
        "lesson_none": "O ciclo detectar → agir → recuperar funcionou sem intervenção manual",
        "prevent_release": "Exigir canário com o portão de release antes de 100% do tráfego",
        "prevent_alert": "Alertar mais cedo: o incidente só abriu no nível {severity}",
    },
    "en": {
        "opened": "incident opened ({trigger})",
        "closed": "incident closed: module healthy",
        "image": "release {previous} → {image}",
        "rolled": "rollback done: {previous} → {image}",
        "no_cause": "No metric window collected: probable cause unknown.",
        "traces": "{n} unique stack trace(s); latest: {first}",
        "tasks": "Swarm tasks: {states}",
        "deploy": "running version {image} (previously {previous})",
        "lesson_held": "Action {action} was held ({reason}); review whether the guardrail "
        "should yield in a crisis",
        "lesson_first": "First action {minutes} min after the incident opened",
        "lesson_release": "A faulty release reached production; the release gate did not stop "
        "it first",
        "lesson_none": "Detect → act → recover worked with no manual step",
        "prevent_release": "Require a canary through the release gate before 100% of traffic",
        "prevent_alert": "Alert earlier: the incident only opened at {severity}",
    },
}


def _payloads(store: RecordStore, incident_id: str, category: str) -> list[dict[str, Any]]:
    return [r.payload for r in store.rows(incident_id, category)]


def _actions(rows: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in rows if r.get("event") in ("action_taken", "action_skipped",
                                                  "action_failed", "alert", "opened")]  # fmt: skip


def _financial(
    tx: Sequence[dict[str, Any]], incident: CollectedIncident | None, revenue: float
) -> FinancialImpact:
    failed = [t for t in tx if is_failed(t)]
    if failed:
        n, basis = len(failed), "logs"
    else:
        estimate = _failed_requests(incident) if incident is not None else None
        n, basis = round(estimate or 0.0), "metrics"
    return FinancialImpact(
        failed_transactions=n, revenue_per_transaction=revenue, amount=n * revenue, basis=basis
    )


def build_full_report(
    record: IncidentRecord,
    store: RecordStore,
    rules: CrisisRules,
    catalog: Catalog,
    *,
    collected: CollectedIncident | None = None,
    revenue_per_transaction: float = 0.0,
    language: Language = "pt",
) -> FullCrisisReport:
    """Build the full report of ``record`` from its stored rows and metric window."""
    words = _L[language]
    rule = rules.for_type(record.error_type)
    actions = _payloads(store, record.id, "actions")
    traces = _payloads(store, record.id, "stack_traces")
    tasks = _payloads(store, record.id, "task_states")
    tx = _payloads(store, record.id, "affected_transactions")
    customers = sorted({str(c["customer_id"]) for c in
                        _payloads(store, record.id, "impacted_customers")})  # fmt: skip
    timeline = [
        TimelineItem(at=record.opened_at, what=words["opened"].format(trigger=record.trigger))
    ]
    taken: list[str] = []
    held: list[dict[str, Any]] = []
    for a in actions:
        at = datetime.fromisoformat(a["at"])
        if a.get("event") in ("image_changed", "release_running"):
            text = words["image"].format(previous=a.get("previous_image") or "?", image=a["image"])
        elif a.get("event") == "rolled_back":
            text = words["rolled"].format(image=a["rolled_back_to"], previous=a["from_image"])
        else:
            text = f"{a.get('action', '')} {a.get('outcome', '')}: {a.get('detail', '')}".strip()
            taken.append(f"{at:%Y-%m-%d %H:%M} {text}")
            if a.get("outcome", "").startswith("skipped"):
                held.append(a)
        timeline.append(TimelineItem(at=at, what=text))
    evidence: list[str] = []
    code, cause = "unknown", words["no_cause"]
    prevention: list[str] = []
    if collected is not None:
        finding = probable_cause(collected)
        code, cause = finding.code, finding.text(language)
        prevention.extend(finding.next_steps(language))
        base = build_report(collected, language)
        # the trail's per-decision lines (holds every tick) are noise here: the incident's own
        # action rows above say what was done
        timeline.extend(
            TimelineItem(at=e.at, what=e.what)
            for e in base.timeline
            if not e.what.startswith(("action_", "decision_"))
        )
        evidence.extend(base.evidence_lines)
    images = [a for a in actions if a.get("event") in ("release_running", "image_changed")]
    if images:
        last = images[-1]
        evidence.append(
            words["deploy"].format(image=last["image"], previous=last.get("previous_image") or "?")
        )
    if traces:
        evidence.append(words["traces"].format(n=len(traces), first=traces[-1].get("error", "")))
    if tasks:
        states = sorted({f"{t.get('state')}" for t in tasks})
        evidence.append(words["tasks"].format(states=", ".join(states)))
    if record.closed_at is not None:
        timeline.append(TimelineItem(at=record.closed_at, what=words["closed"]))
    lessons = [words["lesson_held"].format(action=h.get("action"), reason=h.get("reason"))
               for h in held[:3]]  # fmt: skip
    acted = [datetime.fromisoformat(a["at"]) for a in actions if a.get("outcome") == "taken"]
    if acted:
        minutes = (min(acted) - record.opened_at).total_seconds() / 60
        lessons.append(words["lesson_first"].format(minutes=f"{minutes:.0f}"))
    if code == "bad_release" or any(a.get("action") == "rollback" for a in actions):
        lessons.append(words["lesson_release"])
        prevention.append(words["prevent_release"])
    if not lessons:
        lessons.append(words["lesson_none"])
    if rule.severity.rank >= 3 or not prevention:
        prevention.append(words["prevent_alert"].format(severity=record.severity))
    rollback_modules = tuple(dict.fromkeys(
        m for a in actions if a.get("action") == "rollback" and a.get("outcome") == "taken"
        for m in (a.get("modules") or [record.module])
    ))  # fmt: skip
    affected = (record.module, *catalog.dependents_of(record.module))
    return FullCrisisReport(
        incident_id=record.id,
        module=record.module,
        error_type=record.error_type,
        severity=record.severity,
        language=language,
        opened_at=record.opened_at,
        closed_at=record.closed_at,
        trigger=record.trigger,
        timeline=tuple(sorted(timeline, key=lambda t: t.at)),
        root_cause=cause,
        root_cause_code=code,
        root_cause_evidence=tuple(evidence),
        affected_modules=tuple(dict.fromkeys(affected)),
        affected_customers=len(customers),
        affected_customer_sample=tuple(customers[:10]),
        financial_impact=_financial(tx, collected, revenue_per_transaction),
        recovery_time_s=(record.closed_at - record.opened_at).total_seconds()
        if record.closed_at
        else None,
        rollback_scope=MINIMUM_SCOPE.get(rule.plan, RollbackScope.MODULE_ONLY),
        rollback_modules=rollback_modules,
        actions_taken=tuple(taken),
        lessons_learned=tuple(lessons),
        prevention_actions=tuple(dict.fromkeys(prevention)),
        data_kept=store.counts(record.id),
        data_ignored=rule.ignore,
    )
