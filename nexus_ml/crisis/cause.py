"""The probable cause of an incident, from its error type and the evidence collected.

Rules read the signals (:mod:`nexus_ml.crisis.signals`) and the evidence (deploys, dependency
links and metrics) and return a :class:`Finding`: a stable ``code`` (tests and dashboards key on
it), the numbers behind it, and text in Portuguese or English. The error type decides which
explanation is tried first (a MEMORY_LEAK report first checks that memory really grew without
load); the general chain then tries a release, a demand surge, a slow dependency, memory growth
and a degradation that ended in a crash, before falling back to the error type's own default.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Literal

from nexus_ml.crisis.collect import CollectedIncident
from nexus_ml.crisis.signals import growth, incident_end, metric_signals
from nexus_ml.domain.crisis import ErrorType

Language = Literal["pt", "en"]

#: Thresholds of the rules (demand: mean over normal; latency: peak over normal).
DEMAND_SURGE_RATIO = 1.5
MEMORY_RISE = 0.10  # fraction of the limit gained during the incident
LATENCY_RATIO = 2.0
LINK_RISE_MS = 20.0
CRASH_ERROR_RATE = 0.5
DEPENDENCY_DEGRADED_RATIO = 1.5  # the dependency's mean response time over its normal


@dataclass(frozen=True)
class Finding:
    """A probable cause: ``code`` plus the values its sentence quotes."""

    code: str
    params: dict[str, Any] = field(default_factory=dict)

    def text(self, language: Language = "pt") -> str:
        return CAUSES[language][self.code].format(**self.params)

    def next_steps(self, language: Language = "pt") -> tuple[str, ...]:
        return NEXT_STEPS[language].get(self.code, NEXT_STEPS[language]["default"])


def _pct(value: float) -> str:
    return f"{value:.0%}"


def _deploy_in_window(incident: CollectedIncident) -> dict[str, Any] | None:
    """The last version change at or before the peak of the incident, if any."""
    m = incident.manifest
    last = None
    for deploy in incident.evidence.get("deploy_versions", []):
        at = datetime.fromisoformat(deploy["at"])
        if m.window_start <= at <= incident_end(incident):
            last = deploy
    return last


def _check_release(incident: CollectedIncident) -> Finding | None:
    deploy = _deploy_in_window(incident)
    if deploy is None:
        return None
    return Finding(
        "bad_release",
        {
            "version": deploy["version"],
            "previous": deploy.get("previous") or "?",
            "at": datetime.fromisoformat(deploy["at"]).strftime("%Y-%m-%d %H:%M"),
        },
    )


def _check_demand(incident: CollectedIncident) -> Finding | None:
    demand = metric_signals(incident).get("requests_per_min")
    if demand is None or not demand.mean_ratio >= DEMAND_SURGE_RATIO:
        return None
    return Finding("demand_surge", {"ratio": f"{demand.mean_ratio:.1f}"})


def _check_dependency(incident: CollectedIncident) -> Finding | None:
    link = metric_signals(incident).get("network_latency")
    if link is None or not link.rise >= LINK_RISE_MS:
        return None
    deps = incident.evidence.get("dependencies", {}).get("depends_on", [])
    if not deps:
        return Finding("slow_network", {"rise": f"{link.rise:.0f}"})
    # A dependency that is itself slow is the cause; if all look healthy the link is.
    degraded = []
    for dep in deps:
        if dep not in incident.manifest.modules:
            continue
        rt = metric_signals(incident, dep).get("response_time")
        # The mean, not the peak: a dependency's own latency spikes now and then anyway.
        if rt is not None and rt.mean_ratio >= DEPENDENCY_DEGRADED_RATIO:
            degraded.append(dep)
    if degraded:
        return Finding("dependency_degraded", {"target": ", ".join(degraded)})
    return Finding("slow_dependency", {"target": ", ".join(deps), "rise": f"{link.rise:.0f}"})


def _check_memory(incident: CollectedIncident) -> Finding | None:
    fit = growth(incident, "memory_usage")
    if fit is None or fit.rise < MEMORY_RISE:
        return None
    demand = metric_signals(incident).get("requests_per_min")
    if demand is not None and demand.mean_ratio >= DEMAND_SURGE_RATIO:
        return Finding("memory_follows_load", {"ratio": f"{demand.mean_ratio:.1f}"})
    return Finding(
        "memory_leak",
        {"rise": _pct(fit.rise), "slope": f"{fit.slope_per_h * 100:.1f}", "r2": f"{fit.r2:.2f}"},
    )


def _check_crash(incident: CollectedIncident) -> Finding | None:
    signals = metric_signals(incident)
    errors, latency = signals.get("error_rate"), signals.get("response_time")
    if errors is None or not errors.peak >= CRASH_ERROR_RATE:
        return None
    if latency is not None and latency.ratio >= LATENCY_RATIO:
        return Finding("progressive_degradation", {"ratio": f"{latency.ratio:.1f}"})
    return None


_DEFAULTS = {
    ErrorType.UI_BUG: "frontend",
    ErrorType.API_BREAKING: "contract_change",
    ErrorType.DATABASE_CORRUPTION: "database_integrity",
    ErrorType.PERFORMANCE_DEGRADATION: "internal_degradation",
    ErrorType.MEMORY_LEAK: "memory_not_confirmed",
    ErrorType.ERROR_BURST: "error_burst",
    ErrorType.SLOW_DEPENDENCY: "dependency_not_confirmed",
    ErrorType.CRASH: "crash",
}

_Check = Callable[[CollectedIncident], Finding | None]
_CHAIN: tuple[_Check, ...] = (
    _check_release,
    _check_demand,
    _check_dependency,
    _check_memory,
    _check_crash,
)
_FIRST: dict[ErrorType, _Check] = {
    ErrorType.MEMORY_LEAK: _check_memory,
    ErrorType.SLOW_DEPENDENCY: _check_dependency,
    ErrorType.CRASH: _check_crash,
}


def probable_cause(incident: CollectedIncident) -> Finding:
    """The first explanation the evidence supports, tried in the error type's order."""
    error_type = incident.manifest.error_type
    first = _FIRST.get(error_type)
    chain = (first, *(c for c in _CHAIN if c is not first)) if first else _CHAIN
    for check in chain:
        finding = check(incident)
        if finding is not None:
            return finding
    errors = metric_signals(incident).get("error_rate")
    peak = _pct(errors.peak) if errors is not None else "?"
    return Finding(_DEFAULTS[error_type], {"errors": peak})


CAUSES: dict[Language, dict[str, str]] = {
    "pt": {
        "bad_release": "Versão {version} implantada em {at} (antes: {previous}); "
        "os erros e a latência começaram com ela.",
        "demand_surge": "Pico de demanda: {ratio}× as requisições/min normais saturaram a "
        "capacidade.",
        "slow_network": "Latência de rede subiu {rise} ms sem dependência no catálogo.",
        "dependency_degraded": "A dependência {target} está degradada e atrasa as chamadas.",
        "slow_dependency": "Chamadas para {target} ficaram {rise} ms mais lentas enquanto a "
        "dependência segue saudável: problema no link (rede ou pool de conexões).",
        "memory_follows_load": "A memória acompanhou a carga ({ratio}× a demanda), "
        "não um vazamento.",
        "memory_leak": "Vazamento de memória: +{rise} do limite em crescimento linear "
        "({slope} pp/h, R² {r2}) sem aumento de demanda.",
        "progressive_degradation": "Degradação progressiva (latência {ratio}× a normal) "
        "que terminou em queda do serviço.",
        "frontend": "Métricas do servidor normais (erro máximo {errors}): falha provável na "
        "interface.",
        "contract_change": "Mudança de contrato da API sem versão nova registrada "
        "(erro máximo {errors}).",
        "database_integrity": "Falha de integridade no banco de dados (erro máximo {errors}); "
        "sem outra explicação nas métricas.",
        "internal_degradation": "Degradação interna sem pico de demanda, versão nova ou "
        "dependência lenta (erro máximo {errors}).",
        "memory_not_confirmed": "Vazamento de memória não confirmado: a memória não cresceu "
        "durante o incidente.",
        "error_burst": "Surto de erros (máximo {errors}) sem versão nova, pico de demanda ou "
        "dependência lenta.",
        "dependency_not_confirmed": "Dependência lenta não confirmada: a latência de rede não "
        "subiu.",
        "crash": "Queda do serviço sem degradação prévia (erro máximo {errors}).",
    },
    "en": {
        "bad_release": "Version {version} deployed at {at} (previously {previous}); "
        "errors and latency started with it.",
        "demand_surge": "Demand surge: {ratio}× the normal requests/min saturated capacity.",
        "slow_network": "Network latency rose {rise} ms with no dependency in the catalog.",
        "dependency_degraded": "Dependency {target} is degraded and slows the calls down.",
        "slow_dependency": "Calls to {target} became {rise} ms slower while the dependency "
        "stayed healthy: a link problem (network or connection pool).",
        "memory_follows_load": "Memory followed the load ({ratio}× demand), not a leak.",
        "memory_leak": "Memory leak: +{rise} of the limit in linear growth "
        "({slope} pp/h, R² {r2}) with no demand increase.",
        "progressive_degradation": "Progressive degradation (latency {ratio}× normal) "
        "ending in a crash.",
        "frontend": "Server metrics normal (peak error rate {errors}): likely a UI fault.",
        "contract_change": "API contract change with no new version recorded "
        "(peak error rate {errors}).",
        "database_integrity": "Database integrity failure (peak error rate {errors}); "
        "nothing else in the metrics explains it.",
        "internal_degradation": "Internal degradation with no demand surge, release or slow "
        "dependency (peak error rate {errors}).",
        "memory_not_confirmed": "Memory leak not confirmed: memory did not grow during the "
        "incident.",
        "error_burst": "Error burst (peak {errors}) with no release, demand surge or slow "
        "dependency.",
        "dependency_not_confirmed": "Slow dependency not confirmed: network latency did not rise.",
        "crash": "Service crash with no prior degradation (peak error rate {errors}).",
    },
}

NEXT_STEPS: dict[Language, dict[str, tuple[str, ...]]] = {
    "pt": {
        "bad_release": (
            "Manter a versão anterior até corrigir a nova",
            "Adicionar teste de regressão para o defeito",
            "Exigir canário antes de promover versões",
        ),
        "demand_surge": (
            "Rever max_replicas e a capacidade por réplica no catálogo",
            "Escalar antecipadamente com a previsão de demanda",
        ),
        "slow_dependency": (
            "Verificar rede e pool de conexões até a dependência",
            "Definir timeout e circuit breaker na chamada",
        ),
        "dependency_degraded": ("Abrir incidente para a dependência degradada",),
        "memory_leak": (
            "Reiniciar o serviço para liberar memória",
            "Capturar heap dump na próxima ocorrência",
            "Rever caches e conexões que não são liberados",
        ),
        "progressive_degradation": (
            "Reiniciar antes do limite quando a latência subir",
            "Investigar recursos esgotados (threads, conexões)",
        ),
        "database_integrity": (
            "Restaurar do último backup íntegro",
            "Rodar verificações de integridade por módulo",
        ),
        "default": ("Anexar logs do container ao incidente", "Revisar com o time do módulo"),
    },
    "en": {
        "bad_release": (
            "Keep the previous version until the new one is fixed",
            "Add a regression test for the defect",
            "Require a canary before promoting releases",
        ),
        "demand_surge": (
            "Review max_replicas and per-replica capacity in the catalog",
            "Scale ahead of time from the demand forecast",
        ),
        "slow_dependency": (
            "Check the network and connection pool to the dependency",
            "Set a timeout and circuit breaker on the call",
        ),
        "dependency_degraded": ("Open an incident for the degraded dependency",),
        "memory_leak": (
            "Restart the service to release memory",
            "Capture a heap dump on the next occurrence",
            "Review caches and connections that are never released",
        ),
        "progressive_degradation": (
            "Restart before the limit when latency climbs",
            "Investigate exhausted resources (threads, connections)",
        ),
        "database_integrity": (
            "Restore from the last consistent backup",
            "Run the per-module integrity checks",
        ),
        "default": ("Attach the container logs to the incident", "Review with the module's team"),
    },
}
