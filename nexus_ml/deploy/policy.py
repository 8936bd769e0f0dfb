"""Swarm's health, update, rollback and restart policies of one service, as stack-file mappings.

The timings follow one rule: Swarm watches a new task for ``monitor`` after it starts, and only
a failure inside that window triggers ``failure_action``. A task turns unhealthy at the latest
after ``start_period + retries × interval`` (plus the last probe's timeout), so ``monitor`` is at
least that, and at least the update ``delay``: otherwise a bad release would be declared good
before its healthcheck could fail.
"""

from __future__ import annotations

from typing import Any, Literal

from nexus_ml.catalog import HealthCheck

Order = Literal["start-first", "stop-first"]


def duration(seconds: int) -> str:
    """A Compose duration string (``90s``): Engine 20.10 rejects bare numbers here."""
    return f"{int(seconds)}s"


def monitor_seconds(health: HealthCheck, delay_s: int) -> int:
    """The update/rollback ``monitor`` window that covers a failing healthcheck."""
    unhealthy_after = health.start_period_s + health.interval_s * health.retries + health.timeout_s
    return max(unhealthy_after, delay_s, 1)


def healthcheck(test: list[str], health: HealthCheck) -> dict[str, Any]:
    """The ``healthcheck`` mapping of a service."""
    return {
        "test": test,
        "interval": duration(health.interval_s),
        "timeout": duration(health.timeout_s),
        "retries": health.retries,
        "start_period": duration(health.start_period_s),
    }


def http_probe(port: int, path: str) -> list[str]:
    """An HTTP probe of the task's own port from inside its container (busybox/GNU wget)."""
    return ["CMD", "wget", "-q", "-O", "/dev/null", f"http://127.0.0.1:{port}{path}"]


def python_probe(port: int, path: str) -> list[str]:
    """An HTTP probe with the image's own Python (``python:3.11-slim`` has no wget or curl)."""
    code = (
        f"import urllib.request; urllib.request.urlopen('http://127.0.0.1:{port}{path}', timeout=5)"
    )
    return ["CMD", "python3", "-c", code]


def update_config(health: HealthCheck, *, delay_s: int, order: Order) -> dict[str, Any]:
    """One task at a time; any failure inside ``monitor`` rolls the whole service back."""
    return {
        "parallelism": 1,
        "delay": duration(delay_s),
        "failure_action": "rollback",
        "monitor": duration(monitor_seconds(health, delay_s)),
        "max_failure_ratio": 0,
        "order": order,
    }


def rollback_config(health: HealthCheck, *, order: Order) -> dict[str, Any]:
    """Back to the previous spec quickly (all tasks at once); pause if even that fails."""
    return {
        "parallelism": 0,
        "delay": duration(0),
        "failure_action": "pause",
        "monitor": duration(monitor_seconds(health, 0)),
        "max_failure_ratio": 0,
        "order": order,
    }


def restart_policy(*, always: bool = True) -> dict[str, Any]:
    """Restart crashed tasks with a back-off; unless ``always``, a clean exit stays down."""
    policy: dict[str, Any] = {
        "condition": "any" if always else "on-failure",
        "delay": duration(5),
        "window": duration(60),
    }
    if not always:
        policy["max_attempts"] = 10
    return policy


def resources(cpus: float, memory_mb: int, reservation_fraction: float) -> dict[str, Any]:
    """Limits from the catalog and reservations as a share of them; cpus as strings."""
    return {
        "limits": {"cpus": cpu_string(cpus), "memory": f"{memory_mb}M"},
        "reservations": {
            "cpus": cpu_string(cpus * reservation_fraction),
            "memory": f"{max(4, round(memory_mb * reservation_fraction))}M",
        },
    }


def cpu_string(cpus: float) -> str:
    """CPUs as Compose wants them (a string), to the millicore: ``0.5``, ``2``, ``0.125``."""
    value = max(round(cpus, 3), 0.001)
    return f"{value:.3f}".rstrip("0").rstrip(".")
