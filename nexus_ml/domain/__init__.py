"""Domain types shared by every layer: frozen, typed, JSON round-trip."""

from nexus_ml.domain.crisis import CrisisReport, ErrorType
from nexus_ml.domain.decision import Action, Decision, Evidence
from nexus_ml.domain.metrics import METRIC_FIELDS, ContainerHealthMetrics
from nexus_ml.domain.migration import ChangeType, DatabaseChange, MigrationPlan, MigrationStep
from nexus_ml.domain.rollback import RollbackAnalysis, RollbackDecision, RollbackScope

__all__ = [
    "METRIC_FIELDS",
    "Action",
    "ChangeType",
    "ContainerHealthMetrics",
    "CrisisReport",
    "DatabaseChange",
    "Decision",
    "ErrorType",
    "Evidence",
    "MigrationPlan",
    "MigrationStep",
    "RollbackAnalysis",
    "RollbackDecision",
    "RollbackScope",
]
