"""Settings of the decision service: the shared settings plus the service's own limits."""

from __future__ import annotations

import math
from collections import Counter
from typing import Literal

from pydantic import Field, model_validator

from nexus_ml.settings import Settings

_UNSAFE_TOKENS = frozenset({"changeme", "change-me", "secret", "token", "password"})
MIN_TOKEN_CHARS = 24  # 12 random bytes in hex; shorter random tokens can score under 48 bits
MIN_TOKEN_DISTINCT = 8
MIN_TOKEN_BITS = 48.0  # empirical entropy; secrets.token_urlsafe(32) scores about 200


def token_weakness(token: str) -> str | None:
    """Why ``token`` is too weak for production, or ``None`` when it is acceptable.

    A token must have at least 24 characters, no whitespace, at least 8 distinct characters
    and 48 bits of empirical (Shannon) entropy over its length, and must not be a placeholder.
    The entropy estimate is an upper bound of what an attacker faces (it cannot see that
    ``abcdefghijklmnop`` is a sequence), so it only rejects the obviously weak.
    """
    if len(token) < MIN_TOKEN_CHARS:
        return f"at least {MIN_TOKEN_CHARS} characters (got {len(token)})"
    if any(c.isspace() for c in token):
        return "no whitespace"
    lowered = token.lower()
    if lowered.strip("0123456789-_.") in _UNSAFE_TOKENS or "changeme" in lowered.replace("-", ""):
        return "not a placeholder such as 'changeme'"
    counts = Counter(token)
    if len(counts) < MIN_TOKEN_DISTINCT:
        return f"at least {MIN_TOKEN_DISTINCT} distinct characters (got {len(counts)})"
    bits = -sum(n * math.log2(n / len(token)) for n in counts.values())
    if bits < MIN_TOKEN_BITS:
        return f"at least {MIN_TOKEN_BITS:g} bits of entropy (got {bits:.0f})"
    return None


class ServiceSettings(Settings):
    """Runtime settings of ``nexus-ml serve`` (env prefix ``NEXUS_``).

    Outside ``environment="dev"`` the API token must be set and strong (see
    :func:`token_weakness`): a service that acts on a cluster must not start with a guessable
    secret.
    """

    environment: Literal["dev", "prod"] = Field("dev", description="prod rejects unsafe secrets")
    max_body_bytes: int = Field(1_048_576, ge=1024, le=64 * 1_048_576)
    body_timeout_s: float = Field(
        10.0, gt=0, le=300, description="Whole request body must arrive within (else 408)"
    )
    max_window_rows: int = Field(1440, ge=10, le=10_080, description="Rows in a posted window")
    window_minutes: int = Field(60, ge=10, le=1440, description="Minutes read from the source")
    decision_cache_s: float = Field(5.0, ge=0, le=600, description="Reuse of GET decisions")
    model_poll_s: float = Field(30.0, gt=0, le=86_400, description="Champion alias polling")
    staleness_s: float = Field(180.0, gt=0, le=86_400, description="Older newest metric: stale")
    scale_down_cooldown_s: float = Field(
        300.0,
        ge=0,
        le=86_400,
        description="Wait of a scale-down after a scale-up, restart or rollback (not after one)",
    )
    sim_seed: int = Field(0, description="Seed of the embedded simulator source")
    metrics_path: str | None = Field(None, description="Metric frame file served as the source")

    @model_validator(mode="after")
    def _safe_token_outside_dev(self) -> ServiceSettings:
        if self.environment == "dev":
            return self
        token = self.api_token.get_secret_value() if self.api_token else ""
        weakness = token_weakness(token)
        if weakness is not None:
            # the value itself is never quoted: it is a secret, even a weak one
            raise ValueError(
                f"api_token must be set and strong when environment is {self.environment!r}: "
                f"{weakness}"
            )
        return self
