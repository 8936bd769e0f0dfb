"""Cross-module calls and business flows through staging's nginx.

Every dependency edge of the catalog (``nexus-agendamento`` → ``nexus-crm``) is exercised as
the caller would: a request to the dependency's location on nginx, answered by the right
service (``X-Nexus-Module``; for the module under test, a task of the candidate's service).
The business flows are the ERP's everyday paths, as the simulator models them: authenticate
in User Management, create a customer in CRM, schedule an appointment in Agendamento. A flow
runs when every module it uses is in the catalog.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

from nexus_ml.release.http import Answer, Http
from nexus_ml.release.staging import BASELINE_SUFFIX, StagingPlan

CALLER_HEADER = "X-Nexus-Caller"


@dataclass(frozen=True)
class Edge:
    """``caller`` uses ``callee`` (the catalog's ``depends_on``)."""

    caller: str
    callee: str

    @property
    def label(self) -> str:
        return f"{self.caller}->{self.callee}"


@dataclass(frozen=True)
class FlowStep:
    module: str
    method: str
    path: str
    expect: int
    body: dict[str, object] | None = None


@dataclass(frozen=True)
class Flow:
    name: str
    description: str
    steps: tuple[FlowStep, ...]

    @property
    def modules(self) -> frozenset[str]:
        return frozenset(s.module for s in self.steps)


UM, CRM, AG = "nexus-user-management", "nexus-crm", "nexus-agendamento"
_LOGIN = FlowStep(UM, "POST", "/api/users", 201, {"email": "flow@nexus.test", "action": "login"})
FLOWS: tuple[Flow, ...] = (
    Flow("authenticate", "autenticar no User Management", (_LOGIN,)),
    Flow(
        "create-customer",
        "cadastrar um cliente no CRM",
        (
            _LOGIN,
            FlowStep(CRM, "POST", "/api/customers", 201, {"name": "Cliente Teste"}),
            FlowStep(CRM, "GET", "/api/customers", 200),
        ),
    ),
    Flow(
        "schedule",
        "agendar um atendimento para um cliente",
        (
            _LOGIN,
            FlowStep(CRM, "GET", "/api/customers", 200),
            FlowStep(AG, "POST", "/api/appointments", 201, {"customer_id": 1}),
            FlowStep(AG, "GET", "/api/appointments", 200),
        ),
    ),
)


def edges(plan: StagingPlan) -> list[Edge]:
    """The catalog's dependency edges (the baseline copy is not a production module)."""
    return [
        Edge(m.name, dep)
        for m in plan.catalog
        if not m.name.endswith(BASELINE_SUFFIX)
        for dep in m.depends_on
    ]


def _answered_by(plan: StagingPlan, module: str, answer: Answer) -> str | None:
    """Why ``answer`` is not ``module``'s (``None`` when it is)."""
    who = answer.header("X-Nexus-Module")
    if who != module:
        return f"answered by {who or 'nobody'!r}, not {module}"
    task = answer.header("X-Nexus-Task")
    service = plan.service(module)
    if task and not task.startswith(service + "."):
        return f"answered by task {task!r}, not one of {service}"
    return None


def call_edge(plan: StagingPlan, http: Http, edge: Edge, *, path: str = "/api/info") -> Answer:
    url = plan.proxy_url + plan.path(edge.callee).rstrip("/") + path
    return http.request("GET", url, headers={CALLER_HEADER: edge.caller})


def check_edges(plan: StagingPlan, http: Http) -> tuple[list[str], dict[str, float]]:
    """Findings of every edge and each edge's latency (ms)."""
    findings: list[str] = []
    latency: dict[str, float] = {}
    for edge in edges(plan):
        answer = call_edge(plan, http, edge)
        latency[edge.label] = answer.seconds * 1000
        if answer.status != 200:
            findings.append(f"{edge.label}: {answer.status or answer.error}")
        elif (why := _answered_by(plan, edge.callee, answer)) is not None:
            findings.append(f"{edge.label}: {why}")
    return findings, latency


def run_flows(plan: StagingPlan, http: Http, flows: tuple[Flow, ...] = FLOWS) -> list[str]:
    """Findings of every business flow whose modules the catalog has (empty: all passed)."""
    findings: list[str] = []
    known = set(plan.catalog.names)
    for flow in flows:
        if not flow.modules <= known:
            continue
        for i, step in enumerate(flow.steps, start=1):
            url = plan.proxy_url + plan.path(step.module).rstrip("/") + step.path
            body = json.dumps(step.body).encode() if step.body is not None else None
            answer = http.request(step.method, url, body=body)
            where = f"{flow.name} step {i} ({step.method} {plan.path(step.module)}{step.path[1:]})"
            if answer.status != step.expect:
                got = answer.status or answer.error
                findings.append(f"{where}: expected {step.expect}, got {got}")
                break
            if (why := _answered_by(plan, step.module, answer)) is not None:
                findings.append(f"{where}: {why}")
                break
    return findings


def flows_run(plan: StagingPlan, flows: tuple[Flow, ...] = FLOWS) -> list[str]:
    """Names of the flows that apply to this catalog."""
    known = set(plan.catalog.names)
    return [f.name for f in flows if f.modules <= known]
