"""The full crisis report as Markdown, as HTML (plot embedded) and as a short Telegram summary.

Portuguese (pt-BR) by default, English on request. The HTML escapes everything it quotes (log
lines and stack traces are attacker-reachable text) and embeds the PNG as a data URL, so the
file stands alone.
"""

from __future__ import annotations

import base64
import html
from pathlib import Path

from nexus_ml.crisis.cause import Language
from nexus_ml.crisis.full_report import FullCrisisReport
from nexus_ml.durations import report_duration

_T: dict[Language, dict[str, str]] = {
    "pt": {
        "title": "Relatório de crise",
        "id": "Incidente",
        "type": "Tipo de erro",
        "severity": "Severidade",
        "period": "Período (UTC)",
        "open": "em aberto",
        "trigger": "Gatilho",
        "timeline": "Linha do tempo",
        "cause": "Causa raiz",
        "evidence": "Evidências",
        "modules": "Módulos afetados",
        "customers": "Clientes afetados",
        "money": "Impacto financeiro",
        "money_line": "{n} transações com falha × R$ {unit} = R$ {amount} (base: {basis})",
        "recovery": "Tempo de recuperação",
        "scope": "Escopo de rollback",
        "rolled": "módulos revertidos",
        "actions": "Ações tomadas",
        "none": "nenhuma",
        "lessons": "Lições aprendidas",
        "prevention": "Ações de prevenção",
        "data": "Dados mantidos (linhas por categoria)",
        "ignored": "Categorias ignoradas por regra",
        "plot": "Gráfico",
        "basis_logs": "transações nos logs",
        "basis_metrics": "requisições com falha estimadas pelas métricas",
        "tg": "🚨 Crise {severity} em {module}: {type}. Causa: {cause} "
        "Clientes afetados: {customers}; "
        "impacto R$ {amount}; recuperação {recovery}. Relatório: {url}",
    },
    "en": {
        "title": "Crisis report",
        "id": "Incident",
        "type": "Error type",
        "severity": "Severity",
        "period": "Period (UTC)",
        "open": "still open",
        "trigger": "Trigger",
        "timeline": "Timeline",
        "cause": "Root cause",
        "evidence": "Evidence",
        "modules": "Affected modules",
        "customers": "Affected customers",
        "money": "Financial impact",
        "money_line": "{n} failed transactions × {unit} = {amount} (basis: {basis})",
        "recovery": "Recovery time",
        "scope": "Rollback scope",
        "rolled": "modules rolled back",
        "actions": "Actions taken",
        "none": "none",
        "lessons": "Lessons learned",
        "prevention": "Prevention actions",
        "data": "Data kept (rows per category)",
        "ignored": "Categories ignored by rule",
        "plot": "Plot",
        "basis_logs": "transactions in the logs",
        "basis_metrics": "failed requests estimated from metrics",
        "tg": "🚨 {severity} crisis in {module}: {type}. Cause: {cause} Affected customers: "
        "{customers}; impact {amount}; recovery {recovery}. Report: {url}",
    },
}


def money(value: float, lang: Language) -> str:
    """``1234.5`` as ``1.234,50`` (pt-BR) or ``1,234.50`` (en)."""
    text = f"{value:,.2f}"
    return text.translate(str.maketrans(",.", ".,")) if lang == "pt" else text


def _duration(seconds: float | None, lang: Language) -> str:
    return _T[lang]["open"] if seconds is None else report_duration(seconds)


def _sections(r: FullCrisisReport) -> list[tuple[str, list[str]]]:
    """(heading, lines) pairs shared by Markdown and HTML."""
    t = _T[r.language]
    end = f"{r.closed_at:%Y-%m-%d %H:%M}" if r.closed_at else t["open"]
    fin = r.financial_impact
    money_text = t["money_line"].format(
        n=fin.failed_transactions, unit=money(fin.revenue_per_transaction, r.language),
        amount=money(fin.amount, r.language),
        basis=t[f"basis_{fin.basis}"],
    )  # fmt: skip
    rolled = ", ".join(r.rollback_modules) or t["none"]
    customers = f"{r.affected_customers}" + (
        f" ({', '.join(r.affected_customer_sample)}…)" if r.affected_customer_sample else ""
    )
    return [
        (t["id"], [f"`{r.incident_id}` — {t['type']}: {r.error_type}; {t['severity']}: "
                   f"{r.severity}; {t['period']}: {r.opened_at:%Y-%m-%d %H:%M} → {end}",
                   f"{t['trigger']}: {r.trigger}"]),
        (t["timeline"], [f"{i.at:%Y-%m-%d %H:%M} — {i.what}" for i in r.timeline]),
        (t["cause"], [r.root_cause]),
        (t["evidence"], list(r.root_cause_evidence) or [t["none"]]),
        (t["modules"], [", ".join(r.affected_modules)]),
        (t["customers"], [customers]),
        (t["money"], [money_text]),
        (t["recovery"], [_duration(r.recovery_time_s, r.language)]),
        (t["scope"], [f"{r.rollback_scope.value}; {t['rolled']}: {rolled}"]),
        (t["actions"], list(r.actions_taken) or [t["none"]]),
        (t["lessons"], list(r.lessons_learned)),
        (t["prevention"], list(r.prevention_actions)),
        (t["data"], [f"{k}: {v}" for k, v in sorted(r.data_kept.items())] or [t["none"]]),
        (t["ignored"], [", ".join(r.data_ignored) or t["none"]]),
    ]  # fmt: skip


def render_full_markdown(report: FullCrisisReport, *, plot_name: str | None = None) -> str:
    """The report as Markdown; ``plot_name`` (beside the file) is embedded when given."""
    t = _T[report.language]
    out = [f"# {t['title']}: {report.module} — {report.error_type}", ""]
    for heading, lines in _sections(report):
        out += [f"## {heading}", "", *(f"- {line}" for line in lines), ""]
    if plot_name:
        out += [f"## {t['plot']}", "", f"![{t['plot']}]({plot_name})", ""]
    return "\n".join(out)


def render_full_html(report: FullCrisisReport, *, plot: Path | None = None) -> str:
    """The report as one self-contained HTML page (the plot inlined as a PNG data URL)."""
    t = _T[report.language]
    title = html.escape(f"{t['title']}: {report.module} — {report.error_type}")
    body = [f"<h1>{title}</h1>"]
    for heading, lines in _sections(report):
        items = "".join(f"<li>{html.escape(line)}</li>" for line in lines)
        body.append(f"<h2>{html.escape(heading)}</h2><ul>{items}</ul>")
    if plot is not None and plot.is_file():
        data = base64.b64encode(plot.read_bytes()).decode()
        body.append(
            f'<h2>{t["plot"]}</h2><img alt="{t["plot"]}" src="data:image/png;base64,{data}">'
        )
    lang = "pt-BR" if report.language == "pt" else "en"
    style = "body{font-family:sans-serif;max-width:60em;margin:auto}img{max-width:100%}"
    return (
        f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{title}</title>'
        f"<style>{style}</style></head><body>{''.join(body)}</body></html>\n"
    )


def telegram_summary(report: FullCrisisReport, url: str, *, limit: int = 900) -> str:
    """A short text for Telegram that links to the full report (at most ``limit`` chars)."""
    t = _T[report.language]
    cause = report.root_cause if len(report.root_cause) <= 300 else report.root_cause[:297] + "…"
    text = t["tg"].format(
        severity=report.severity, module=report.module, type=report.error_type, cause=cause,
        customers=report.affected_customers,
        amount=money(report.financial_impact.amount, report.language),
        recovery=_duration(report.recovery_time_s, report.language), url=url,
    )  # fmt: skip
    return text if len(text) <= limit else text[: limit - len(url) - 2] + "… " + url
