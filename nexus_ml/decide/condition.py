"""The module's condition now, as the policy reads it from the window: health, load, trends
and slow links (pure; see :mod:`nexus_ml.decide.policy`)."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from nexus_ml.decide.health import (
    HealthAssessment,
    assess_health,
    response_baseline,
    restarts_in_window,
)
from nexus_ml.decide.inputs import DecisionInputs, PolicyConfig
from nexus_ml.decide.links import (
    LinkLatency,
    links_from_network_latency,
    slow_links,
    slow_threshold_ms,
)
from nexus_ml.decide.load import LoadView, assess_load
from nexus_ml.decide.observed import restart_times
from nexus_ml.decide.trend import FIT_MINUTES, WATCH_FIT_MINUTES, Trend, trend_to_limit
from nexus_ml.decide.window import finite


@dataclass(frozen=True)
class Condition:
    """The module's health and load now."""

    health: HealthAssessment
    load: LoadView
    latency: Trend | None


def assess_condition(
    inputs: DecisionInputs, current: int, since_change_s: float | None, config: PolicyConfig
) -> Condition:
    """Health (with the memory and response-time trends, read only over a window without a
    change of the service) and load of the module running ``current`` replicas."""
    window, profile = inputs.window, inputs.profile
    rt, err = window.field("response_time"), window.field("error_rate")
    baseline = response_baseline(rt, recent=max(config.health.sustain_min, 15))
    scores = inputs.anomaly or {}
    used = restarts_in_window(
        restart_times(inputs.recent_actions), inputs.now, config.health.budget_window
    )
    load = assess_load(
        window.field("requests_per_min"),
        current=current,
        capacity_rpm_per_replica=profile.capacity_rpm_per_replica,
        recent=config.health.sustain_min,
    )

    # a window that spans a change of the service is not one set of containers' trend
    def steady(minutes: int) -> bool:
        return since_change_s is None or since_change_s >= 60.0 * minutes

    used_memory = window.field("memory_usage")
    memory = trend_to_limit(used_memory) if steady(FIT_MINUTES) else None
    memory_hour = (
        trend_to_limit(
            used_memory, minutes=WATCH_FIT_MINUTES, load=window.field("requests_per_min")
        )
        if steady(WATCH_FIT_MINUTES)
        else None
    )
    latency = None
    # above its target utilisation a module's response time may rise with the load, which the
    # scaling answers: the response-time trend reads only modules below it
    loaded = load.utilisation is not None and load.utilisation >= profile.target_utilisation
    if steady(FIT_MINUTES) and baseline and not loaded:
        ratio = [v / baseline for v in rt]
        latency = trend_to_limit(ratio, limit=config.health.response_ratio)
    health = assess_health(
        rt,
        err,
        baseline_ms=baseline,
        anomaly_score=scores.get("combined"),
        restarts_used=used,
        utilisation=load.utilisation,
        sustained_score=scores.get("sustained"),
        demand_ratio=load.demand_ratio,
        memory=memory,
        memory_hour=memory_hour,
        latency=latency,
        thresholds=config.health,
    )
    return Condition(health, load, latency)


@dataclass(frozen=True)
class SlowLinks:
    """The slow links and the latency they were judged against."""

    links: Sequence[LinkLatency]
    threshold_ms: float


def find_slow_links(inputs: DecisionInputs, config: PolicyConfig) -> SlowLinks:
    """Per-link latencies (when the executor sends them) are judged against the seed's limit;
    the module's own network latency also against its usual level, when it held above that
    for the last minutes."""
    limit = config.slow_link_ms
    if inputs.link_latencies is not None:
        return SlowLinks(slow_links(inputs.link_latencies, threshold_ms=limit), limit)
    net = inputs.window.field("network_latency")
    sustain = config.health.sustain_min
    usual = response_baseline(net, recent=max(sustain, 15))  # the same "usual" as latency's
    threshold = slow_threshold_ms(usual, limit_ms=limit)
    tail = list(net[-sustain:])
    held = len(tail) == sustain and all(math.isfinite(v) and v > threshold for v in tail)
    if not held:  # only the seed's limit, on the newest minute observed
        threshold = limit
    seen = finite(net)
    links = links_from_network_latency(inputs.profile, seen[-1]) if seen else ()
    return SlowLinks(slow_links(links, threshold_ms=threshold), threshold)
