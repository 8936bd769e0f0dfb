"""The bearer token of the ``/v1`` API: constant-time comparison, 401 without, 403 wrong."""

from __future__ import annotations

import hmac
import os
import secrets
from pathlib import Path

from fastapi import HTTPException, status
from fastapi.security import HTTPAuthorizationCredentials

from nexus_ml.logs import get_logger
from service.core.config import ServiceSettings

log = get_logger(__name__)


def resolve_token(settings: ServiceSettings) -> str:
    """The configured token; in dev without one, the token of ``<state_dir>/api-token``.

    The first process to start creates that file (mode 0600) with a random token, atomically:
    the token is written to a private temporary file that is then hard-linked to the final
    name, which fails if the name exists. So ``--workers N`` processes starting together all
    end up with the one token in the file, and nobody ever reads a half-written file. The token
    never goes to the log; a local client (the executor, ``curl``) reads it from the file.
    """
    if settings.api_token is not None:
        return settings.api_token.get_secret_value()
    path = Path(settings.state_dir) / "api-token"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        existing = _read_token(path)
        if existing is not None:
            return existing
        token = secrets.token_urlsafe(32)
        tmp = path.with_name(f".api-token.{os.getpid()}.{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w") as out:
                out.write(token)
            os.link(tmp, path)  # atomic, and fails when another worker was first
            log.warning(
                "service.api_token_generated", reason="NEXUS_API_TOKEN is not set", file=path
            )
            return token
        except FileExistsError:
            existing = _read_token(path)
            if existing is None:
                raise
            return existing
        finally:
            tmp.unlink(missing_ok=True)
    except OSError as exc:
        log.warning(
            "service.api_token_ephemeral",
            reason="NEXUS_API_TOKEN is not set and the token file is not usable",
            file=path,
            error=exc.strerror,
        )
        return secrets.token_urlsafe(32)


def _read_token(path: Path) -> str | None:
    # a file someone else could read or that is not a plausible token is not reused
    try:
        if path.stat().st_mode & 0o077:
            log.warning(
                "service.api_token_file_refused", reason="readable by others: remove it", file=path
            )
            raise PermissionError(1, "token file readable by others")
        token = path.read_text(encoding="ascii").strip()
    except FileNotFoundError:
        return None
    except (UnicodeDecodeError, ValueError) as exc:
        raise PermissionError(1, "token file is not a token") from exc
    if len(token) < 32:
        raise PermissionError(1, "token file holds no token")
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
