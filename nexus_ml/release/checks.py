"""Compatibility checks of a candidate in staging: a small registry, pluggable with commands.

A check gets the staging plan and an HTTP client and returns its findings (an empty list
passes). Built in: ``http-contract``, the module API every Nexus module serves (``/health``,
``/api/info``, ``/metrics``, a 404 for unknown paths), checked on the candidate through
staging's nginx. A project adds its own contract tests as commands
(``--check contract='pytest -m contract tests/contract'``): exit 0 passes, and the command
finds staging in its environment (``NEXUS_RELEASE_URL`` — the candidate's base URL through
nginx —, ``NEXUS_RELEASE_MODULE``, ``NEXUS_RELEASE_IMAGE``, ``NEXUS_RELEASE_PROXY_URL``).
"""

from __future__ import annotations

import os
import shlex
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from nexus_ml.errors import InputError
from nexus_ml.logs import get_logger
from nexus_ml.release.http import Answer, Http
from nexus_ml.release.staging import StagingPlan

log = get_logger(__name__)

CheckFn = Callable[[StagingPlan, Http], list[str]]
OUTPUT_TAIL = 400


@dataclass(frozen=True)
class Check:
    """One named compatibility check."""

    name: str
    run: CheckFn


def http_contract(plan: StagingPlan, http: Http) -> list[str]:
    """The module API of a Nexus module, on the candidate through nginx."""
    base = plan.proxy_url + plan.path(plan.module).rstrip("/")
    findings: list[str] = []

    def get(path: str, status: int) -> Answer | None:
        answer = http.request("GET", base + path)
        if answer.status != status:
            findings.append(f"GET {path}: expected {status}, got {answer.status or answer.error}")
            return None
        return answer

    health = get("/health", 200)
    if health is not None:
        body = health.json()
        if not isinstance(body, dict) or body.get("module") != plan.module:
            findings.append(f"GET /health: body names module {_field(body, 'module')!r}")
    info = get("/api/info", 200)
    if info is not None:
        body = info.json()
        if not isinstance(body, dict) or body.get("module") != plan.module:
            findings.append(f"GET /api/info: module is {_field(body, 'module')!r}")
        elif not body.get("version"):
            findings.append("GET /api/info: no version")
    metrics = get("/metrics", 200)
    if metrics is not None and b"nexus_module_requests_total" not in metrics.body:
        findings.append("GET /metrics: no nexus_module_requests_total counter")
    get("/api/no-such-endpoint", 404)
    return findings


def _field(body: object, key: str) -> object:
    return body.get(key) if isinstance(body, dict) else None


@dataclass(frozen=True)
class CommandCheck:
    """A project's own check: a command run with staging's addresses in its environment."""

    name: str
    command: str
    timeout_s: float = 600.0
    extra_env: Mapping[str, str] = field(default_factory=dict)

    def __call__(self, plan: StagingPlan, http: Http) -> list[str]:
        env = {
            **os.environ,
            **self.extra_env,
            "NEXUS_RELEASE_MODULE": plan.module,
            "NEXUS_RELEASE_IMAGE": plan.candidate_image,
            "NEXUS_RELEASE_PROXY_URL": plan.proxy_url,
            "NEXUS_RELEASE_URL": plan.proxy_url + plan.path(plan.module).rstrip("/"),
        }
        try:
            proc = subprocess.run(
                shlex.split(self.command),
                capture_output=True,
                text=True,
                env=env,
                timeout=self.timeout_s,
            )
        except FileNotFoundError:
            return [f"{self.name}: command not found: {shlex.split(self.command)[0]!r}"]
        except subprocess.TimeoutExpired:
            return [f"{self.name}: still running after {self.timeout_s:g} s"]
        if proc.returncode == 0:
            return []
        tail = " ".join((proc.stdout + proc.stderr).split())[-OUTPUT_TAIL:]
        return [f"{self.name}: exit {proc.returncode}: {tail}"]


BUILTIN: dict[str, CheckFn] = {"http-contract": http_contract}


def parse_check(spec: str) -> Check:
    """``NAME=COMMAND`` (a project check) or the name of a built-in check.

    Raises
    ------
    InputError
        An unknown built-in or an empty name or command.
    """
    name, sep, command = spec.partition("=")
    name = name.strip()
    if not sep:
        if name in BUILTIN:
            return Check(name, BUILTIN[name])
        raise InputError(
            f"--check {spec!r}: not a built-in check ({', '.join(BUILTIN)}) nor NAME=COMMAND"
        )
    if not name or not command.strip():
        raise InputError(f"--check {spec!r}: expected NAME=COMMAND with both parts")
    return Check(name, CommandCheck(name, command.strip()))


def run_checks(checks: Sequence[Check], plan: StagingPlan, http: Http) -> list[str]:
    """Every check's findings, each prefixed with the check's name."""
    findings: list[str] = []
    for check in checks:
        found = check.run(plan, http)
        log.info("release.check_done", check=check.name, findings=len(found))
        findings += [f if f.startswith(check.name + ":") else f"{check.name}: {f}" for f in found]
    return findings
