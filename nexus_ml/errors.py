"""One error hierarchy, translated once at each boundary (CLI exit code, HTTP status, alert).

Every error carries structured attributes so that boundaries can render it without parsing
the message.
"""

from __future__ import annotations

from typing import Any


class NexusError(Exception):
    """Base class of every error nexus-ml raises on purpose."""

    exit_code: int = 1
    http_status: int = 500

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def __str__(self) -> str:
        return self.message


class ConfigError(NexusError):
    """A configuration file or value is invalid: the file, the field and the bad value."""

    exit_code = 2
    http_status = 400

    def __init__(self, message: str, *, source: str = "", field: str = "", value: Any = None):
        super().__init__(message, source=source, field=field, value=value)
        self.source = source
        self.field = field
        self.value = value


class InputError(NexusError):
    """User input (a file, a CLI argument, a request) is invalid."""

    exit_code = 2
    http_status = 422


class NotFoundError(NexusError):
    """A named thing (a module, a model, a migration) does not exist."""

    exit_code = 2
    http_status = 404


class IngestError(NexusError):
    """Metrics could not be read: unreachable source, bad query, or unusable data."""

    exit_code = 3
    http_status = 503


class DataQualityError(IngestError):
    """The data was read but is too incomplete to use for the requested purpose."""

    http_status = 422


class ModelError(NexusError):
    """A model could not be trained, loaded or used."""

    exit_code = 4
    http_status = 503


class ClusterError(NexusError):
    """The cluster backend (Docker Swarm) refused or failed an operation."""

    exit_code = 5
    http_status = 502


class MigrationError(NexusError):
    """A migration could not be planned or applied; the database is left unchanged."""

    exit_code = 6
    http_status = 409


class LockError(NexusError):
    """A lock (advisory lock, leader lock, file lock) could not be taken in time."""

    exit_code = 7
    http_status = 409
