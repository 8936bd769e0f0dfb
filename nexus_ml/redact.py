"""One redaction function for every error path, log line and API error.

:func:`redact` masks what looks like a credential wherever it appears in a text: the user
information of URLs (``http://user:pass@host`` → ``http://user:***@host``), ``password=...`` and
token-like ``key=value`` pairs of DSNs and query strings, ``Bearer`` tokens, Telegram bot tokens,
and every secret the caller names explicitly (raw, URL-encoded and URL-decoded). Patterns catch
credentials nobody registered (a Prometheus URL typed on the command line); the explicit list
catches those that no pattern can see (libpq quoting just the password of a broken DSN).

:class:`RedactingFormatter` applies it to every formatted log record, traceback included.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from urllib.parse import quote, unquote

MASK = "***"
_MIN_SECRET = 4  # shorter values (an empty or 1-letter password) would mask random text

# scheme://userinfo@ — greedy up to the authority's last "@" (a password may contain "@")
_URL_USERINFO = re.compile(r"(?P<scheme>\b[A-Za-z][A-Za-z0-9+.\-]*://)(?P<info>[^\s/?#\"'<>]*)@")
_KEY_VALUE = re.compile(
    r"(?P<key>\b(?:password|passwd|pwd|pgpassword|token|access_token|api_token|api_key|apikey"
    r"|secret|client_secret|bot_token)\b\s*=\s*)"
    r"(?P<value>'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"|[^\s&;,'\")]+)",
    re.IGNORECASE,
)
_JSON_SECRET = re.compile(
    r"(?P<key>\"(?:password|token|api_token|secret|bot_token)\"\s*:\s*)\"(?:[^\"\\]|\\.)*\"",
    re.IGNORECASE,
)
_BEARER = re.compile(r"(?P<key>\bBearer\s+)[A-Za-z0-9._~+/=\-]+", re.IGNORECASE)
_BOT_TOKEN = re.compile(r"\bbot\d{3,}:[A-Za-z0-9_\-]{20,}")


def _mask_userinfo(match: re.Match[str]) -> str:
    # keep the user name (useful when reading a log); mask a password, or a bare token
    user, colon, _ = match["info"].partition(":")
    return f"{match['scheme']}{user}:{MASK}@" if colon and user else f"{match['scheme']}{MASK}@"


def _variants(secret: str) -> set[str]:
    return {secret, quote(secret, safe=""), quote(secret, safe="@:/"), unquote(secret)}


def redact(text: str, secrets: Iterable[str | None] = ()) -> str:
    """``text`` with every credential replaced by ``***``.

    Parameters
    ----------
    text
        Any text bound for a user: an error message, a log line, an API response.
    secrets
        Values known to be secret (tokens, passwords); values shorter than 4 characters are
        ignored, since masking them would garble ordinary text.

    Returns
    -------
    str
        The text with URL credentials, ``password=``/token pairs, bearer and bot tokens and the
        given secrets masked.
    """
    known = {v for s in secrets if s and len(s) >= _MIN_SECRET for v in _variants(s)}
    # longest first, so a secret that contains another is masked whole
    for secret in sorted((v for v in known if len(v) >= _MIN_SECRET), key=len, reverse=True):
        text = text.replace(secret, MASK)
    text = _URL_USERINFO.sub(_mask_userinfo, text)
    text = _KEY_VALUE.sub(lambda m: f"{m['key']}{MASK}", text)
    text = _JSON_SECRET.sub(lambda m: f'{m["key"]}"{MASK}"', text)
    text = _BEARER.sub(lambda m: f"{m['key']}{MASK}", text)
    return _BOT_TOKEN.sub(f"bot{MASK}", text)


def dsn_password(dsn: str) -> str | None:
    """The password written in a PostgreSQL URI or key/value DSN, as typed, if any.

    Read from the text itself (never by a parser that may reject the DSN), so that a DSN libpq
    refuses — ``%ZZ`` in the password, an unclosed ``[::1`` — still has its password found and
    masked in the error that quotes it.
    """
    if "://" in dsn:
        rest = dsn.split("://", 1)[1]
        authority = re.split(r"[/?#]", rest.rsplit("@", 1)[0], maxsplit=1)[0] if "@" in rest else ""
        if ":" in authority:
            return authority.split(":", 1)[1] or None
        return None
    match = re.search(r"\bpassword\s*=\s*('(?:[^'\\]|\\.)*'|\S+)", dsn)
    if match is None:
        return None
    value = match.group(1)
    return value[1:-1].replace("\\'", "'") if value.startswith("'") else value


def url_secrets(url: str | None) -> list[str]:
    """The user information of a URL (``user:pass`` and ``pass``), to pass to :func:`redact`."""
    if not url or "://" not in url:
        return []
    rest = url.split("://", 1)[1]
    if "@" not in rest.split("/", 1)[0]:
        return []
    userinfo = rest.split("/", 1)[0].rsplit("@", 1)[0]
    password = userinfo.split(":", 1)[1] if ":" in userinfo else ""
    return [s for s in (userinfo, password) if s]


class RedactingFormatter(logging.Formatter):
    """A formatter whose every line (message, arguments, traceback) goes through :func:`redact`.

    ``inner`` is the formatter to wrap (uvicorn's coloured ones, say); without it the line is
    formatted with ``fmt`` and ``datefmt`` as by :class:`logging.Formatter`.
    """

    def __init__(
        self,
        fmt: str | None = None,
        datefmt: str | None = None,
        *,
        secrets: Iterable[str | None] = (),
        inner: logging.Formatter | None = None,
    ) -> None:
        super().__init__(fmt, datefmt)
        self.secrets = sorted({s for s in secrets if s})
        self.inner = inner

    def format(self, record: logging.LogRecord) -> str:
        line = self.inner.format(record) if self.inner is not None else super().format(record)
        return redact(line, self.secrets)


def install_log_redaction(
    secrets: Iterable[str | None] = (),
    loggers: Iterable[str] = ("", "uvicorn", "uvicorn.error", "uvicorn.access"),
) -> None:
    """Make every handler of ``loggers`` redact its lines (idempotent; adds to the secrets)."""
    known = [s for s in secrets if s]
    for name in loggers:
        for handler in logging.getLogger(name).handlers:
            current = handler.formatter
            if isinstance(current, RedactingFormatter):
                current.secrets = sorted({*current.secrets, *known})
            else:
                handler.setFormatter(RedactingFormatter(secrets=known, inner=current))
