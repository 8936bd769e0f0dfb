"""The bearer token of the ``/v1`` API: constant-time comparison, 401 without, 403 wrong."""

from __future__ import annotations

import hmac
import logging
import os
import secrets
from pathlib import Path

from fastapi import HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials

from service.core.config import ServiceSettings

log = logging.getLogger(__name__)


def resolve_token(settings: ServiceSettings) -> str:
    """The configured token; in dev without one, a random token written to the state dir.

    The generated token goes to ``<state_dir>/api-token`` (mode 0600), never to the log, so a
    local client (the executor, ``curl``) can read it and nobody else sees it.
    """
    if settings.api_token is not None:
        return settings.api_token.get_secret_value()
    token = secrets.token_urlsafe(32)
    path = Path(settings.state_dir) / "api-token"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(token)
        log.warning("NEXUS_API_TOKEN is not set: generated a token in %s", path)
    except OSError as exc:
        log.warning("NEXUS_API_TOKEN is not set and %s is not writable (%s)", path, exc.strerror)
    return token


def check_bearer(credentials: HTTPAuthorizationCredentials | None, expected: str) -> None:
    """Raise 401 when no bearer token came, 403 when it is not ``expected``."""
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise HTTPException(
            status.HTTP_401_UNAUTHORIZED,
            detail="missing bearer token",
            headers={"WWW-Authenticate": "Bearer"},
        )
    if not hmac.compare_digest(credentials.credentials.encode(), expected.encode()):
        raise HTTPException(status.HTTP_403_FORBIDDEN, detail="invalid token")
