"""Whether an applied action helped: its metrics a few minutes later against the ones at the time
and the normal values, told to the operators as a follow-up of the alert that announced it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta

from nexus_ml.alerts.notifier import Alert
from nexus_ml.alerts.phrases import Language, millis, percent, phrase, times
from nexus_ml.domain.decision import Action
from nexus_ml.execute.alerting import (
    ERROR_RATE,
    FOLLOW_UP_MIN,
    NORMAL_RT_RATIO,
    OPERATOR_MIN,
    SATURATED,
)


@dataclass(frozen=True)
class PendingOutcome:
    """An applied action whose effect is to be measured at ``due``."""

    alert: Alert  # the message that announced it
    action: Action
    due: datetime
    before: dict[str, float] = field(default_factory=dict)
    normal: dict[str, float] = field(default_factory=dict)

    @classmethod
    def of(cls, alert: Alert, action: Action, now: datetime) -> PendingOutcome:
        due = now + timedelta(minutes=FOLLOW_UP_MIN.get(action, OPERATOR_MIN))
        return cls(alert, action, due, dict(alert.key_metrics), dict(alert.normal_metrics))


def outcome_alert(
    pending: PendingOutcome,
    metrics: dict[str, float],
    *,
    language: Language = "pt",
) -> tuple[Alert, bool]:
    """The follow-up of ``pending`` given the module's metrics now; and whether it helped.

    Response time counts as normalised within 1.5x its normal value (the normal of the time
    of the action: an incident's minutes must not become the yardstick); the error rate when
    it is under the seed's 5 % and at most twice its normal; memory, when it was at or above
    85 % of its limit (a leak's restart), once it is below that.
    """
    lang = language
    parts: list[str] = []
    healthy = True
    rt, rt_n, rt_0 = (
        metrics.get("response_time"),
        pending.normal.get("response_time"),
        pending.before.get("response_time"),
    )
    if rt is not None and rt_n:
        ok = rt <= NORMAL_RT_RATIO * rt_n
        healthy &= ok
        if not ok:
            parts.append(
                phrase("o_rt_still", lang, ratio=times(rt / rt_n, lang), after=millis(rt, lang))
            )
        elif rt_0 is not None and rt_0 > NORMAL_RT_RATIO * rt_n:
            parts.append(
                phrase("o_rt_normal", lang, before=millis(rt_0, lang), after=millis(rt, lang))
            )
        else:
            parts.append(phrase("o_rt_kept", lang, after=millis(rt, lang)))
    err, err_n, err_0 = (
        metrics.get("error_rate"),
        pending.normal.get("error_rate"),
        pending.before.get("error_rate"),
    )
    if err is not None and err_0 is not None and err_0 > ERROR_RATE:  # errors were a symptom
        ok = err < ERROR_RATE and (err_n is None or err <= max(2 * err_n, 0.01))
        healthy &= ok
        key = "o_err_normal" if ok else "o_err_still"
        parts.append(phrase(key, lang, before=percent(err_0, lang), after=percent(err, lang)))
    mem, mem_0 = metrics.get("memory_usage"), pending.before.get("memory_usage")
    if mem is not None and mem_0 is not None and mem_0 >= SATURATED:  # memory was the problem
        ok = mem < SATURATED
        healthy &= ok
        key = "o_mem_normal" if ok else "o_mem_still"
        parts.append(phrase(key, lang, before=percent(mem_0, lang), after=percent(mem, lang)))
    measured = bool(parts)
    if not measured:
        parts.append(phrase("o_unmeasured", lang))
    helped = measured and healthy
    first = pending.alert
    alert = Alert(
        module=first.module,
        container=first.container,
        problem="outcome",
        problem_detail=first.problem_detail,
        severity="info" if helped else "warning",
        action_taken=first.action_taken,
        impact="; ".join(parts),
        key_metrics=metrics,
        normal_metrics={k: v for k, v in pending.normal.items() if k in metrics},
        next_action=phrase("next_done", lang)
        if helped
        else phrase("next_escalate", lang, minutes=OPERATOR_MIN),
        dashboard_url=first.dashboard_url,
    )
    return alert, helped
