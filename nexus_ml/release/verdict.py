"""What the release judge answers: one result per metric and the release verdict.

The shapes are JSON-friendly (pydantic) so the CLI prints them, the store keeps them and the
service serves them unchanged; Argo Rollouts' ``web`` metric provider reads them with
``jsonPath: "{$.verdict}"`` or ``"{$.score}"``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

VerdictName = Literal["Successful", "Failed", "Inconclusive"]
MetricStatus = Literal["pass", "fail", "nodata"]
Comparison = Literal["higher", "lower", "same", "nodata"]

#: Swarm ``UpdateStatus.State`` values that mean the candidate is not (or no longer) running:
#: the update was rolled back (Swarm's own rollback is silent: ``docker stack deploy`` exits 0)
#: or paused on a failed task (``failure_action: pause``).
FAILED_UPDATE_STATES = frozenset({"rollback_started", "rollback_paused", "rollback_completed"})
PAUSED_UPDATE_STATES = frozenset({"paused"})
UPDATE_STATES = frozenset({"updating", "completed", *FAILED_UPDATE_STATES, *PAUSED_UPDATE_STATES})

#: Exit code of ``nexus-ml release judge`` for each verdict (2 also means bad input).
EXIT_CODES: dict[str, int] = {"Successful": 0, "Failed": 1, "Inconclusive": 2}


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class ReleaseStatus(_Model):
    """What the cluster says about the candidate's deployment, checked before any metric.

    Attributes
    ----------
    update_state
        Swarm's ``UpdateStatus.State`` of the candidate's service (``None``: not known).
    candidate_version
        The version (image tag or digest) that should be running.
    running_version
        The version the service actually runs now; differing from ``candidate_version``
        means the candidate was replaced (a silent rollback).
    """

    update_state: str | None = Field(None, max_length=40, examples=["completed"])
    candidate_version: str | None = Field(None, max_length=300)
    running_version: str | None = Field(None, max_length=300)

    def failure(self) -> str | None:
        """Why this status fails the release regardless of metrics, or ``None``."""
        state = (self.update_state or "").strip().lower()
        if state in FAILED_UPDATE_STATES:
            return f"Swarm rolled the candidate back (UpdateStatus {state})"
        if state in PAUSED_UPDATE_STATES:
            return "Swarm paused the candidate's update on a failed task (UpdateStatus paused)"
        if (
            self.candidate_version
            and self.running_version
            and self.candidate_version != self.running_version
        ):
            return (
                f"the service runs {self.running_version!r}, not the candidate "
                f"{self.candidate_version!r} (silent rollback)"
            )
        return None


class MetricResult(_Model):
    """The judge's finding on one metric of the candidate against the baseline.

    ``effect`` is the Hodges–Lehmann shift relative to the baseline median for continuous
    metrics (0.12 = 12 % higher) and the difference of rates for proportions (0.01 = one
    percentage point more errors). ``p_value`` is that of the test in the bad direction.
    """

    name: str
    kind: Literal["continuous", "proportion"]
    status: MetricStatus
    comparison: Comparison
    p_value: float | None = None
    effect: float | None = None
    shift: float | None = Field(None, description="Absolute shift, in the metric's unit")
    allowed_effect: float
    baseline: float | None = Field(None, description="Baseline median (or rate)")
    candidate: float | None = Field(None, description="Candidate median (or rate)")
    n_baseline: int = 0
    n_candidate: int = 0
    nan_dropped: int = Field(0, description="Samples without a value, not used")
    weight: float
    critical: bool
    reason: str


class StepRecord(_Model):
    """One step of ``nexus-ml release MODULE``: what it did, how long, and what it found.

    ``status`` is ``passed``, ``failed`` (the candidate is blocked here), ``skipped`` (an
    earlier step blocked it) or ``error`` (the pipeline itself could not run the step).
    """

    name: str
    status: Literal["passed", "failed", "skipped", "error"]
    seconds: float = 0.0
    detail: str = ""
    findings: list[str] = Field(default_factory=list)


class Verdict(_Model):
    """The release verdict: Successful, Failed or Inconclusive, with the evidence.

    ``steps`` is set by the release pipeline (``nexus-ml release MODULE``): every step with its
    timing and findings; ``None`` for a verdict of ``nexus-ml release judge``.
    """

    id: str | None = None
    verdict: VerdictName
    score: float = Field(description="Weighted share of passing metrics, 0–100")
    reason: str
    metrics: list[MetricResult]
    release_status: ReleaseStatus | None = None
    judged_at: datetime | None = None
    module: str | None = None
    image: str | None = None
    steps: list[StepRecord] | None = None

    @property
    def exit_code(self) -> int:
        return EXIT_CODES[self.verdict]
