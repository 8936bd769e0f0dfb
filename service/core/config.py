"""Settings of the decision service: the shared settings plus the service's own limits."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from nexus_ml.settings import Settings

_UNSAFE_TOKENS = frozenset({"changeme", "change-me", "secret", "token", "password"})


class ServiceSettings(Settings):
    """Runtime settings of ``nexus-ml serve`` (env prefix ``NEXUS_``).

    Outside ``environment="dev"`` the API token must be set and not a placeholder: a service
    that acts on a cluster must not start with a guessable secret.
    """

    environment: Literal["dev", "prod"] = Field("dev", description="prod rejects unsafe secrets")
    max_body_bytes: int = Field(1_048_576, ge=1024, le=64 * 1_048_576)
    max_window_rows: int = Field(1440, ge=10, le=10_080, description="Rows in a posted window")
    window_minutes: int = Field(60, ge=10, le=1440, description="Minutes read from the source")
    decision_cache_s: float = Field(5.0, ge=0, le=600, description="Reuse of GET decisions")
    model_poll_s: float = Field(30.0, gt=0, le=86_400, description="Champion alias polling")
    staleness_s: float = Field(180.0, gt=0, le=86_400, description="Older newest metric: stale")
    scale_down_cooldown_s: float = Field(300.0, ge=0, le=86_400)
    sim_seed: int = Field(0, description="Seed of the embedded simulator source")
    metrics_path: str | None = Field(None, description="Metric frame file served as the source")

    @model_validator(mode="after")
    def _safe_token_outside_dev(self) -> ServiceSettings:
        if self.environment == "dev":
            return self
        token = self.api_token.get_secret_value() if self.api_token else ""
        if len(token) < 16 or token.lower() in _UNSAFE_TOKENS:
            raise ValueError(
                f"api_token must be set to at least 16 characters when environment is "
                f"{self.environment!r} (got {len(token)} characters)"
            )
        return self
