from __future__ import annotations

from nexus_ml.catalog import load_catalog
from nexus_ml.decide.links import LinkLatency, describe, links_from_network_latency, slow_links

CATALOG = load_catalog()


def test_slow_links_are_the_ones_above_500_ms_slowest_first() -> None:
    links = [
        LinkLatency("nexus-crm", "nexus-user-management", 650.0),
        LinkLatency("nexus-agendamento", "nexus-crm", 900.0),
        LinkLatency("nexus-agendamento", "nexus-user-management", 500.0),
    ]
    slow = slow_links(links)
    assert [link.name for link in slow] == [
        "nexus-agendamento → nexus-crm",
        "nexus-crm → nexus-user-management",
    ]
    assert "nexus-agendamento → nexus-crm 900 ms" in describe(slow)


def test_module_latency_is_attributed_to_each_dependency() -> None:
    links = links_from_network_latency(CATALOG.get("nexus-agendamento"), 700.0)
    assert {link.target for link in links} == {"nexus-crm", "nexus-user-management"}
    assert links_from_network_latency(CATALOG.get("nexus-user-management"), 700.0) == ()
