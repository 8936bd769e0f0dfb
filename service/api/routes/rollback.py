"""``/v1/rollback-analysis``: the scope of a rollback after a failed release."""

from __future__ import annotations

from fastapi import APIRouter

from nexus_ml.decide.rollback import analyse_rollback
from service.api.deps import CatalogDep
from service.api.schemas import RollbackRequest, RollbackResponse

router = APIRouter(tags=["rollback"])


@router.post("/rollback-analysis", response_model=RollbackResponse, summary="Rollback scope")
def rollback_analysis(body: RollbackRequest, catalog: CatalogDep) -> RollbackResponse:
    """Affected integrations, minimum scope, downtime and risk, and the modules to roll back."""
    analysis, decision = analyse_rollback(
        catalog,
        body.failed_module,
        body.error_type,
        current_version=body.current_version,
        last_stable_version=body.last_stable_version,
        integration_health=body.integration_health,
    )
    return RollbackResponse(analysis=analysis, decision=decision)
