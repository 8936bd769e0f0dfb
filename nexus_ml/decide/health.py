"""Preventive restart on degradation (pure, no I/O).

The seed's rule — response time above 3x its baseline and error rate above 5 % — fires on
symptoms that a real incident and a traffic spike on a cold cache share. Requiring the anomaly
detector to agree filters the second case; a restart budget stops restart loops when a restart
does not help (then a human is paged instead).

``rules_confidence`` (a restart by the seed rule with no detector) is the rule's measured
precision on simulated incidents (``bench/bench_rule_precision.py``, method in
``nexus_ml/evaluate/rule_precision.py``). On the design seed (101) the policy in rules mode
restarted 22 times, 9 of them rightly (a latency degradation or memory leak, what a restart
cures): 40.9 %, Wilson 95 % lower end 0.23. All 13 wrong restarts hit a bad release in the
first 5 minutes after its deploy, before the canary check has the samples to call the
rollback (a restart-focused run, ``--kinds latency_degradation,memory_leak,bad_release
--per-kind 40``, agreed: 16 of 38 right, all 22 wrong ones in those minutes).

So the policy holds a restart while an observed release is younger than the canary's minimum
samples (``release_check.hold_restart_for_canary``; the executor reports each service's release).
That rule was measured on a seed not used to choose it (202, the same restart-focused run of
120 cases: ``bench_rule_precision.py --seed 202 --per-kind 40 --kinds latency_degradation,
memory_leak,bad_release``): 16 restarts, 16 right,
none racing a release; Wilson 95 % lower end 0.806, so the confidence is 0.80 — at the
executor's production restart bar (0.8): the seed's rule acts. The three other kinds (error
burst, slow dependency, demand surge) made it fire 0 times in the design seed's 180 cases.
``tests/evaluate/test_rule_precision.py`` checks it on a third, held-out seed (20261204:
4 of 4 restarts right in 18 restart-kind cases).
Since the usual response time is read from the window's oldest minutes (below), the seed rule
restarted more often and was right every time (23 of 23, 31 of 31 on seeds 101 and 202), so
the restart-focused run was made again on a fresh seed, 505 (``--seed 505 --per-kind 40
--kinds latency_degradation,memory_leak,bad_release``, run once, session 10): **30 restarts,
30 right**, none racing a release; Wilson 95 % lower end 0.886, so ``rules_confidence`` is
0.88.

With a detector, a very high anomaly score (``anomaly_alone``) with only one symptom alerts
early; it does not restart. Measured in model mode (``bench_rule_precision.py --detector
--per-kind 10``: each module's detector fitted on 8 simulated days, its scores given to the
policy as the service gives them; 60 cases), when that evidence restarted: design seed 101,
right 10 times in 26; seed 202, 11 in 27 — error bursts (10 and 10) and slow dependencies (6
and 6), which a restart does not cure, made the rest, at a claimed confidence of 0.9 or more
against the executor's restart bar of 0.8. As an early warning, read from the uncapped field score
(``sustained_score``): 162 alerts (seed 101) and 144 (202), 161 and 141 of them while an incident
was active on the module (with the capped combined score only: 32 on each seed, all during an
incident — the quiet period hid most of them); the restarts left to the seed rule (both symptoms
for 3 minutes, the anomaly score confirming) were right 4 of 4 (101) and 0 of 0 (202): the
latency degradations and memory leaks that the old path restarted are now a human's call,
told at once.

A memory leak shows no symptom in latency or errors before the OOM killer ends it, so none of
the above ever answered one (rules and model mode: 0 of 10 leaks on seed 101; recall per
incident kind, ``rule_precision.py``). The memory trend (:mod:`nexus_ml.decide.trend`: a line
through the last 30 minutes of memory, in a window with no change of the service) alerts when
it reaches the limit within ``memory_alert_min`` (the hour) and restarts within
``memory_restart_min`` (15 minutes, the time the alerts give an operator), unless the module is
saturated. Measured (``bench_rule_precision.py``), design seed 101: all kinds, 30 cases each,
2 memory restarts, both right (none in the 150 cases of other kinds), 28 of its 30 alerts while
a leak was active; 900 leak cases, 22 memory restarts, all right: pooled 24 of 24, Wilson 95 %
lower end 0.862, so ``memory_confidence`` is 0.86, above the executor's restart bar. Seed 202
agreed (1 of 1 and 30 of 30). In the leak runs its alerts came during a leak 888 times in 908
(seed 101) and 957 in 978 (202); a leak is answered in 461 of 900 cases (34 minutes after it
began, at the median) and 482 of 900 (38): the rest grow too slowly to reach the limit within
the hour before the simulator's OOM kill ends them, at 55–85 % of the limit.

A slow leak is watched over the whole hour (session 10): the line through the window's 60
minutes, with the demand of the same minutes as a second regressor (memory that follows the
load is not a leak), alerts when it reaches the limit within ``memory_watch_min`` (4 h:
Prometheus' resource-filling alert, ``predict_linear(...[1h], 4 * 3600)``); never a restart.
Its evidence has its own kind, ``memory_watch`` (``HealthAssessment.memory_watch``), so that
the executor tells a slow leak (alerted once, with its deadline) from a limit within the hour
(``memory_trend``, a degradation) by what the policy found, not by re-reading its thresholds.
And a line that fell back within its fit (a minute-to-minute fall of 5 robust standard
deviations: a restart or an OOM kill freed the memory, a degradation ended) projects nothing:
before, the minutes after a leak ended were still alerted as rising. Rules mode, 30 cases a
kind, old → new: leaks answered 18 → 28 of 30 (seed 101), 14 → 27 (202), 11 → 28 (303);
memory-trend alerts right 28/30 → 66/66, 25/26 → 98/98, 18/18 → 86/86; the response-time
trend's alerts right 130/144 → 129/134, 97/118 → 96/106, 102/117 → 101/109; restarts,
degradations, bursts, releases, slow links and surges unchanged. Chosen on those three seeds
(the load regressor after 303 showed three surges alerted as leaks); **on a fresh seed, 404,
run once after the choice**: leaks answered 16 → **29 of 30** (35 min in at the median),
memory-trend alerts right 30/31 → **100/100**, response-time trend 93/112 → 93/104, everything
else unchanged. Model mode (10 cases a kind, seeds 101 / 202): leaks answered 8 → 10 and 5 → 10
of 10 (24.5 and 32.5 min in), memory-trend alerts right 11/12 → 22/22 and 7/7 → 33/33,
response-time trend 36/43 → 36/38 and 34/38 → 33/35, restarts 10/10 and 9/9 right as before.

A degradation that creeps up (latency ×(1 + m·p²) over the incident, errors later) crosses the
seed rule's 3× late and its 5 % errors later still, often only in the crash: in rules mode only
8 of 30 latency degradations were answered (seed 101; 10 of 30 on 202). The response-time trend
(the same line, through response time over its baseline) alerts when it is projected to pass
``response_ratio`` within ``latency_alert_min`` (15 minutes, the time the alerts give an
operator) or is past it and still rising, unless the seed rule fired or load explains it (the
policy reads it only below the module's target utilisation).
Latency degradations answered: 16 of 30 (seed 101) and 21 of 30 (202), 40–42 minutes in at the
median; its alerts came while something slowed the module (a degradation, a bad release, a slow
dependency) 86 times in 91 (101) and 85 in 92 (202). An alert, never a restart.
Studied in session 11, not adopted (rule written before the runs: alerts right may not fall by
more than a point): a 60-minute horizon (the memory trend's) answers degradations earlier — 0.47
and 0.44 of the incident gone at the median instead of 0.66 and 0.62 (seeds 101, 202) — but only
67 % and 56 % of its alerts came while something slowed the module (96 % and 91 % now); the
hour's line with load as a second regressor added wrong alerts (177 of 208 right, 140 of 167)
and no earlier answer. A creeping degradation is a curve the line sees late; seeing it sooner
costs alerts operators would learn to ignore.

An error burst fails requests at full speed: the seed rule wants slowness too, so in rules mode
it answered 1 of 30 bursts (seed 101) and 0 of 30 (202). Requests failing above the seed's error
rate for its sustain minutes without that slowness alert (``failing``; a restart cures neither an
application's error nor a dependency's), unless load explains them. Measured (all kinds, 30
cases each): error bursts answered 30 of 30 on both seeds, 2 minutes in at the median; its
alerts came while something failed the module's requests (a burst, a bad release, a
degradation's late errors) 326 times in 326 (101) and 305 in 305 (202), never outside an
incident (with the baseline below: 316 of 316 and 288 of 288). A bad release is now told 2
minutes in, before the canary can call its rollback.
With it, every latency degradation is answered (rules mode, 30 of 30 on both seeds).

The usual response time is the median of the window's oldest minutes (:func:`response_baseline`),
no longer of all the minutes before the last 15, which a creeping degradation dragged up with it.
Shipped, rules mode (30 cases a kind, seeds 101 / 202): seed-rule restarts 23 of 23 and 31 of 31
right (11 of 11 each before); degradations answered before their crash (the last 5 %) 29 and 26
of 30 (24 and 25 before), 53.5 and 46 minutes in (71.5 and 49); the response-time trend's alerts
right 130 of 144 and 97 of 118 (85 of 90 and 84 of 91: more alerts, a little less precise).
Model mode (10 cases a kind): restarts 10 of 10 and 9 of 9 right (6 of 6 and 0 of 0 before),
degradations answered 42 and 51 minutes in (43 and 67), 10 and 8 of 10 before the crash; leaks
8 and 5 of 10; slow dependencies, bursts and bad releases 10 of 10; early warnings right 165 of
167 and 147 of 150, failing-requests alerts 101 of 101 and 82 of 82.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from statistics import median

from nexus_ml.decide.trend import Trend
from nexus_ml.decide.window import finite

#: The evidence kind of an early warning (a strong anomaly score with one symptom: an alert,
#: not a restart), so that alerts and the rule-precision harness tell it from the seed rule.
EARLY_WARNING = "early_warning"
#: The evidence kind of requests failing without slowness (an alert, never a restart).
FAILING_REQUESTS = "failing_requests"


@dataclass(frozen=True)
class HealthThresholds:
    response_ratio: float = 3.0  # response time above this multiple of the baseline
    error_rate: float = 0.05  # error rate above this fraction
    sustain_min: int = 3  # both must hold for this many of the last minutes
    anomaly: float = 0.6  # combined anomaly score that confirms the rule
    anomaly_alone: float = 0.9  # a score this high alerts when one symptom already shows
    restart_budget: int = 3  # restarts allowed per window
    budget_window: timedelta = timedelta(hours=1)
    rules_confidence: float = 0.88  # a restart without a detector: measured (module doc)
    saturation: float = 0.9  # utilisation from which slowness is load, not a sick container
    demand_jump: float = 2.0  # demand this multiple of its recent level also explains symptoms
    # memory projected to reach its limit within this many minutes alerts: within the hour
    memory_alert_min: float = 60.0
    # ... and restarts within this many: before an operator told by an alert is expected to act
    # (the alerts give 15 min, ``execute.alerting.OPERATOR_MIN``)
    memory_restart_min: float = 15.0
    memory_confidence: float = 0.86  # a memory-trend restart: measured (module doc)
    # memory projected by its line over the last hour to reach its limit within this many
    # minutes also alerts (a slow leak): Prometheus' resource-filling alert, 1 h fit, 4 h ahead
    memory_watch_min: float = 240.0
    # response time projected to pass ``response_ratio`` within this many minutes alerts: the
    # time the alerts give an operator (``execute.alerting.OPERATOR_MIN``)
    latency_alert_min: float = 15.0


@dataclass(frozen=True)
class HealthAssessment:
    """What the health check concluded, with the numbers behind it."""

    restart: bool
    alert: bool
    confidence: float
    response_ratio: float | None
    error_rate: float | None
    anomaly: float | None
    budget_left: int
    reasons: tuple[str, ...] = ()
    overloaded: bool = False  # the symptoms are load: scale up, whatever the forecast says
    warning: str | None = None  # the early warning's reason, when the detector alone alerts
    memory: str | None = None  # the memory trend's reason, when it alerts or restarts
    memory_left_min: float | None = None  # ... and the minutes to the limit behind it
    memory_watch: bool = False  # ... from the hour's line, hours ahead (a slow leak)
    latency: str | None = None  # the response-time trend's reason, when it alerts
    failing: str | None = None  # requests failing without slowness, when it alerts


def response_baseline(response_time: Sequence[float], *, recent: int) -> float | None:
    """The module's usual level: the median of the window's oldest ``recent`` observed minutes
    before its last ``recent`` (None with fewer than that).

    The oldest minutes, not all those before the last ``recent``: a degradation that creeps up
    over the window drags the median of everything before the last minutes up with it, and
    each minute is then judged against an already degraded level (figures in the module doc).
    """
    earlier = finite(response_time[: max(len(response_time) - recent, 0)])
    if len(earlier) < max(recent, 5):
        return None
    return float(median(earlier[:recent]))


def restarts_in_window(restarts: Sequence[datetime], now: datetime, window: timedelta) -> int:
    return sum(1 for at in restarts if now - at < window)


def _rising(memory: Trend, source: str) -> str:
    """The memory line's reason: where it is, how fast it climbs, when it reaches the limit."""
    return (
        f"memory at {memory.level:.0%} of its limit, rising {60 * memory.slope:.0%} an hour: "
        f"the limit in {memory.minutes_to_limit:.0f} min ({source})"
    )


def _tail(values: Sequence[float], n: int) -> list[float]:
    return list(values[-n:]) if n > 0 else []


def assess_health(
    response_time: Sequence[float],
    error_rate: Sequence[float],
    *,
    baseline_ms: float | None,
    anomaly_score: float | None,
    restarts_used: int,
    utilisation: float | None = None,
    sustained_score: float | None = None,
    demand_ratio: float | None = None,
    memory: Trend | None = None,
    memory_hour: Trend | None = None,
    latency: Trend | None = None,
    thresholds: HealthThresholds = HealthThresholds(),
) -> HealthAssessment:
    """Decide whether to restart a module preventively.

    Parameters
    ----------
    response_time, error_rate
        Per-minute observations, oldest first.
    baseline_ms
        The module's normal response time; None when unknown (the rule cannot fire then).
    anomaly_score
        The detector's combined score of the newest minute in [0, 1], None without a model.
    restarts_used
        Restarts already made within the budget window.
    utilisation
        Demand over the capacity of the running replicas (1.0 = saturated), None when unknown.
        A saturated module is slow because it is overloaded: restarting it drops the requests
        in flight and helps nothing, so it is scaled (or, at its maximum, alerted) instead.
        Judge it from the peak demand of the last minutes: in a surge's first minute the
        averaged demand lags the request-weighted latency and errors.
    sustained_score
        The strongest per-field score now, never capped. The detector caps its combined score
        for up to 150 rows after an alarm (one alarm per event, NAB's convention), and its
        noise alarms keep the service's minute-level detectors in such a quiet period 42–65 %
        of an incident-free simulated day (two seeds, three modules). The larger of the two is
        the severity read both to confirm the seed rule and for the early warning.
    demand_ratio
        Recent peak demand over its level of the minutes before (see
        :func:`nexus_ml.decide.load.assess_load`). A jump of ``demand_jump`` or more explains a
        degraded symptom even while ``utilisation`` still reads below saturation: the module
        is then ``overloaded`` (scaled, not restarted).
    memory
        The memory line (:func:`nexus_ml.decide.trend.trend_to_limit`), None when unknown or
        when the window spans a change of the service. Projected to reach the limit within
        ``memory_alert_min`` it alerts; within ``memory_restart_min`` it restarts, unless the
        module is saturated or its demand jumped (then load may be what fills the memory).
    memory_hour
        The memory line over the last hour (a slow leak). Projected to reach the limit within
        ``memory_watch_min`` (when the 30-minute line does not alert) it alerts, never
        restarts, unless load explains it as above.
    latency
        The line of response time over its baseline (same conditions). Projected to pass
        ``response_ratio`` within ``latency_alert_min`` — or past it and still rising — it
        alerts, unless the seed rule already fired or load explains it.

    Requests failing at the seed's error rate for its sustain minutes without the slowness the
    seed rule also wants alert (``failing``): a restart cures neither an application error nor
    a dependency's, but an operator wants to know. Unless load explains it.
    """
    t = thresholds
    rt_tail = _tail(response_time, t.sustain_min)
    er_tail = _tail(error_rate, t.sustain_min)
    ratio = None
    if baseline_ms and baseline_ms > 0 and rt_tail and math.isfinite(rt_tail[-1]):
        ratio = rt_tail[-1] / baseline_ms
    err = er_tail[-1] if er_tail and math.isfinite(er_tail[-1]) else None
    budget_left = max(t.restart_budget - restarts_used, 0)

    full = len(rt_tail) == len(er_tail) == t.sustain_min
    limit_ms = t.response_ratio * baseline_ms if baseline_ms else math.inf
    slow = full and all(v > limit_ms for v in rt_tail)
    failing = full and all(v > t.error_rate for v in er_tail)
    seed_rule = slow and failing
    one_symptom = (ratio is not None and ratio > t.response_ratio) or (
        err is not None and err > t.error_rate
    )

    reasons: list[str] = []
    wants_restart = False
    warning: str | None = None
    confidence = 0.5
    if anomaly_score is not None and sustained_score is not None:
        anomaly_score = max(anomaly_score, sustained_score)
    if seed_rule:
        reasons.append(
            f"response time {ratio:.1f}x baseline and error rate {err:.1%} "
            f"for {t.sustain_min} min (seed rule)"
        )
        if anomaly_score is None:
            wants_restart, confidence = True, t.rules_confidence
        elif anomaly_score >= t.anomaly:
            wants_restart, confidence = True, 0.5 + 0.5 * anomaly_score
            reasons.append(f"anomaly score {anomaly_score:.2f} confirms")
        else:
            reasons.append(f"anomaly score {anomaly_score:.2f} below {t.anomaly}: alert only")
    elif anomaly_score is not None and anomaly_score >= t.anomaly_alone and one_symptom:
        warning = (
            f"anomaly score {anomaly_score:.2f} with a degraded symptom: alert early, the seed "
            "rule has not confirmed a restart"
        )

    saturated = utilisation is not None and utilisation >= t.saturation
    jumped = demand_ratio is not None and demand_ratio >= t.demand_jump
    overloaded = one_symptom and (saturated or jumped)
    if overloaded:  # implied by a wanted restart on a saturated module (it needs a symptom)
        wants_restart, warning = False, None
        reasons.append(
            f"utilisation {utilisation:.0%} explains the symptoms: scale, do not restart"
            if saturated
            else f"demand jumped {demand_ratio:.1f}x its level within {t.sustain_min} min: "
            "the symptoms are load, scale, do not restart"
        )
    leak = memory.minutes_to_limit if memory is not None else math.inf
    slow_leak = memory_hour.minutes_to_limit if memory_hour is not None else math.inf
    memory_note: str | None = None
    memory_left: float | None = None
    memory_watch = False
    if memory is not None and leak <= t.memory_alert_min:
        memory_note, memory_left = _rising(memory, "memory trend"), leak
        if leak <= t.memory_restart_min and not (saturated or jumped):
            if not wants_restart:
                wants_restart, confidence = True, t.memory_confidence
            memory_note += ", restart before it is killed"
    elif memory_hour is not None and slow_leak <= t.memory_watch_min and not (saturated or jumped):
        memory_note, memory_left = _rising(memory_hour, "memory trend over the hour"), slow_leak
        memory_watch = True
    soon = latency.minutes_to_limit if latency is not None else math.inf
    latency_note: str | None = None
    if (
        latency is not None
        and soon <= t.latency_alert_min
        and not (seed_rule or saturated or jumped)
    ):
        when = f"{t.response_ratio:g}x in {soon:.0f} min" if soon > 0 else "still rising"
        latency_note = (
            f"response time {latency.level:.1f}x its baseline and rising "
            f"{60 * latency.slope:.1f}x an hour: {when} (response-time trend)"
        )
    failing_note: str | None = None
    if failing and not (seed_rule or saturated or jumped):
        failing_note = (
            f"error rate {err:.1%} above {t.error_rate:.0%} for {t.sustain_min} min, response "
            "time not degraded: requests failing (error rate)"
        )
    restart = wants_restart and budget_left > 0
    notes = (warning, memory_note, latency_note, failing_note)
    noted = any(note is not None for note in notes)
    alert = (seed_rule or noted) and not restart
    if wants_restart and not restart:
        reasons.append(f"restart budget of {t.restart_budget} per {t.budget_window} used up")
        alert = True
    return HealthAssessment(
        restart=restart,
        alert=alert,
        confidence=min(max(confidence, 0.0), 1.0),
        response_ratio=ratio,
        error_rate=err,
        anomaly=anomaly_score,
        budget_left=budget_left,
        reasons=tuple(reasons),
        overloaded=overloaded,
        warning=warning,
        memory=memory_note,
        memory_left_min=memory_left,
        memory_watch=memory_watch,
        latency=latency_note,
        failing=failing_note,
    )
