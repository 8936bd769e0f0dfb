"""Render an :class:`~nexus_ml.alerts.notifier.Alert` as a Telegram HTML message (pt or en).

The shape follows the seed: container, problem, action taken, impact, key metrics (requests/min
against normal, memory, error rate), probable cause, next action and the dashboard link. Every
value is HTML-escaped, so module names or reasons cannot break Telegram's parser.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html import escape
from typing import Literal
from urllib.parse import urlencode, urlsplit, urlunsplit

from nexus_ml.alerts.notifier import Alert

Language = Literal["pt", "en"]

_LABELS: dict[str, dict[str, str]] = {
    "pt": {
        "container": "Container",
        "problem": "Problema",
        "action": "Ação tomada",
        "impact": "Impacto",
        "metrics": "Métricas-chave",
        "normal": "normal",
        "cause": "Causa provável",
        "next": "Próxima ação",
        "dashboard": "Dashboard",
        "none": "nenhuma",
        "suppressed": "alertas semelhantes agrupados",
    },
    "en": {
        "container": "Container",
        "problem": "Problem",
        "action": "Action taken",
        "impact": "Impact",
        "metrics": "Key metrics",
        "normal": "normal",
        "cause": "Probable cause",
        "next": "Next action",
        "dashboard": "Dashboard",
        "none": "none",
        "suppressed": "similar alerts grouped",
    },
}

_PROBLEMS: dict[str, dict[str, str]] = {
    "pt": {
        "degradation": "Degradação de desempenho",
        "surge": "Pico de demanda",
        "service_down": "Serviço de decisão indisponível",
        "metrics_unavailable": "Métricas indisponíveis",
        "cluster_error": "Falha na API do Docker",
        "invalid_decision": "Decisão inválida rejeitada",
        "stale_decision": "Decisão desatualizada ignorada",
        "service_unavailable": "Serviço do módulo indisponível",
        "failed_release": "Falha após atualização",
        "scaling": "Escalonamento",
        "resumed": "Operação retomada",
        "out_of_range": "Decisão fora dos limites recusada",
        "stale_input": "Ação recusada: métricas ausentes",
        "unknown_module": "Módulo desconhecido",
    },
    "en": {
        "degradation": "Performance degradation",
        "surge": "Demand surge",
        "service_down": "Decision service unavailable",
        "metrics_unavailable": "Metrics unavailable",
        "cluster_error": "Docker API failure",
        "invalid_decision": "Invalid decision rejected",
        "stale_decision": "Stale decision ignored",
        "service_unavailable": "Module service unavailable",
        "failed_release": "Failure after a release",
        "scaling": "Scaling",
        "resumed": "Operation resumed",
        "out_of_range": "Out-of-range decision refused",
        "stale_input": "Action refused: metrics missing",
        "unknown_module": "Unknown module",
    },
}

_METRICS: dict[str, dict[str, str]] = {
    "pt": {
        "requests_per_min": "Requisições/min",
        "memory_usage": "Memória",
        "error_rate": "Taxa de erro",
        "cpu_usage": "CPU",
        "response_time": "Tempo de resposta",
    },
    "en": {
        "requests_per_min": "Requests/min",
        "memory_usage": "Memory",
        "error_rate": "Error rate",
        "cpu_usage": "CPU",
        "response_time": "Response time",
    },
}

_ICONS = {"info": "ℹ️", "warning": "⚠️", "critical": "🚨"}
_FRACTIONS = {"memory_usage", "error_rate", "cpu_usage"}  # shown as percentages


def problem_title(problem: str, language: Language = "pt") -> str:
    """The problem key in words (the key itself when unknown)."""
    return _PROBLEMS[language].get(problem, problem)


def _value(metric: str, value: float) -> str:
    if metric in _FRACTIONS and 0 <= value <= 1.5:
        return f"{value:.1%}"
    if metric == "response_time":
        return f"{value:.0f} ms"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:.3g}"


def dashboard_link(base: str, module: str, at: datetime, language: Language = "pt") -> str:
    """``base`` deep-linked to ``module`` around ``at``.

    nexus-ml's own page (a path ending in ``/dashboard``) takes ``module``, ``at`` and ``lang``;
    any other URL (the Grafana dashboard of ``nexus-ml dashboard grafana``) takes Grafana's
    ``var-module`` and a ``from``/``to`` window of an hour either side, in milliseconds.
    """
    parts = urlsplit(base)
    if parts.path.rstrip("/").endswith("/dashboard"):
        extra = {"module": module, "at": at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}
        if language != "pt":
            extra["lang"] = language
    else:
        hour = timedelta(hours=1)
        extra = {
            "var-module": module,
            "from": str(int((at - hour).timestamp() * 1000)),
            "to": str(int((at + hour).timestamp() * 1000)),
        }
    query = "&".join(q for q in (parts.query, urlencode(extra)) if q)
    return urlunsplit(parts._replace(query=query))


def render_alert(
    alert: Alert,
    language: Language = "pt",
    *,
    suppressed: int = 0,
    at: datetime | None = None,
) -> str:
    """The HTML text of ``alert`` in ``language``; ``suppressed`` similar alerts are noted.

    The dashboard link is deep-linked to the alert's module and ``at`` (default: now, when
    the alert is rendered to be sent).
    """
    labels = _LABELS[language]
    names = _METRICS[language]
    title = escape(problem_title(alert.problem, language))
    lines = [f"{_ICONS[alert.severity]} <b>{title}</b> — <code>{escape(alert.module)}</code>"]

    def field(key: str, value: str) -> None:
        lines.append(f"<b>{labels[key]}:</b> {escape(value) if value else labels['none']}")

    field("container", alert.container or alert.module)
    field("problem", problem_title(alert.problem, language))
    field("action", alert.action_taken)
    if alert.impact:
        field("impact", alert.impact)
    if alert.key_metrics:
        lines.append(f"<b>{labels['metrics']}:</b>")
        for metric, value in alert.key_metrics.items():
            text = f"• {escape(names.get(metric, metric))}: {_value(metric, value)}"
            if metric in alert.normal_metrics:
                normal_value = alert.normal_metrics[metric]
                text += f" ({labels['normal']}: {_value(metric, normal_value)}"
                if normal_value > 0:
                    text += f"; {value / normal_value:.1f}×"
                text += ")"
            lines.append(text)
    if alert.probable_cause:
        field("cause", alert.probable_cause)
    if alert.next_action:
        field("next", alert.next_action)
    if alert.dashboard_url:
        link = dashboard_link(alert.dashboard_url, alert.module, at or datetime.now(UTC), language)
        url = escape(link, quote=True)
        lines.append(f'<a href="{url}">{labels["dashboard"]}</a>')
    if suppressed:
        lines.append(f"<i>+{suppressed} {labels['suppressed']}</i>")
    return "\n".join(lines)


_PHRASES: dict[str, dict[str, str]] = {
    "pt": {
        "scale_up": "Réplicas aumentadas de {before} para {after}",
        "scale_down": "Réplicas reduzidas de {before} para {after}",
        "restart": "Serviço reiniciado (force update)",
        "rollback": "Rollback para a versão anterior: {modules}",
        "hold": "Nenhuma (executor em espera)",
        "skipped": "Nenhuma: {reason}",
        "failed": "Falhou: {reason}",
        "next_watch": "Acompanhar as métricas nos próximos minutos",
        "next_operator": "Verificação manual por um operador",
        "impact_capacity": "Capacidade de {after} réplicas para a demanda prevista",
        "impact_blind": "Sem decisões novas: nenhuma mudança automática até a volta do serviço",
    },
    "en": {
        "scale_up": "Replicas raised from {before} to {after}",
        "scale_down": "Replicas lowered from {before} to {after}",
        "restart": "Service restarted (force update)",
        "rollback": "Rolled back to the previous version: {modules}",
        "hold": "None (executor holding)",
        "skipped": "None: {reason}",
        "failed": "Failed: {reason}",
        "next_watch": "Watch the metrics over the next minutes",
        "next_operator": "Manual check by an operator",
        "impact_capacity": "Capacity of {after} replicas for the forecast demand",
        "impact_blind": "No fresh decisions: no automatic change until the service is back",
    },
}


def phrase(key: str, language: Language = "pt", **values: object) -> str:
    """A short sentence for alert fields (action taken, impact, next action)."""
    return _PHRASES[language][key].format(**values)
