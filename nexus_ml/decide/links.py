"""Slow inter-container calls (pure, no I/O).

A call from one module to another slower than 500 ms (the seed's limit) is reported with the
link named, so the operator knows which dependency to look at rather than which caller suffers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from nexus_ml.catalog import ModuleProfile

SLOW_LINK_MS = 500.0


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
