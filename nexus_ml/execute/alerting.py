"""Turn a decision (and what the executor did with it) into an operator alert.

The alert follows the seed: Problema with the value and how long it has held ("Demanda 2.100
req/min acima da capacidade (1.680) há 7min"), Causa Provável from the decision's evidence kinds
(never the policy's English reason), Próxima Ação with a duration, and an Impacto that is
*measured*: :func:`~nexus_ml.execute.alert_outcome.outcome_alert` compares the metrics a few
minutes after the action with the ones at the time and the normal values (the executor sends it
as a follow-up).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from statistics import median
from typing import Literal

from nexus_ml.alerts.notifier import Alert
from nexus_ml.alerts.phrases import Language, millis, number, percent, phrase, span, times
from nexus_ml.decide.health import EARLY_WARNING, FAILING_REQUESTS
from nexus_ml.decide.trend import LATENCY_TREND, MEMORY_TREND, MEMORY_WATCH
from nexus_ml.decide.window import finite
from nexus_ml.domain.decision import Action, Decision, Evidence
from nexus_ml.domain.rollback import RollbackScope
from nexus_ml.execute.context import MetricContext
from nexus_ml.logs import get_logger

log = get_logger(__name__)

Severity = Literal["info", "warning", "critical"]

METRIC_KINDS = ("requests_per_min", "memory_usage", "error_rate", "cpu_usage", "response_time")
_CRITICAL = frozenset({"cluster_error", "failed_release"})
#: Problems of an action that was applied (the others: skipped, failed, held).
ACTION_PROBLEMS = frozenset({"degradation", "failed_release", "surge", "demand_high", "demand_low"})
#: Minutes after an action at which its outcome is measured (the seed: validate within minutes).
FOLLOW_UP_MIN: dict[Action, int] = {
    Action.SCALE_UP: 10,
    Action.SCALE_DOWN: 10,
    Action.RESTART: 5,
    Action.ROLLBACK: 5,
}
OPERATOR_MIN = 15  # how soon a human should look when nothing was done automatically
# The seed's degradation thresholds, also used to say whether a symptom is gone.
SLOW_RATIO, ERROR_RATE = 3.0, 0.05
SATURATED = 0.85  # memory or CPU share from which an alert names it as the problem
NORMAL_RT_RATIO = 1.5  # response time within this multiple of normal counts as normalised

_CAUSES: tuple[tuple[str, str], ...] = (  # evidence kind → cause phrase, most telling first
    ("canary", "c_canary"),
    ("capacity", "c_capacity"),
    ("load", "c_load"),
    (MEMORY_TREND, "c_memory"),
    (MEMORY_WATCH, "c_memory"),
    (LATENCY_TREND, "c_latency"),
    (FAILING_REQUESTS, "c_failing"),
    ("health", "c_health"),
    (EARLY_WARNING, "c_early"),
    ("anomaly", "c_anomaly"),
    ("slow_link", "c_slow_link"),
    ("alert", "c_alert"),
    ("forecast_peak", "c_forecast"),
    ("exceed_probability", "c_forecast"),
    ("scaling", "c_forecast"),
    ("rule", "c_rule"),
)


def _run(values: Sequence[float], holds: Callable[[float], bool]) -> int:
    """How many of the newest values in a row satisfy ``holds`` (a gap ends the run)."""
    n = 0
    for v in reversed(values):
        if not (math.isfinite(v) and holds(v)):
            break
        n += 1
    return n


def recent_series(context: MetricContext | None, module: str) -> dict[str, list[float]]:
    """Per key field, the module's per-minute values of the context's window, oldest first."""
    if context is None:
        return {}
    now = context.clock()
    try:
        frame = context.source.fetch([module], now - context.window, now).frame
    except Exception as exc:  # an alert without a duration beats no alert
        log.warning("alert.no_metric_history", module=module, error=str(exc))
        return {}
    rows = frame[frame["module"] == module].sort_values("timestamp")
    return {f: [float(v) for v in rows[f]] for f in METRIC_KINDS if f in rows.columns}


def _for(what: str, minutes: int, language: Language) -> str:
    return phrase("p_for", language, what=what, minutes=minutes) if minutes > 0 else what


def describe_problem(
    decision: Decision,
    metrics: dict[str, float],
    normal: dict[str, float],
    series: dict[str, list[float]],
    *,
    capacity_per_replica: float | None = None,
    language: Language = "pt",
) -> str:
    """The problem with its value and how long it has held; "" when no metric says it."""
    lang = language
    action = decision.action
    trend = _evidence_of(decision, MEMORY_TREND) or _evidence_of(decision, MEMORY_WATCH)
    memory = metrics.get("memory_usage")
    if action in (Action.RESTART, Action.ALERT) and trend is not None and memory is not None:
        left = span(trend.value or 0.0)
        return phrase("p_memory_trend", lang, value=percent(memory, lang), left=left)
    if action is Action.ALERT:
        for kind, key in (("memory_usage", "p_memory"), ("cpu_usage", "p_cpu")):
            value = metrics.get(kind)
            if value is not None and value >= SATURATED:
                minutes = _run(series.get(kind, []), lambda v: v >= SATURATED)
                return _for(phrase(key, lang, value=percent(value, lang)), minutes, lang)
    if action in (Action.RESTART, Action.ROLLBACK):
        return _degradation(decision, metrics, normal, series, lang)
    if action is Action.ALERT and at_maximum(decision):
        return _demand(decision, metrics, normal, series, capacity_per_replica, lang)
    if action is Action.ALERT:  # name a symptom only if there is one
        err = metrics.get("error_rate")
        rt, rt_n = metrics.get("response_time"), normal.get("response_time")
        if _slow(rt, rt_n) or (err is not None and err > ERROR_RATE):
            return _degradation(decision, metrics, normal, series, lang)
        creep = _evidence_of(decision, LATENCY_TREND)
        if creep is not None and rt is not None and rt_n:
            return phrase(
                "p_latency_trend",
                lang,
                rt=millis(rt, lang),
                ratio=times(rt / rt_n, lang),
                limit=times(SLOW_RATIO, lang),
                minutes=number(creep.value or 0.0, lang),
            )
        link = _evidence_of(decision, "slow_link")
        if link is not None:  # "slow calls (> 100 ms): a → b 312 ms": the links, as they are
            return phrase("p_slow_link", lang, links=link.detail.partition(": ")[2])
        return ""
    return _demand(decision, metrics, normal, series, capacity_per_replica, lang)


def _degradation(
    decision: Decision,
    metrics: dict[str, float],
    normal: dict[str, float],
    series: dict[str, list[float]],
    lang: Language,
) -> str:
    rt, rt_n, err = (
        metrics.get("response_time"),
        normal.get("response_time"),
        metrics.get("error_rate"),
    )
    err_n = normal.get("error_rate")
    if decision.action is Action.ROLLBACK and err is not None and err_n is not None:
        limit = max(2 * err_n, ERROR_RATE)
        text = phrase("p_release", lang, err=percent(err, lang), normal=percent(err_n, lang))
        return _for(text, _run(series.get("error_rate", []), lambda v: v > limit), lang)
    if err is not None and err > ERROR_RATE and not _slow(rt, rt_n):  # the errors alone
        return _errors(err, err_n, series, lang)
    if rt is not None and rt_n and err is not None:
        minutes = min(
            _run(series.get("response_time", []), lambda v: v > SLOW_RATIO * rt_n),
            _run(series.get("error_rate", []), lambda v: v > ERROR_RATE),
        )
        text = phrase(
            "p_slow_failing",
            lang,
            rt=millis(rt, lang),
            ratio=times(rt / rt_n, lang),
            err=percent(err, lang),
        )
        return _for(text, minutes, lang)
    if rt is not None and rt_n:
        minutes = _run(series.get("response_time", []), lambda v: v > SLOW_RATIO * rt_n)
        text = phrase("p_slow", lang, rt=millis(rt, lang), ratio=times(rt / rt_n, lang))
        return _for(text, minutes, lang)
    if err is not None:
        return _errors(err, err_n, series, lang)
    return ""


def _slow(rt: float | None, normal: float | None) -> bool:
    """Response time above the seed's multiple of its normal level."""
    return rt is not None and bool(normal) and rt > SLOW_RATIO * (normal or 0.0)


def _errors(err: float, err_n: float | None, series: dict[str, list[float]], lang: Language) -> str:
    minutes = _run(series.get("error_rate", []), lambda v: v > ERROR_RATE)
    shown = percent(err_n, lang) if err_n is not None else "?"
    return _for(phrase("p_errors", lang, err=percent(err, lang), normal=shown), minutes, lang)


def _demand(
    decision: Decision,
    metrics: dict[str, float],
    normal: dict[str, float],
    series: dict[str, list[float]],
    per_replica: float | None,
    lang: Language,
) -> str:
    rpm = metrics.get("requests_per_min")
    if rpm is None:
        return ""
    rpm_series = series.get("requests_per_min", [])
    capacity = per_replica * decision.current_replicas if per_replica else None
    shown = number(rpm, lang)
    if capacity and decision.action is Action.SCALE_DOWN and rpm < capacity / 2:
        text = phrase("p_demand_low", lang, rpm=shown, capacity=number(capacity, lang))
        return _for(text, _run(rpm_series, lambda v: v < capacity / 2), lang)
    if capacity and rpm > capacity:
        text = phrase("p_demand_over", lang, rpm=shown, capacity=number(capacity, lang))
        return _for(text, _run(rpm_series, lambda v: v > capacity), lang)
    forecast = _evidence_of(decision, "forecast_peak")
    peak = forecast.value if forecast is not None else None
    if capacity and peak is not None and peak > capacity:
        return phrase(
            "p_demand_forecast",
            lang,
            rpm=shown,
            peak=number(peak, lang),
            capacity=number(capacity, lang),
        )
    rpm_n = normal.get("requests_per_min")
    if rpm_n:
        text = phrase(
            "p_demand_normal",
            lang,
            rpm=shown,
            ratio=times(rpm / rpm_n, lang),
            normal=number(rpm_n, lang),
        )
        above = rpm > rpm_n
        return _for(text, _run(rpm_series, lambda v: (v > rpm_n) == above), lang)
    return ""


def probable_cause(decision: Decision, language: Language = "pt") -> str:
    """The likely cause in the operators' language, from the decision's evidence kinds."""
    kinds = {e.kind: e for e in decision.explanation}
    down = decision.action is Action.SCALE_DOWN
    keys: list[str] = []
    for kind, key in _CAUSES:
        evidence = kinds.get(kind)
        if evidence is None:
            continue
        if kind == "anomaly" and (
            evidence.value is None or evidence.value < 0.6 or "c_early" in keys
        ):
            continue  # a weak score, or the early warning already names the detector
        if key in ("c_forecast", "c_rule"):
            if decision.action not in (Action.SCALE_UP, Action.SCALE_DOWN):
                continue
            if key == "c_forecast":
                key = "c_forecast_low" if down else "c_forecast"
            else:
                key = "c_rule_down" if down else "c_rule_up"
        if key not in keys:
            keys.append(key)
    if decision.stale_input:
        keys.append("c_stale")
    texts = [phrase(k, language) for k in keys[:2]]
    alert = kinds.get("alert")
    if alert is not None and "c_alert" in keys[:2]:
        names = alert.detail.removeprefix("firing: ")
        texts[keys.index("c_alert")] += f": {names}"
    return "; ".join(texts) or phrase("c_unknown", language)


def next_action(decision: Decision, problem: str, taken: str | None, language: Language) -> str:
    """What comes next, with a duration."""
    if taken and problem in ACTION_PROBLEMS and decision.action in FOLLOW_UP_MIN:
        key = f"next_{decision.action.value}"
        return phrase(key, language, minutes=FOLLOW_UP_MIN[decision.action])
    left = _slow_leak_left(decision)
    if left is not None:  # hours left: a restart at a quiet time, not a page
        return phrase("next_leak", language, left=span(left))
    return phrase("next_escalate", language, minutes=OPERATOR_MIN)


def _evidence_of(decision: Decision, kind: str) -> Evidence | None:
    """The decision's first evidence of ``kind`` (None: it has none)."""
    return next((e for e in decision.explanation if e.kind == kind), None)


def at_maximum(decision: Decision) -> bool:
    """The policy says the module runs its maximum and is still over capacity."""
    return _evidence_of(decision, "capacity") is not None


#: What else makes the policy alert; a memory trend with none of them is the memory's alone.
_OTHER_ALERTS = frozenset(
    {EARLY_WARNING, LATENCY_TREND, FAILING_REQUESTS, "health", "slow_link", "capacity", "canary"}
)


def slow_leak(decision: Decision) -> bool:
    """The policy alerts on a memory leak alone, with hours left before the limit (the watch
    over the hour; within the hour is a degradation, alerted as such)."""
    return _slow_leak_left(decision) is not None


def _slow_leak_left(decision: Decision) -> float | None:
    """The minutes a slow leak (see :func:`slow_leak`) leaves before the limit, else None."""
    trend = _evidence_of(decision, MEMORY_WATCH)
    if decision.action is not Action.ALERT or trend is None or trend.value is None:
        return None
    if any(e.kind in _OTHER_ALERTS for e in decision.explanation):
        return None
    return trend.value


def applied_problem(decision: Decision) -> str:
    """The problem key of an applied action.

    Restarts are ``degradation``, rollbacks ``failed_release``, a scale-up at the module's
    limit (``alert_admin``) a ``surge``; routine scale-ups and scale-downs are ``demand_high``
    and ``demand_low`` (grouped per module for 30 min by the alert grouper).
    """
    return {
        Action.RESTART: "degradation",
        Action.ROLLBACK: "failed_release",
        Action.SCALE_UP: "surge" if decision.alert_admin else "demand_high",
        Action.SCALE_DOWN: "demand_low",
    }.get(decision.action, "degradation")


def rollback_announcement(
    scope: RollbackScope | None, plan: Sequence[str], language: Language = "pt"
) -> str:
    """What a rollback's first message says was done: the scope and the modules in the order
    they will be rolled back (sent before the cluster is touched; the follow-up says how it
    went)."""
    value = (scope or RollbackScope.MODULE_ONLY).value
    return phrase("rollback_started", language, scope=value, modules=" → ".join(plan))


def decision_alert(
    decision: Decision,
    problem: str,
    taken: str | None,
    *,
    language: Language = "pt",
    dashboard_url: str = "",
    context: MetricContext | None = None,
    capacity_per_replica: float | None = None,
    severity: Severity | None = None,
) -> Alert:
    """The alert about ``decision``; ``taken`` is the action taken (None: nothing was done).

    Key metrics come from the decision's evidence (kinds named after metric fields, and
    ``<field>_normal`` for the normal value) and, when a ``context`` is given, from the
    module's recent metrics; the evidence wins where both have a value. The Impacto of an
    applied action says when it will be measured (only with a ``context`` to measure it).
    """
    metrics: dict[str, float] = {}
    normal: dict[str, float] = {}
    if context is not None:
        metrics, normal = context.metrics(decision.module)
    series = recent_series(context, decision.module)
    for kind, values in series.items():  # what the context leaves out (CPU)
        seen = finite(values)
        if kind not in metrics and seen:
            metrics[kind] = seen[-1]
            earlier = seen[: -context.recent] if context is not None else []
            if earlier:
                normal[kind] = float(median(earlier))
    for e in decision.explanation:
        if e.value is None:
            continue
        if e.kind in METRIC_KINDS:
            metrics[e.kind] = e.value
        elif e.kind.endswith("_normal"):
            normal[e.kind.removesuffix("_normal")] = e.value
    applied = bool(taken) and problem in ACTION_PROBLEMS
    impact = ""
    if applied and context is not None and decision.action in FOLLOW_UP_MIN:
        impact = phrase("impact_pending", language, minutes=FOLLOW_UP_MIN[decision.action])
    elif taken is None:
        impact = phrase("impact_none", language)
    level: Severity = severity or ("critical" if problem in _CRITICAL else "warning")
    return Alert(
        module=decision.module,
        container=decision.module,
        problem=problem,
        problem_detail=describe_problem(
            decision,
            metrics,
            normal,
            series,
            capacity_per_replica=capacity_per_replica,
            language=language,
        ),
        severity=level,
        action_taken=taken or phrase("hold", language),
        acted=applied,
        impact=impact,
        key_metrics=metrics,
        normal_metrics={k: v for k, v in normal.items() if k in metrics},
        probable_cause=probable_cause(decision, language),
        next_action=next_action(decision, problem, taken, language),
        dashboard_url=dashboard_url,
    )
