"""Render an :class:`~nexus_ml.alerts.notifier.Alert` as a Telegram HTML message (pt or en).

The shape is the seed's: the header ``🐳 NEXUS - ALERTA CONTAINER``, then Container, Problema
(the value and how long), Ação Tomada, Impacto (measured later: a follow-up message carries the
outcome), Métricas with their normal values, Causa Provável, Próxima Ação (with a duration) and
the dashboard link. Every value is HTML-escaped, so module names or reasons cannot break
Telegram's parser; numbers use the language's separators.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from html import escape
from urllib.parse import urlencode, urlsplit, urlunsplit

from nexus_ml.alerts.alert import Alert
from nexus_ml.alerts.phrases import Language, millis, number, percent, phrase

__all__ = ["Language", "dashboard_link", "phrase", "problem_title", "render_alert"]

_LABELS: dict[str, dict[str, str]] = {
    "pt": {
        "header": "🐳 NEXUS - ALERTA CONTAINER",
        "container": "Container",
        "problem": "Problema",
        "action": "Ação Tomada",
        "impact": "Impacto",
        "metrics": "Métricas",
        "normal": "normal",
        "cause": "Causa Provável",
        "next": "Próxima Ação",
        "dashboard": "Dashboard",
        "none": "nenhuma",
        "grouped": "+{count} alertas semelhantes agrupados desde a última mensagem",
    },
    "en": {
        "header": "🐳 NEXUS - CONTAINER ALERT",
        "container": "Container",
        "problem": "Problem",
        "action": "Action Taken",
        "impact": "Impact",
        "metrics": "Metrics",
        "normal": "normal",
        "cause": "Probable Cause",
        "next": "Next Action",
        "dashboard": "Dashboard",
        "none": "none",
        "grouped": "+{count} similar alerts grouped since the last message",
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
        "demand_high": "Demanda acima da capacidade",
        "capacity_max": "Capacidade máxima atingida",
        "memory_leak": "Vazamento de memória",
        "demand_low": "Demanda abaixo da capacidade",
        "outcome": "Resultado da ação",
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
        "demand_high": "Demand above capacity",
        "capacity_max": "Maximum capacity reached",
        "memory_leak": "Memory leak",
        "demand_low": "Demand below capacity",
        "outcome": "Outcome of the action",
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


def _value(metric: str, value: float, language: Language) -> str:
    if metric in _FRACTIONS and 0 <= value <= 1.5:
        return percent(value, language)
    if metric == "response_time":
        return millis(value, language)
    return number(value, language, 0 if abs(value) >= 100 else 2)


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
    """The HTML text of ``alert`` in ``language``; ``suppressed`` grouped alerts are counted.

    The dashboard link is deep-linked to the alert's module and ``at`` (default: now, when
    the alert is rendered to be sent).
    """
    labels = _LABELS[language]
    names = _METRICS[language]
    icon = _ICONS[alert.severity]
    lines = [
        f"<b>{labels['header']}</b>",
        f"{icon} <b>{escape(problem_title(alert.problem, language))}</b>",
        "",
    ]

    def field(key: str, value: str) -> None:
        lines.append(f"<b>{labels[key]}:</b> {escape(value) if value else labels['none']}")

    field("container", alert.container or alert.module)
    field("problem", alert.problem_detail or problem_title(alert.problem, language))
    field("action", alert.action_taken)
    if alert.impact:
        field("impact", alert.impact)
    if alert.key_metrics:
        lines.append(f"<b>{labels['metrics']}:</b>")
        for metric, value in alert.key_metrics.items():
            text = f"• {escape(names.get(metric, metric))}: {_value(metric, value, language)}"
            if metric in alert.normal_metrics:
                normal_value = alert.normal_metrics[metric]
                text += f" ({labels['normal']}: {_value(metric, normal_value, language)})"
            lines.append(text)
    if alert.probable_cause:
        field("cause", alert.probable_cause)
    if alert.next_action:
        field("next", alert.next_action)
    if alert.dashboard_url:
        link = dashboard_link(alert.dashboard_url, alert.module, at or datetime.now(UTC), language)
        url = escape(link, quote=True)
        lines.append(f'<b>{labels["dashboard"]}:</b> <a href="{url}">{labels["dashboard"]}</a>')
    if suppressed:
        lines.append(f"<i>{labels['grouped'].format(count=suppressed)}</i>")
    return "\n".join(lines)
