"""Operator-facing words of the alerts, in Portuguese (default) and English.

Numbers follow the language: Portuguese writes ``2.100`` and ``0,5%``, English ``2,100`` and
``0.5%``. Every phrase is a ``str.format`` template filled with already formatted values.
"""

from __future__ import annotations

from typing import Literal

Language = Literal["pt", "en"]

PHRASES: dict[str, dict[str, str]] = {
    "pt": {
        # action taken
        "scale_up": "Réplicas aumentadas de {before} para {after}",
        "scale_down": "Réplicas reduzidas de {before} para {after}",
        "restart": "Serviço reiniciado (force update)",
        "rollback": "Rollback para a versão anterior: {modules}",
        "rollback_started": "Rollback em andamento ({scope}), nesta ordem: {modules}",
        "hold": "Nenhuma (executor em espera)",
        "skipped": "Nenhuma: {reason}",
        "failed": "Falhou: {reason}",
        # problem, with the value and how long
        "p_demand_over": "Demanda {rpm} req/min acima da capacidade ({capacity})",
        "p_demand_forecast": "Demanda {rpm} req/min; pico previsto de {peak} acima da capacidade "
        "({capacity})",
        "p_demand_normal": "Demanda {rpm} req/min, {ratio} o normal ({normal})",
        "p_demand_low": "Demanda {rpm} req/min, abaixo de metade da capacidade ({capacity})",
        "p_slow_failing": "Tempo de resposta {rt} ({ratio} o normal) e erros em {err}",
        "p_slow": "Tempo de resposta {rt} ({ratio} o normal)",
        "p_errors": "Taxa de erro em {err} (normal {normal})",
        "p_release": "Taxa de erro em {err} após a atualização (normal {normal})",
        "p_cpu": "CPU em {value}",
        "p_memory": "Memória em {value}",
        "p_slow_link": "Chamadas lentas: {links}",
        "p_latency_trend": "Tempo de resposta {rt} ({ratio} o normal) e subindo: {limit} previsto "
        "em ~{minutes}min",
        "p_memory_trend": "Memória em {value} do limite e subindo: limite previsto em ~{left}",
        "p_for": "{what} há {minutes}min",
        # impact
        "impact_pending": "Em avaliação: resultado medido em {minutes}min",
        "impact_blind": "Sem decisões novas: nenhuma mudança automática até a volta do serviço",
        "impact_none": "Nenhuma mudança aplicada",
        "o_rt_normal": "Tempo de resposta normalizado ({before} → {after})",
        "o_rt_still": "Tempo de resposta ainda {ratio} o normal ({after})",
        "o_err_normal": "Taxa de erro normalizada ({before} → {after})",
        "o_err_still": "Taxa de erro ainda em {after}",
        "o_rt_kept": "Tempo de resposta manteve-se normal ({after})",
        "o_mem_normal": "Memória normalizada ({before} → {after})",
        "o_mem_still": "Memória ainda em {after}",
        "o_unmeasured": "Não medido: métricas indisponíveis",
        # next action, with a duration
        "next_scale_up": "Monitorar por {minutes}min; reduzir réplicas quando a demanda cair",
        "next_scale_down": "Monitorar por {minutes}min; escalar de novo se a demanda subir",
        "next_restart": "Verificar a recuperação em {minutes}min; se persistir, rollback ou "
        "operador",
        "next_rollback": "Validar a versão anterior em {minutes}min; investigar a release",
        "next_operator": "Verificação manual por um operador",
        "next_done": "Nenhuma: acompanhamento encerrado",
        "next_escalate": "Verificação manual por um operador em até {minutes}min",
        "next_leak": "Investigar o vazamento; reiniciar num horário de pouco uso antes de ~{left}",
        # probable cause, from the decision's evidence
        "c_forecast": "Aumento de demanda previsto pelo modelo de previsão",
        "c_forecast_low": "Demanda prevista abaixo da capacidade atual",
        "c_rule_up": "Regra de escalonamento: demanda sustentada acima do limite",
        "c_rule_down": "Regra de escalonamento: demanda sustentada abaixo de metade do limite",
        "c_load": "Sobrecarga: a demanda atual excede a capacidade das réplicas",
        "c_capacity": "No máximo de réplicas e ainda acima da capacidade",
        "c_health": "Tempo de resposta e taxa de erro degradados (regra de reinício preventivo)",
        "c_memory": "Vazamento de memória provável: o uso sobe sem parar rumo ao limite",
        "c_latency": "Degradação progressiva: o tempo de resposta sobe sem parar",
        "c_failing": "Requisições falhando sem lentidão: erro da aplicação ou de uma dependência",
        "c_early": "Alerta precoce: o detector de anomalias vê a degradação, a regra de "
        "reinício ainda não a confirmou",
        "c_anomaly": "Comportamento anômalo detectado pelo detector de anomalias",
        "c_canary": "Regressão após a atualização: a versão nova tem mais erros ou latência",
        "c_slow_link": "Dependência lenta",
        "c_stale": "Métricas ausentes ou atrasadas",
        "c_alert": "Alerta do Prometheus disparado",
        "c_unknown": "Não identificada automaticamente",
        # the follow-up message
        "follow_up": "Resultado da ação",
    },
    "en": {
        "scale_up": "Replicas raised from {before} to {after}",
        "scale_down": "Replicas lowered from {before} to {after}",
        "restart": "Service restarted (force update)",
        "rollback": "Rolled back to the previous version: {modules}",
        "rollback_started": "Rollback under way ({scope}), in this order: {modules}",
        "hold": "None (executor holding)",
        "skipped": "None: {reason}",
        "failed": "Failed: {reason}",
        "p_demand_over": "Demand {rpm} req/min above capacity ({capacity})",
        "p_demand_forecast": "Demand {rpm} req/min; forecast peak {peak} above capacity "
        "({capacity})",
        "p_demand_normal": "Demand {rpm} req/min, {ratio} normal ({normal})",
        "p_demand_low": "Demand {rpm} req/min, below half the capacity ({capacity})",
        "p_slow_failing": "Response time {rt} ({ratio} normal) and errors at {err}",
        "p_slow": "Response time {rt} ({ratio} normal)",
        "p_errors": "Error rate at {err} (normal {normal})",
        "p_release": "Error rate at {err} after the release (normal {normal})",
        "p_cpu": "CPU at {value}",
        "p_memory": "Memory at {value}",
        "p_slow_link": "Slow calls: {links}",
        "p_latency_trend": "Response time {rt} ({ratio} normal) and rising: {limit} in "
        "~{minutes}min",
        "p_memory_trend": "Memory at {value} of its limit and rising: the limit in ~{left}",
        "p_for": "{what} for {minutes}min",
        "impact_pending": "Being measured: outcome in {minutes}min",
        "impact_blind": "No fresh decisions: no automatic change until the service is back",
        "impact_none": "No change applied",
        "o_rt_normal": "Response time back to normal ({before} → {after})",
        "o_rt_still": "Response time still {ratio} normal ({after})",
        "o_err_normal": "Error rate back to normal ({before} → {after})",
        "o_err_still": "Error rate still at {after}",
        "o_rt_kept": "Response time stayed normal ({after})",
        "o_mem_normal": "Memory back to normal ({before} → {after})",
        "o_mem_still": "Memory still at {after}",
        "o_unmeasured": "Not measured: metrics unavailable",
        "next_scale_up": "Watch for {minutes}min; lower replicas when demand falls",
        "next_scale_down": "Watch for {minutes}min; scale up again if demand rises",
        "next_restart": "Check recovery in {minutes}min; if it persists, rollback or operator",
        "next_rollback": "Validate the previous version in {minutes}min; investigate the release",
        "next_operator": "Manual check by an operator",
        "next_done": "None: follow-up closed",
        "next_escalate": "Manual check by an operator within {minutes}min",
        "next_leak": "Investigate the leak; restart at a quiet time before ~{left}",
        "c_forecast": "Demand increase forecast by the forecasting model",
        "c_forecast_low": "Forecast demand below the current capacity",
        "c_rule_up": "Scaling rule: demand sustained above the threshold",
        "c_rule_down": "Scaling rule: demand sustained below half the threshold",
        "c_load": "Overload: current demand exceeds the replicas' capacity",
        "c_capacity": "At the maximum replicas and still over capacity",
        "c_health": "Response time and error rate degraded (preventive restart rule)",
        "c_memory": "Probable memory leak: use climbing steadily toward the limit",
        "c_latency": "Creeping degradation: response time climbing steadily",
        "c_failing": "Requests failing without slowness: an application or dependency error",
        "c_early": "Early warning: the anomaly detector sees the degradation, the restart rule "
        "has not confirmed it yet",
        "c_anomaly": "Anomalous behaviour flagged by the anomaly detector",
        "c_canary": "Regression after the release: the new version has more errors or latency",
        "c_slow_link": "Slow dependency",
        "c_stale": "Metrics missing or late",
        "c_alert": "Prometheus alert firing",
        "c_unknown": "Not identified automatically",
        "follow_up": "Outcome of the action",
    },
}


def phrase(key: str, language: Language = "pt", **values: object) -> str:
    """A short sentence for alert fields (action taken, problem, impact, cause, next action)."""
    return PHRASES[language][key].format(**values)


def number(value: float, language: Language = "pt", decimals: int = 0) -> str:
    """``value`` with the language's separators (pt ``2.100,5``, en ``2,100.5``)."""
    text = f"{value:,.{decimals}f}"
    if language == "pt":
        text = text.replace(",", "\0").replace(".", ",").replace("\0", ".")
    return text


def percent(fraction: float, language: Language = "pt") -> str:
    """A fraction as a percentage: one decimal below 10 %, none above (``0,5%``, ``95%``)."""
    pct = 100 * fraction
    return number(pct, language, 1 if abs(pct) < 10 else 0) + "%"


def times(ratio: float, language: Language = "pt") -> str:
    """A multiple of the normal value (``4,1×``)."""
    return number(ratio, language, 1) + "×"


def span(minutes: float) -> str:
    """A time ahead: minutes below an hour and a half (``11min``), hours above (``3h20min``)."""
    whole = max(round(minutes), 0)
    if whole < 90:
        return f"{whole}min"
    hours, rest = divmod(whole, 60)
    return f"{hours}h{rest:02d}min" if rest else f"{hours}h"


def millis(value: float, language: Language = "pt") -> str:
    return number(value, language) + " ms"
