"""Rollback scope from the catalog's dependency graph (pure, no I/O).

The error type sets the minimum scope: a UI bug stays inside its module; a broken API breaks
the modules that call it, so they roll back with it, each after its dependencies; a corrupted
database is shared state, so everything goes back together. Unhealthy integrations widen the
scope to the modules on the other end of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from nexus_ml.catalog import Catalog
from nexus_ml.domain import ErrorType, RollbackAnalysis, RollbackDecision, RollbackScope

MINIMUM_SCOPE: Mapping[ErrorType, RollbackScope] = {
    ErrorType.UI_BUG: RollbackScope.MODULE_ONLY,
    ErrorType.PERFORMANCE_DEGRADATION: RollbackScope.MODULE_ONLY,
    ErrorType.MEMORY_LEAK: RollbackScope.MODULE_ONLY,
    ErrorType.CRASH: RollbackScope.MODULE_ONLY,
    ErrorType.ERROR_BURST: RollbackScope.MODULE_ONLY,
    ErrorType.SLOW_DEPENDENCY: RollbackScope.DEPENDENCY_CHAIN,
    ErrorType.API_BREAKING: RollbackScope.DEPENDENCY_CHAIN,
    ErrorType.DATABASE_CORRUPTION: RollbackScope.FULL_SYSTEM,
}

_SCOPE_RANK = {
    RollbackScope.MODULE_ONLY: 0,
    RollbackScope.DEPENDENCY_CHAIN: 1,
    RollbackScope.FULL_SYSTEM: 2,
}
_BASE_RISK = {
    RollbackScope.MODULE_ONLY: 0.1,
    RollbackScope.DEPENDENCY_CHAIN: 0.3,
    RollbackScope.FULL_SYSTEM: 0.6,
}


@dataclass(frozen=True)
class RollbackCosts:
    """Time assumptions of the downtime estimate."""

    database_restore_s: float = 900.0  # restoring a snapshot before the modules come back
    escalate_full_fraction: float = 0.5  # unhealthy integrations over this share → full system


def transitive_dependents(catalog: Catalog, name: str) -> frozenset[str]:
    """Every module that calls ``name`` directly or through others."""
    seen: set[str] = set()
    frontier = [name]
    while frontier:
        for user in catalog.dependents_of(frontier.pop()):
            if user not in seen:
                seen.add(user)
                frontier.append(user)
    return frozenset(seen)


def integrations_of(catalog: Catalog, modules: frozenset[str]) -> tuple[str, ...]:
    """The catalog's call edges (``caller→callee``) that touch ``modules``, sorted."""
    edges = {
        f"{m.name}→{dep}"
        for m in catalog
        for dep in m.depends_on
        if m.name in modules or dep in modules
    }
    return tuple(sorted(edges))


def _unhealthy(health: Mapping[str, bool], catalog: Catalog, failed: str) -> frozenset[str]:
    # integration health is keyed by the module on the other end of the failed module's links
    neighbours = set(catalog.get(failed).depends_on) | set(catalog.dependents_of(failed))
    return frozenset(m for m, ok in health.items() if not ok and m in neighbours)


def analyse_rollback(
    catalog: Catalog,
    failed_module: str,
    error_type: ErrorType,
    *,
    current_version: str = "",
    last_stable_version: str = "",
    integration_health: Mapping[str, bool] | None = None,
    integrations_judged: bool = False,
    costs: RollbackCosts = RollbackCosts(),
) -> tuple[RollbackAnalysis, RollbackDecision]:
    """The analysis and the decision for a failed release of ``failed_module``.

    Parameters
    ----------
    catalog
        Module profiles and the dependency graph.
    failed_module
        Full or short name of the module whose release failed.
    error_type
        What went wrong; sets the minimum scope (see :data:`MINIMUM_SCOPE`).
    current_version, last_stable_version
        The release that failed and the one to return to (unknown lowers confidence).
    integration_health
        Health of the failed module's integrations, keyed by the module on the other end
        (``False`` = broken). Broken integrations widen the scope.
    integrations_judged
        The integration health comes from the same post-deploy test as the failure itself
        (each neighbour's metrics judged before and after the deploy, see
        :mod:`nexus_ml.decide.canary`): widening on it costs no confidence. Otherwise (a probe,
        a link latency) it is a noisier signal than the error type and an escalated scope
        loses 0.15.

    Raises
    ------
    NotFoundError
        When ``failed_module`` is not in the catalog.
    """
    failed = catalog.get(failed_module).name
    health = dict(integration_health or {})
    unhealthy = _unhealthy(health, catalog, failed)
    minimum = MINIMUM_SCOPE[error_type]
    scope = minimum
    reasons = [f"{error_type.value} needs at least {minimum.value}"]

    if unhealthy and _SCOPE_RANK[scope] < _SCOPE_RANK[RollbackScope.DEPENDENCY_CHAIN]:
        scope = RollbackScope.DEPENDENCY_CHAIN
        reasons.append(f"broken integrations with {', '.join(sorted(unhealthy))}")
    neighbours = len(set(catalog.get(failed).depends_on) | set(catalog.dependents_of(failed)))
    if (
        neighbours
        and len(unhealthy) / neighbours > costs.escalate_full_fraction
        and len(catalog.names) > 2
    ):
        scope = RollbackScope.FULL_SYSTEM
        reasons.append(f"{len(unhealthy)} of {neighbours} integrations broken")

    if scope is RollbackScope.MODULE_ONLY:
        members = frozenset({failed})
    elif scope is RollbackScope.DEPENDENCY_CHAIN:
        members = frozenset({failed}) | transitive_dependents(catalog, failed) | unhealthy
    else:
        members = frozenset(catalog.names)
    order = tuple(m for m in catalog.dependency_order() if m in members)

    downtime = float(sum(catalog.get(m).startup_lead_time_s for m in order))
    if error_type is ErrorType.DATABASE_CORRUPTION:
        downtime += costs.database_restore_s
    risk = _BASE_RISK[scope] + 0.1 * len(unhealthy) + (0.1 if not last_stable_version else 0.0)

    confidence = 0.9
    if scope is not minimum and not integrations_judged:
        confidence -= 0.15  # escalated on integration health, a noisier signal than the type
    if not last_stable_version:
        confidence -= 0.2
        reasons.append("last stable version unknown")
    analysis = RollbackAnalysis(
        failed_module=failed,
        error_type=error_type.value,
        current_version=current_version,
        last_stable_version=last_stable_version,
        affected_integrations=integrations_of(catalog, members),
        minimum_scope=minimum,
        estimated_downtime_s=float(downtime),
        risk=min(risk, 1.0),
    )
    decision = RollbackDecision(
        scope=scope,
        modules=order,
        reason="; ".join(reasons),
        confidence=round(max(confidence, 0.05), 3),
    )
    return analysis, decision
