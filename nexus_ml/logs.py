"""Structured logs: one line per event, JSON or ``key=value``, with every secret masked.

The convention
--------------
A log call is an *event name* (dotted, lower case: ``executor.action_applied``) and *fields*::

    from nexus_ml.logs import get_logger

    log = get_logger(__name__)
    log.info("executor.action_applied", module="nexus-crm", action="scale", replicas=4)
    log.exception("executor.tick_failed")  # the traceback goes into the ``exc`` field

Field values are numbers, booleans, ``None`` or text; anything else (paths, datetimes,
exceptions, enums) is written as its ``str``. Every value passes through
:func:`nexus_ml.redact.redact`, and a field whose *name* says it is secret (``token``,
``password``, ``secret``, ``api_key``, ``authorization``, ``dsn``) is masked whole.

A record's own message is the ``key=value`` text of the event (``executor.action_applied
module=nexus-crm ...``), so that a host application which never configured this module, and
pytest's ``caplog``, still read a useful line.

Configuration happens at the edges only: :func:`configure_logging` (the CLI callback,
``service/asgi.py``) and :func:`uvicorn_log_config` (``nexus-ml serve``). Library code only
asks for a logger.
"""

from __future__ import annotations

import json
import logging
import re
import sys
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from enum import Enum
from typing import Any, Literal, TextIO

import orjson

from nexus_ml.redact import MASK, RedactingFormatter, install_log_redaction, redact

LogFormat = Literal["text", "json"]
LOG_FORMATS: tuple[LogFormat, ...] = ("text", "json")
LOG_LEVELS = ("DEBUG", "INFO", "WARNING", "ERROR")
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")

_FIELDS_ATTR = "nexus_fields"
_EVENT_ATTR = "nexus_event"
_SECRET_NAME = re.compile(r"password|passwd|token|secret|api_?key|authorization|dsn", re.I)
_BARE = re.compile(r"^[A-Za-z0-9_.,:/@+\-]+$")  # text values written without quotes
# keys a field may not take: they are the line's own
_RESERVED = frozenset({"ts", "level", "logger", "event", "exc"})


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float | str):
        return value
    if isinstance(value, Enum):
        return _plain(value.value)
    return str(value)


def _masked(key: str, value: Any, secrets: Iterable[str] = ()) -> Any:
    if value is not None and _SECRET_NAME.search(key):
        return MASK
    value = _plain(value)
    return redact(value, secrets) if isinstance(value, str) else value


def render_text(event: str, fields: Mapping[str, Any]) -> str:
    """``event k=v k=v``: text values with spaces, quotes or ``=`` are JSON-quoted."""
    parts = [event]
    for key, value in fields.items():
        parts.append(f"{key}={_text_value(_plain(value))}")
    return " ".join(parts)


def _text_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value) if isinstance(value, float) else str(value)
    text = str(value)
    return text if _BARE.match(text) else json.dumps(text, ensure_ascii=False)


class EventLogger:
    """A :class:`logging.Logger` that takes an event name and fields instead of a message.

    Parameters
    ----------
    logger
        The standard logger records go to (its name, level and handlers apply).
    """

    def __init__(self, logger: logging.Logger) -> None:
        self.logger = logger

    @property
    def name(self) -> str:
        return self.logger.name

    def log(self, level: int, event: str, /, *, exc_info: bool = False, **fields: Any) -> None:
        """Emit ``event`` with ``fields`` at ``level`` (when the logger is enabled for it)."""
        self._emit(level, event, exc_info, fields)

    def _emit(self, level: int, event: str, exc_info: bool, fields: dict[str, Any]) -> None:
        if not self.logger.isEnabledFor(level):
            return
        # masked here already, so that a handler without our formatter (pytest's capture, a
        # host application's) never sees a credential a pattern can recognise either
        fields = {key: _masked(key, value) for key, value in fields.items()}
        self.logger.log(
            level,
            render_text(event, fields),
            exc_info=exc_info,
            stacklevel=3,  # the caller of debug()/info()/..., not this method
            extra={_EVENT_ATTR: event, _FIELDS_ATTR: fields},
        )

    def debug(self, event: str, /, *, exc_info: bool = False, **fields: Any) -> None:
        self._emit(logging.DEBUG, event, exc_info, fields)

    def info(self, event: str, /, *, exc_info: bool = False, **fields: Any) -> None:
        self._emit(logging.INFO, event, exc_info, fields)

    def warning(self, event: str, /, *, exc_info: bool = False, **fields: Any) -> None:
        self._emit(logging.WARNING, event, exc_info, fields)

    def error(self, event: str, /, *, exc_info: bool = False, **fields: Any) -> None:
        self._emit(logging.ERROR, event, exc_info, fields)

    def exception(self, event: str, /, **fields: Any) -> None:
        """An ERROR event carrying the exception being handled (as the ``exc`` field)."""
        self._emit(logging.ERROR, event, True, fields)


def get_logger(name: str) -> EventLogger:
    """The event logger of module ``name`` (pass ``__name__``)."""
    return EventLogger(logging.getLogger(name))


def record_event(record: logging.LogRecord) -> tuple[str, dict[str, Any]]:
    """The event name and fields of ``record`` (tests read these instead of the text).

    A record of another library has its message as the event and no fields.
    """
    event = getattr(record, _EVENT_ATTR, None)
    if isinstance(event, str):
        return event, dict(getattr(record, _FIELDS_ATTR, None) or {})
    args = record.args
    if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
        client, method, path, http_version, status = args
        return "http.request", {
            "client": client,
            "method": method,
            "path": path,
            "http": http_version,
            "status": status,
        }
    return record.getMessage(), {}  # another library's record: its message is the event


class StructuredFormatter(RedactingFormatter):
    """One line per record: a JSON object or ``key=value`` pairs, secrets masked.

    Every line has ``ts`` (UTC, ISO 8601), ``level``, ``logger`` and ``event``, then the event's
    fields and, when there is one, the traceback as ``exc``. Records of other libraries
    (uvicorn, httpx) get their message as the event; uvicorn's access lines are split into
    ``client``, ``method``, ``path``, ``http`` and ``status``.

    Parameters
    ----------
    kind
        ``"json"`` or ``"text"``.
    secrets
        Values to mask wherever they appear (see :func:`nexus_ml.redact.redact`).
    """

    def __init__(self, kind: LogFormat = "text", *, secrets: Iterable[str | None] = ()) -> None:
        if kind not in LOG_FORMATS:
            raise ValueError(f"log format must be 'json' or 'text', got {kind!r}")
        super().__init__(secrets=secrets)
        self.kind: LogFormat = kind

    def format(self, record: logging.LogRecord) -> str:
        event, fields = record_event(record)
        line: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "event": redact(event, self.secrets),
        }
        for key, value in fields.items():
            line[f"{key}_" if key in _RESERVED else key] = _masked(key, value, self.secrets)
        if record.exc_info:
            record.exc_text = record.exc_text or self.formatException(record.exc_info)
        if record.exc_text:
            line["exc"] = redact(record.exc_text, self.secrets)
        if self.kind == "json":
            return orjson.dumps(line, option=orjson.OPT_NON_STR_KEYS).decode()
        head = f"{line.pop('ts')} {line.pop('level')} {line.pop('logger')} "
        return head + render_text(line.pop("event"), line)


class _Handler(logging.StreamHandler[TextIO]):
    """The handler :func:`configure_logging` installs: its stream, or stderr as it is now
    (a CLI test runner swaps ``sys.stderr``; a handler bound at start-up would write to a
    closed stream)."""

    def __init__(self, stream: TextIO | None) -> None:
        super().__init__(stream or sys.stderr)
        self._fixed = stream

    def emit(self, record: logging.LogRecord) -> None:
        if self._fixed is None:
            self.stream = sys.stderr
        super().emit(record)


def configure_logging(
    kind: LogFormat = "text",
    level: str = "INFO",
    *,
    secrets: Iterable[str | None] = (),
    stream: TextIO | None = None,
) -> StructuredFormatter:
    """Send every record (the root logger's and uvicorn's) to ``stream`` through one formatter.

    Idempotent: a second call replaces the handler the first one installed. Like
    :func:`logging.basicConfig`, it leaves a root logger that already has other handlers to
    its owner (only masking this process's secrets in its lines).

    Parameters
    ----------
    kind
        ``"json"`` or ``"text"``.
    level
        The root level, a name from :data:`LOG_LEVELS`.
    secrets
        Values to mask in every line.
    stream
        Where lines go; stderr by default.

    Returns
    -------
    StructuredFormatter
        The formatter installed (tests read it; the service adds its token to its secrets).
    """
    if level.upper() not in LOG_LEVELS:
        raise ValueError(f"log level must be one of {', '.join(LOG_LEVELS)}, got {level!r}")
    formatter = StructuredFormatter(kind, secrets=secrets)
    root = logging.getLogger()
    ours = [h for h in root.handlers if isinstance(h, _Handler)]
    if len(ours) < len(root.handlers):
        # like logging.basicConfig: a root logger someone else equipped (a host application,
        # pytest's capture) is theirs; only add this process's secrets to it
        install_log_redaction(formatter.secrets, loggers=("",))
        return formatter
    for old in ours:
        root.removeHandler(old)
    handler = _Handler(stream)
    handler.setFormatter(formatter)
    root.addHandler(handler)
    root.setLevel(level.upper())
    for name in UVICORN_LOGGERS:
        # uvicorn's loggers keep their own handlers and do not propagate: hand them to the root
        logger = logging.getLogger(name)
        for theirs in list(logger.handlers):
            logger.removeHandler(theirs)
        logger.propagate = True
    return formatter


def active_format() -> LogFormat:
    """The format :func:`configure_logging` installed on the root logger (``"text"`` if none)."""
    for handler in logging.getLogger().handlers:
        if isinstance(handler.formatter, StructuredFormatter):
            return handler.formatter.kind
    return "text"


def uvicorn_log_config(kind: LogFormat = "text", level: str = "INFO") -> dict[str, Any]:
    """A ``logging.config`` dictionary for ``uvicorn.run(log_config=...)``.

    uvicorn applies it in every worker process before the app starts, so the workers of
    ``nexus-ml serve --workers N`` write the same lines as the CLI; the service then adds its
    secrets to the formatter (:func:`nexus_ml.redact.install_log_redaction`).
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"structured": {"()": StructuredFormatter, "kind": kind}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "structured",
                "stream": "ext://sys.stderr",
            }
        },
        "root": {"handlers": ["stderr"], "level": level.upper()},
        "loggers": {
            name: {"handlers": [], "propagate": True, "level": level.upper()}
            for name in UVICORN_LOGGERS
        },
    }
