"""Carrying out an allowed decision on the cluster: scale, restart, or roll back a chain.

The guardrails have already said yes; this module only talks to the
:class:`~nexus_ml.execute.backend.ClusterBackend` and says, in the operators' language, what
it did. Recording (audit, cooldowns, alerts) stays with the executor loop.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from nexus_ml.alerts.render import Language, phrase
from nexus_ml.catalog import Catalog
from nexus_ml.domain.decision import Action, Decision
from nexus_ml.domain.rollback import RollbackScope
from nexus_ml.errors import NexusError
from nexus_ml.execute.backend import ClusterBackend, ServiceState
from nexus_ml.execute.guardrails import Verdict


def rollback_plan(catalog: Catalog, module: str, scope: RollbackScope | None) -> tuple[str, ...]:
    """Modules to roll back for ``scope``, dependencies before their users.

    DEPENDENCY_CHAIN is the failed module and every module that (transitively) uses it.
    """
    if scope is None or scope is RollbackScope.MODULE_ONLY:
        return (module,)
    order = catalog.dependency_order()
    if scope is RollbackScope.FULL_SYSTEM:
        return order
    chain = {module}
    changed = True
    while changed:
        users = {u for m in chain for u in catalog.dependents_of(m)}
        changed = not users <= chain
        chain |= users
    return tuple(m for m in order if m in chain)


@dataclass(frozen=True)
class Applied:
    """What :func:`apply_verdict` did: a phrase for the alert and the modules it touched."""

    taken: str
    modules: tuple[str, ...]


def apply_verdict(
    backend: ClusterBackend,
    catalog: Catalog,
    decision: Decision,
    verdict: Verdict,
    state: ServiceState,
    *,
    timeout_s: float,
    language: Language,
    on_rollback_step: Callable[[str], None] = lambda module: None,
) -> Applied:
    """Scale to ``verdict.target``, restart, or roll back the decision's scope.

    Parameters
    ----------
    backend, catalog
        The cluster and the module graph (for a rollback's scope).
    decision, verdict
        The decision and the guardrails' allowed verdict (a target means scale).
    state
        The module's service state before acting (the "before" of a scale).
    timeout_s
        Per backend call.
    language
        Of the returned phrase.
    on_rollback_step
        Called with each module once it is rolled back (the executor audits each step).

    Returns
    -------
    Applied

    Raises
    ------
    NexusError
        From the backend; a rollback chain's error says where it stopped and what it had done.
    """
    if verdict.target is not None:
        backend.scale(decision.module, verdict.target, timeout_s=timeout_s)
        key = "scale_up" if verdict.target > state.replicas else "scale_down"
        taken = phrase(key, language, before=state.replicas, after=verdict.target)
        return Applied(taken, (decision.module,))
    if decision.action is Action.RESTART:
        backend.restart(decision.module, timeout_s=timeout_s)
        return Applied(phrase("restart", language), (decision.module,))
    modules = rollback_plan(catalog, decision.module, decision.rollback_scope)
    done = _rollback_chain(backend, modules, timeout_s, on_rollback_step)
    return Applied(phrase("rollback", language, modules=", ".join(done)), modules)


def _rollback_chain(
    backend: ClusterBackend,
    modules: tuple[str, ...],
    timeout_s: float,
    on_step: Callable[[str], None],
) -> list[str]:
    """Roll back ``modules`` in order; stop at the first failure and report how far it got."""
    done: list[str] = []
    for module in modules:
        try:
            backend.rollback(module, timeout_s=timeout_s)
        except NexusError as exc:
            raise type(exc)(
                f"rollback stopped at {module!r} after {done or 'none'}: {exc}"
            ) from exc
        done.append(module)
        on_step(module)
    return done
