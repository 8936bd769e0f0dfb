"""Alert contents (problem with value and duration, cause in words, next action with a
duration) and the measured follow-up the executor sends a few minutes after acting."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import pandas as pd

from nexus_ml.alerts.notifier import LogNotifier
from nexus_ml.alerts.render import problem_title
from nexus_ml.domain.decision import Action, Decision, Evidence
from nexus_ml.domain.metrics import METRIC_FIELDS
from nexus_ml.execute.alert_outcome import PendingOutcome, outcome_alert
from nexus_ml.execute.alerting import (
    FOLLOW_UP_MIN,
    decision_alert,
    describe_problem,
    probable_cause,
    slow_leak,
)
from nexus_ml.execute.audit import MemoryAudit
from nexus_ml.execute.context import MetricContext
from nexus_ml.execute.memory import InMemoryCluster
from nexus_ml.ingest.frame_source import FrameSource
from tests.execute.conftest import CRM, T0, ScriptedSource, decision


def frame(module: str, minutes: range, **per_minute: object) -> pd.DataFrame:
    """Per-minute metrics at T0 + minute; ``per_minute[field]`` maps a minute to its value
    (a callable) or is a constant."""
    base = {f: 0.3 for f in METRIC_FIELDS}
    base.update(response_time=180.0, error_rate=0.004, requests_per_min=100.0)
    rows = []
    for m in minutes:
        row = {"timestamp": T0 + timedelta(minutes=m), "module": module}
        for f in METRIC_FIELDS:
            v = per_minute.get(f, base[f])
            row[f] = float(v(m) if callable(v) else v)  # type: ignore[arg-type]
        rows.append(row)
    return pd.DataFrame(rows)


def context_of(data: pd.DataFrame, clock) -> MetricContext:  # type: ignore[no-untyped-def]
    return MetricContext(FrameSource(data, stale_after=timedelta(hours=2)), clock)


def told(kind: str, detail: str, value: float, action: str = "alert") -> Decision:
    """A decision backed by one piece of evidence, as the policy attaches it."""
    return decision(action=action, explanation=(Evidence(kind=kind, detail=detail, value=value),))


def test_the_seeds_scale_up_problem_has_the_value_the_capacity_and_the_duration() -> None:
    rpm = [1500.0] * 30 + [2100.0] * 7
    scale_up = decision(action="scale_up", current=2, target=3)
    text = describe_problem(
        scale_up,
        {"requests_per_min": 2100.0},
        {"requests_per_min": 1500.0},
        {"requests_per_min": rpm},
        capacity_per_replica=840.0,
    )
    assert text == "Demanda 2.100 req/min acima da capacidade (1.680) há 7min"
    assert describe_problem(
        scale_up,
        {"requests_per_min": 2100.0},
        {},
        {"requests_per_min": rpm},
        capacity_per_replica=840.0,
        language="en",
    ) == ("Demand 2,100 req/min above capacity (1,680) for 7min")


def test_an_alert_names_cpu_with_its_value_and_duration() -> None:
    cpu = [0.4] * 50 + [0.95] * 10
    alert = decision(action="alert")
    assert describe_problem(alert, {"cpu_usage": 0.95}, {}, {"cpu_usage": cpu}) == (
        "CPU em 95% há 10min"
    )
    # a gap (a missing minute) ends the run: the duration is what was seen
    cpu[-4] = float("nan")
    assert describe_problem(alert, {"cpu_usage": 0.95}, {}, {"cpu_usage": cpu}) == (
        "CPU em 95% há 3min"
    )


def test_the_cause_is_in_words_never_the_policys_reason() -> None:
    rules_up = decision(
        action="scale_up",
        current=1,
        target=2,
        reason="trigger requests_per_min > 160 for 5 min",
        explanation=(Evidence(kind="rule", detail="trigger requests_per_min > 160 for 5 min"),),
    )
    assert probable_cause(rules_up) == "Regra de escalonamento: demanda sustentada acima do limite"
    rules_down = rules_up.model_copy(update={"action": Action.SCALE_DOWN, "target_replicas": 0})
    assert "abaixo de metade do limite" in probable_cause(rules_down)
    restart = decision(
        action="restart",
        explanation=(
            Evidence(kind="health", detail="response time 4.1x baseline (seed rule)"),
            Evidence(kind="anomaly", detail="scores", value=0.3),  # too low to count
        ),
    )
    assert probable_cause(restart, "en") == (
        "Response time and error rate degraded (preventive restart rule)"
    )


def test_an_early_warning_names_the_detector_not_the_restart_rule() -> None:
    warning = decision(
        action="alert",
        explanation=(
            Evidence(kind="anomaly", detail="anomaly scores: response_time 1.00", value=1.0),
            Evidence(kind="early_warning", detail="anomaly score 1.00 ...", value=1.0),
        ),
    )
    assert probable_cause(warning) == (
        "Alerta precoce: o detector de anomalias vê a degradação, a regra de reinício ainda "
        "não a confirmou"
    )  # once: the anomaly evidence says the same
    confirmed = warning.model_copy(
        update={"explanation": (Evidence(kind="anomaly", detail="scores", value=1.0),)}
    )
    assert probable_cause(confirmed, "en") == "Anomalous behaviour flagged by the anomaly detector"


def test_a_slow_link_alert_names_the_calls() -> None:
    alert = told("slow_link", "slow calls (> 100 ms): nexus-agendamento → nexus-crm 312 ms", 312.0)
    metrics = {"response_time": 190.0, "error_rate": 0.004}
    assert describe_problem(alert, metrics, {"response_time": 180.0}, {}) == (
        "Chamadas lentas: nexus-agendamento → nexus-crm 312 ms"
    )
    assert probable_cause(alert) == "Dependência lenta"


def test_a_response_time_trend_says_how_soon_it_reaches_the_seed_bar() -> None:
    alert = told("latency_trend", "... (response-time trend)", 7.6)
    metrics = {"response_time": 500.0, "error_rate": 0.004}
    assert describe_problem(alert, metrics, {"response_time": 200.0}, {}) == (
        "Tempo de resposta 500 ms (2,5× o normal) e subindo: 3,0× previsto em ~8min"
    )
    assert probable_cause(alert, "en") == "Creeping degradation: response time climbing steadily"


def test_requests_failing_at_full_speed_are_told_as_errors_not_slowness() -> None:
    alert = told("failing_requests", "error rate 12.0% above 5% ...", 0.12)
    metrics = {"response_time": 185.0, "error_rate": 0.12}
    normal = {"response_time": 180.0, "error_rate": 0.004}
    errors = [0.004] * 30 + [0.12] * 4
    assert describe_problem(alert, metrics, normal, {"error_rate": errors}) == (
        "Taxa de erro em 12% (normal 0,4%) há 4min"
    )
    assert probable_cause(alert) == (
        "Requisições falhando sem lentidão: erro da aplicação ou de uma dependência"
    )
    assert probable_cause(alert, "en") == (
        "Requests failing without slowness: an application or dependency error"
    )
    slow = {"response_time": 600.0, "error_rate": 0.12}  # slow as well: both, as before
    assert describe_problem(alert, slow, normal, {}).startswith("Tempo de resposta 600 ms")


def test_a_memory_trend_names_memory_and_the_minutes_left() -> None:
    restart = told("memory_trend", "memory at 95% ... (memory trend)", 11.2, action="restart")
    metrics = {"memory_usage": 0.95, "response_time": 190.0, "error_rate": 0.004}
    assert describe_problem(restart, metrics, {}, {}) == (
        "Memória em 95% do limite e subindo: limite previsto em ~11min"
    )
    assert probable_cause(restart) == (
        "Vazamento de memória provável: o uso sobe sem parar rumo ao limite"
    )
    assert probable_cause(restart, "en") == (
        "Probable memory leak: use climbing steadily toward the limit"
    )
    slow = told("memory_watch", "memory at 48% ... (memory trend over the hour)", 174.4)
    assert describe_problem(slow, {"memory_usage": 0.48}, {}, {}) == (
        "Memória em 48% do limite e subindo: limite previsto em ~2h54min"
    )
    assert describe_problem(slow, {"memory_usage": 0.48}, {}, {}, language="en") == (
        "Memory at 48% of its limit and rising: the limit in ~2h54min"
    )


def _restart_alert(context: MetricContext) -> PendingOutcome:
    d = decision(action="restart", confidence=0.95)
    alert = decision_alert(d, "degradation", "Serviço reiniciado", context=context)
    return PendingOutcome.of(alert, Action.RESTART, T0)


def test_outcome_says_normalised_or_not_against_the_normal_of_the_time() -> None:
    degraded = frame(
        CRM,
        range(-40, 1),
        response_time=lambda m: 738.0 if m > -3 else 180.0,
        error_rate=lambda m: 0.12 if m > -3 else 0.004,
    )
    pending = _restart_alert(context_of(degraded, lambda: T0))
    assert pending.alert.problem_detail == (
        "Tempo de resposta 738 ms (4,1× o normal) e erros em 12% há 3min"
    )
    assert pending.due == T0 + timedelta(minutes=5)
    healed, helped = outcome_alert(pending, {"response_time": 200.0, "error_rate": 0.003})
    assert helped and healed.severity == "info"
    assert healed.impact == (
        "Tempo de resposta normalizado (738 ms → 200 ms); Taxa de erro normalizada (12% → 0,3%)"
    )
    still, helped = outcome_alert(
        pending, {"response_time": 600.0, "error_rate": 0.09}, language="en"
    )
    assert not helped and still.severity == "warning"
    assert still.impact == "Response time still 3.3× normal (600 ms); Error rate still at 9.0%"
    assert still.next_action == "Manual check by an operator within 15min"
    unmeasured, helped = outcome_alert(pending, {})
    assert not helped and unmeasured.impact == "Não medido: métricas indisponíveis"


def test_a_leaks_restart_is_judged_by_its_memory() -> None:
    leaking = frame(CRM, range(-40, 1), memory_usage=lambda m: 0.95 + m / 400)
    pending = _restart_alert(context_of(leaking, lambda: T0))
    metrics = {"response_time": 185.0, "error_rate": 0.004}
    freed, helped = outcome_alert(pending, {**metrics, "memory_usage": 0.35})
    assert helped and freed.impact.endswith("Memória normalizada (95% → 35%)")
    full, helped = outcome_alert(pending, {**metrics, "memory_usage": 0.92}, language="en")
    assert not helped and full.impact.endswith("Memory still at 92%")


def degraded_then_healed() -> pd.DataFrame:
    """CRM's metrics: slow and failing for the three minutes up to T0, healthy after."""
    return frame(
        CRM,
        range(-40, 16),
        response_time=lambda m: 738.0 if -3 < m <= 0 else 190.0,
        error_rate=lambda m: 0.12 if -3 < m <= 0 else 0.004,
    )


def test_the_executor_follows_up_a_restart_on_a_later_tick(make_executor, clock) -> None:
    data = degraded_then_healed()
    source, notifier, audit = ScriptedSource(clock), LogNotifier(), MemoryAudit()
    ex = make_executor(
        source=source, notifier=notifier, audit=audit, context=context_of(data, clock)
    )
    source.next = [decision(action="restart", confidence=0.95)]
    assert ex.tick().acted()
    (first,) = notifier.sent
    assert first.impact == "Em avaliação: resultado medido em 5min"
    source.next = []
    for _ in range(4):  # not yet due
        clock.advance(60)
        ex.tick()
    assert len(notifier.sent) == 1
    clock.advance(60)
    ex.tick()
    follow_up = notifier.sent[-1]
    assert follow_up.problem == "outcome" and follow_up.module == CRM
    assert follow_up.impact.startswith("Tempo de resposta normalizado (738 ms → 190 ms)")
    measured = [e for e in audit.entries if e.event == "outcome_measured"]
    assert [(e.module, e.reason) for e in measured] == [(CRM, "resolved")]
    clock.advance(600)
    ex.tick()
    assert len(notifier.sent) == 2  # one follow-up per action


def test_a_rollback_is_announced_then_followed_up_with_what_was_rolled_back(
    make_executor, clock
) -> None:
    data = degraded_then_healed()
    cluster = InMemoryCluster({CRM: 1})
    cluster.deploy(CRM, "nexus-module:2", at=clock.now)
    source, notifier = ScriptedSource(clock), LogNotifier()
    ex = make_executor(
        source=source, backend=cluster, notifier=notifier, context=context_of(data, clock)
    )
    source.next = [decision(action="rollback", confidence=0.95)]
    assert ex.tick().acted()
    (first,) = notifier.sent
    assert first.action_taken == "Rollback em andamento (MODULE_ONLY), nesta ordem: nexus-crm"
    source.next = []
    for _ in range(FOLLOW_UP_MIN[Action.ROLLBACK]):
        clock.advance(60)
        ex.tick()
    follow_up = notifier.sent[-1]
    assert follow_up.problem == "outcome"
    assert follow_up.action_taken == "Rollback para a versão anterior: nexus-crm"
    assert follow_up.impact.startswith("Tempo de resposta normalizado (738 ms → 190 ms)")


def test_a_routine_scale_up_alerts_and_is_followed_up(make_executor, clock) -> None:
    data = frame(CRM, range(-40, 16), requests_per_min=lambda m: 260.0 if m > -7 else 100.0)
    source, notifier = ScriptedSource(clock), LogNotifier()
    ex = make_executor(source=source, notifier=notifier, context=context_of(data, clock))
    source.next = [decision(action="scale_up", current=1, target=2)]
    assert ex.tick().acted()
    (alert,) = notifier.sent
    assert (alert.problem, alert.severity) == ("demand_high", "info")
    # nexus-crm: 200 req/min per replica in the bundled catalog
    assert alert.problem_detail == "Demanda 260 req/min acima da capacidade (200) há 7min"
    assert alert.next_action == "Monitorar por 10min; reduzir réplicas quando a demanda cair"
    source.next = []
    clock.advance(600)
    ex.tick()
    assert notifier.sent[-1].impact == "Tempo de resposta manteve-se normal (180 ms)"


def test_without_metrics_no_outcome_is_promised(make_executor, clock) -> None:
    source, notifier = ScriptedSource(clock), LogNotifier()
    ex = make_executor(source=source, notifier=notifier)
    source.next = [decision(action="restart", confidence=0.95)]
    assert ex.tick().acted()
    assert notifier.sent[0].impact == ""
    assert ex.recorder.pending == []


def test_decision_alert_without_context_keeps_the_evidence_metrics() -> None:
    d = Decision(
        module=CRM,
        action=Action.ROLLBACK,
        current_replicas=1,
        target_replicas=1,
        confidence=0.95,
        explanation=(
            Evidence(kind="error_rate", detail="now", value=0.08),
            Evidence(kind="error_rate_normal", detail="before the release", value=0.004),
        ),
    )
    alert = decision_alert(d, "failed_release", "Rollback", language="en")
    assert alert.problem_detail == "Error rate at 8.0% after the release (normal 0.4%)"
    assert alert.severity == "critical" and np.isclose(alert.key_metrics["error_rate"], 0.08)


def test_a_seed_rule_restart_acts_on_production_bars_but_not_on_a_young_release(
    make_executor, clock
) -> None:
    """Rules mode, production bars: the seed rule's restart (measured confidence 0.88, see
    decide/health.py) runs by itself; while a release is younger than the canary's samples
    it is held and the operators get the degradation alert with the values."""
    from nexus_ml.catalog import load_catalog
    from nexus_ml.decide.policy import DecisionInputs, decide
    from tests.decide.windows import make_window

    window = make_window(
        CRM,
        end=T0,
        response_time=[100.0] * 57 + [450.0] * 3,
        error_rate=[0.01] * 57 + [0.09] * 3,
        requests_per_min=80.0,  # well within one replica (200/min): not load
    )
    profile = load_catalog().get(CRM)
    restart = decide(DecisionInputs(profile=profile, window=window, now=T0))
    assert restart.action is Action.RESTART and restart.policy == "rules"
    young = decide(
        DecisionInputs(
            profile=profile, window=window, now=T0, deployed_at=T0 - timedelta(minutes=2)
        )
    )
    assert young.action is Action.ALERT and not young.restart
    assert "restart held until the canary check" in young.reason
    data = frame(
        CRM,
        range(-59, 1),
        response_time=lambda m: 450.0 if m > -3 else 100.0,
        error_rate=lambda m: 0.09 if m > -3 else 0.01,
        requests_per_min=80.0,
    )
    source, notifier = ScriptedSource(clock), LogNotifier()
    # the default (production) bars
    ex = make_executor(source=source, notifier=notifier, context=context_of(data, clock))
    source.next = [restart]
    (outcome,) = ex.tick().outcomes
    assert outcome.reason == "ok" and outcome.acted
    sent = len(notifier.sent)
    source.next = [young]
    (outcome,) = ex.tick().outcomes
    assert not outcome.acted
    held = notifier.sent[sent:]
    assert held and held[0].problem == "degradation", held
    assert held[0].problem_detail.startswith(
        "Tempo de resposta 450 ms (4,5× o normal) e erros em 9,0%"
    )


def test_a_module_at_its_maximum_and_still_overloaded_is_one_alert_that_says_so(
    make_executor, clock
) -> None:
    data = frame(CRM, range(-40, 16), requests_per_min=lambda m: 1900.0 if m > -9 else 400.0)
    source, notifier = ScriptedSource(clock), LogNotifier()
    ex = make_executor(source=source, notifier=notifier, context=context_of(data, clock))
    at_max = decision(
        action="alert",
        current=4,
        target=4,
        alert_admin=True,
        explanation=(
            Evidence(
                kind="capacity",
                detail="at its maximum of 4 replicas and still over capacity",
                value=1900.0,
            ),
        ),
    )
    for _ in range(6):  # the policy says it every pass; the operators hear it once
        source.next = [at_max]
        ex.tick()
        clock.advance(60)
    assert len(notifier.sent) == 1
    (alert,) = notifier.sent
    assert alert.problem == "capacity_max"
    assert alert.problem_detail.startswith("Demanda 1.900 req/min acima da capacidade")
    assert alert.probable_cause.startswith("No máximo de réplicas")
    # once it has been gone for a while, its return is news again
    clock.advance(1800)
    source.next = [at_max]
    ex.tick()
    assert len(notifier.sent) == 2


def test_a_slow_leak_is_told_once_and_again_when_the_limit_comes_within_the_hour(
    make_executor, clock
) -> None:
    data = frame(CRM, range(-40, 16), memory_usage=lambda m: 0.45 + 0.003 * m)
    source, notifier = ScriptedSource(clock), LogNotifier()
    ex = make_executor(source=source, notifier=notifier, context=context_of(data, clock))

    def leaking(minutes_left: float) -> Decision:
        if minutes_left > 60:  # the hour's line, hours ahead
            note = f"memory ... the limit in {minutes_left:.0f} min (memory trend over the hour)"
            return told("memory_watch", note, minutes_left)
        note = f"memory ... the limit in {minutes_left:.0f} min (memory trend)"
        return told("memory_trend", note, minutes_left)

    for _ in range(20):  # the policy says it every pass; the operators hear it once
        source.next = [leaking(170.0)]
        ex.tick()
        clock.advance(60)
    assert len(notifier.sent) == 1
    (alert,) = notifier.sent
    assert alert.problem == "memory_leak" and problem_title(alert.problem) == "Vazamento de memória"
    assert alert.problem_detail.endswith("limite previsto em ~2h50min")
    assert alert.next_action == (
        "Investigar o vazamento; reiniciar num horário de pouco uso antes de ~2h50min"
    )
    # within the hour it is a degradation again, alerted as such
    source.next = [leaking(45.0)]
    ex.tick()
    assert len(notifier.sent) == 2 and notifier.sent[1].problem == "degradation"
    # with another reason to alert, it is not the memory's alone
    both = decision(action="alert", explanation=(
        Evidence(kind="memory_watch", detail="... (memory trend over the hour)", value=170.0),
        Evidence(kind="failing_requests", detail="error rate 9% ...", value=0.09),
    ))  # fmt: skip
    assert not slow_leak(both) and slow_leak(leaking(170.0))
