"""The dashboard's read-only session: a signed cookie, obtained with the API token.

The cookie carries an expiry, a nonce and an HMAC-SHA256 of both keyed by a key derived from
the API token, so any replica of the (stateless) service can check it and rotating the token
ends every session. It only opens the dashboard's read routes; ``/v1`` still wants the bearer
token. The token itself is never put in a URL or a cookie.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time

COOKIE = "nexus_dashboard"
COOKIE_PATH = "/dashboard"
DEFAULT_TTL_S = 12 * 3600
_PURPOSE = b"nexus-dashboard-session:read"


def _key(token: str) -> bytes:
    # derived, so the cookie's MAC never exposes material usable as the bearer token
    return hmac.new(token.encode(), _PURPOSE, hashlib.sha256).digest()


def issue(token: str, *, ttl_s: int = DEFAULT_TTL_S, now: float | None = None) -> str:
    """A session value valid for ``ttl_s`` seconds."""
    expires = int((now if now is not None else time.time()) + ttl_s)
    body = f"{expires}.{secrets.token_urlsafe(12)}"
    mac = hmac.new(_key(token), body.encode(), hashlib.sha256).hexdigest()
    return f"{body}.{mac}"


def valid(value: str | None, token: str, *, now: float | None = None) -> bool:
    """Whether ``value`` was issued with ``token`` and has not expired."""
    if not value or value.count(".") != 2:
        return False
    expires, nonce, mac = value.split(".")
    expected = hmac.new(_key(token), f"{expires}.{nonce}".encode(), hashlib.sha256).hexdigest()
    if not hmac.compare_digest(mac.encode(), expected.encode()):
        return False
    try:
        return int(expires) > (now if now is not None else time.time())
    except ValueError:
        return False


def token_matches(candidate: str, token: str) -> bool:
    """Constant-time comparison of a submitted token."""
    return hmac.compare_digest(candidate.encode(), token.encode())


def safe_next(target: str | None) -> str:
    """Where to go after login: a path under /dashboard only (no open redirect)."""
    unsafe = ("//", "\\", "\n", "\r")
    if target and target.startswith(COOKIE_PATH) and not any(u in target for u in unsafe):
        return target
    return COOKIE_PATH
