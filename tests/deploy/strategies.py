"""Hypothesis strategies: random but valid module catalogs."""

from __future__ import annotations

from typing import Any

from hypothesis import strategies as st

from nexus_ml.catalog import Catalog

WORDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyz", min_size=2, max_size=10)


@st.composite
def module_entry(draw: st.DrawFn, index: int, name: str, earlier: list[str]) -> dict[str, Any]:
    lo = draw(st.integers(0, 6))
    hi = draw(st.integers(max(lo, 1), 12))
    capacity = draw(st.floats(1, 5000, allow_nan=False))
    util = draw(st.floats(0.3, 1.0))
    entry: dict[str, Any] = {
        "name": name,
        "display_name": name.title(),
        "schema": name.replace("-", "_"),
        "client_share": draw(st.floats(0.01, 1.0)),
        "cpu_limit": draw(st.sampled_from([0.1, 0.25, 0.5, 1.0, 1.5, 2.0, 3.3333, 8.0])),
        "memory_limit_gb": draw(st.sampled_from([0.125, 0.5, 1.0, 2.0, 4.0, 7.5])),
        "min_replicas": lo,
        "max_replicas": hi,
        "port": 5000 + index,
        "image": draw(st.sampled_from(["nexus-module:1", f"erp/{name}:2.1.0", "nexus-module"])),
        "depends_on": draw(st.lists(st.sampled_from(earlier), unique=True)) if earlier else [],
        "scale_trigger": {"metric": "cpu_usage", "threshold": 0.7, "duration_min": 5},
        "target_utilisation": util,
        "capacity_rpm_per_replica": capacity,
        "update_order": draw(st.sampled_from(["start-first", "stop-first"])),
        "health": {
            "path": draw(st.sampled_from(["/health", "/healthz", "/api/status"])),
            "interval_s": draw(st.integers(1, 60)),
            "timeout_s": draw(st.integers(1, 30)),
            "retries": draw(st.integers(1, 10)),
            "start_period_s": draw(st.integers(0, 300)),
        },
    }
    if draw(st.booleans()):  # a normal load that fits
        entry["normal_rpm"] = draw(st.floats(0.01, 0.99)) * hi * capacity * util
    return entry


@st.composite
def catalogs(draw: st.DrawFn, max_modules: int = 8) -> Catalog:
    """A valid catalog of 1..``max_modules`` modules with acyclic dependencies."""
    shorts = draw(st.lists(WORDS, min_size=1, max_size=max_modules, unique=True))
    names = [f"nexus-{s}" if draw(st.booleans()) else f"{s}-svc" for s in shorts]
    modules: list[dict[str, Any]] = []
    for i, name in enumerate(names):
        modules.append(draw(module_entry(i, name, names[:i])))
    return Catalog.model_validate({"modules": modules})
