from __future__ import annotations

import pytest

from nexus_ml.catalog import load_catalog
from nexus_ml.decide.rollback import analyse_rollback, transitive_dependents
from nexus_ml.domain import ErrorType, RollbackScope
from nexus_ml.errors import NotFoundError

CATALOG = load_catalog()  # agendamento → crm → user-management, agendamento → user-management
UM, CRM, AG = "nexus-user-management", "nexus-crm", "nexus-agendamento"


def test_dependents_are_transitive() -> None:
    assert transitive_dependents(CATALOG, UM) == {CRM, AG}
    assert transitive_dependents(CATALOG, AG) == frozenset()


def test_ui_bug_rolls_back_the_module_only() -> None:
    analysis, decision = analyse_rollback(
        CATALOG, "crm", ErrorType.UI_BUG, last_stable_version="1.2"
    )
    assert decision.scope is RollbackScope.MODULE_ONLY and decision.modules == (CRM,)
    assert analysis.minimum_scope is RollbackScope.MODULE_ONLY
    assert analysis.estimated_downtime_s == CATALOG.get(CRM).startup_lead_time_s
    assert decision.confidence == 0.9


def test_api_breaking_takes_the_dependents_in_dependency_order() -> None:
    analysis, decision = analyse_rollback(
        CATALOG, UM, ErrorType.API_BREAKING, last_stable_version="3"
    )
    assert decision.scope is RollbackScope.DEPENDENCY_CHAIN
    assert decision.modules == (UM, CRM, AG)
    assert f"{CRM}→{UM}" in analysis.affected_integrations
    assert analysis.risk > 0.1


def test_database_corruption_is_the_full_system_with_a_restore() -> None:
    analysis, decision = analyse_rollback(
        CATALOG, AG, ErrorType.DATABASE_CORRUPTION, last_stable_version="3"
    )
    assert decision.scope is RollbackScope.FULL_SYSTEM
    assert decision.modules == CATALOG.dependency_order()
    lead = sum(m.startup_lead_time_s for m in CATALOG)
    assert analysis.estimated_downtime_s > lead


def test_broken_integration_widens_module_only_to_the_chain() -> None:
    _, decision = analyse_rollback(
        CATALOG,
        CRM,
        ErrorType.UI_BUG,
        last_stable_version="1",
        integration_health={AG: False, UM: True},
    )
    assert decision.scope is RollbackScope.DEPENDENCY_CHAIN
    assert decision.modules == (CRM, AG)
    assert "broken integrations" in decision.reason and decision.confidence < 0.9


def test_unknown_last_stable_version_lowers_confidence_and_raises_risk() -> None:
    known, d_known = analyse_rollback(CATALOG, CRM, ErrorType.CRASH, last_stable_version="1")
    unknown, d_unknown = analyse_rollback(CATALOG, CRM, ErrorType.CRASH)
    assert d_unknown.confidence < d_known.confidence and unknown.risk > known.risk


def test_unknown_module_is_not_found() -> None:
    with pytest.raises(NotFoundError, match="nexus-nope"):
        analyse_rollback(CATALOG, "nexus-nope", ErrorType.UI_BUG)
