"""Slow inter-container calls (pure, no I/O).

A call from one module to another slower than 500 ms (the seed's limit) is reported with the
link named, so the operator knows which dependency to look at rather than which caller suffers.

Calls that usually take a few milliseconds are slow well before 500 ms: a module's calls are
also slow when, for the last minutes, they took :data:`SLOW_LINK_RATIO` times their usual
latency (the seed's multiple for response time) and at least :data:`SLOW_LINK_FLOOR_MS`
(0.1 s, the limit under which a response still feels instantaneous to a user — Nielsen's).
Measured on simulated incidents (``bench_rule_precision.py``, 30 cases of each kind, calls
about 1 ms as usual, slow dependencies adding 100–800 ms): slow dependencies answered 16 of 30
(design seed 101) and 22 of 30 (seed 202), against 8 and 11 with the seed's 500 ms alone, at
one minute after the slowdown began (median); every slow-link alert (77 and 84) came while a
slow dependency was active on the module. The cases left are slowdowns of a module the caller
does not call (the simulator picks the target at random), which no caller's latency shows.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from nexus_ml.catalog import ModuleProfile

SLOW_LINK_MS = 500.0
SLOW_LINK_RATIO = 3.0
SLOW_LINK_FLOOR_MS = 100.0


def slow_threshold_ms(usual_ms: float | None, *, limit_ms: float = SLOW_LINK_MS) -> float:
    """The latency above which calls are slow: ``limit_ms``, or :data:`SLOW_LINK_RATIO` times
    the usual latency when that is lower, never under :data:`SLOW_LINK_FLOOR_MS`."""
    if usual_ms is None or not math.isfinite(usual_ms):
        return limit_ms
    return min(limit_ms, max(SLOW_LINK_FLOOR_MS, SLOW_LINK_RATIO * usual_ms))


@dataclass(frozen=True)
class LinkLatency:
    source: str  # the caller
    target: str  # the module called
    latency_ms: float

    @property
    def name(self) -> str:
        return f"{self.source} → {self.target}"


def links_from_network_latency(
    profile: ModuleProfile, network_latency_ms: float
) -> tuple[LinkLatency, ...]:
    """Attribute a module's outgoing network latency to each of its dependencies.

    A module exports one latency for its outgoing calls; without per-link metrics every link
    it calls is a suspect.
    """
    if not math.isfinite(network_latency_ms):
        return ()
    return tuple(LinkLatency(profile.name, dep, network_latency_ms) for dep in profile.depends_on)


def slow_links(
    latencies: Iterable[LinkLatency], *, threshold_ms: float = SLOW_LINK_MS
) -> tuple[LinkLatency, ...]:
    """The links slower than ``threshold_ms``, slowest first."""
    slow = [
        link
        for link in latencies
        if math.isfinite(link.latency_ms) and link.latency_ms > threshold_ms
    ]
    return tuple(sorted(slow, key=lambda link: (-link.latency_ms, link.name)))


def describe(links: Sequence[LinkLatency], *, threshold_ms: float = SLOW_LINK_MS) -> str:
    """One line naming every slow link: ``slow calls (> 500 ms): a → b 812 ms``."""
    parts = ", ".join(f"{link.name} {link.latency_ms:.0f} ms" for link in links)
    return f"slow calls (> {threshold_ms:.0f} ms): {parts}"
