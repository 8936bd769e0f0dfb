"""The ``ModelStore`` seam: where trained per-module model bundles live (MLflow or a folder)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Protocol


@dataclass(frozen=True)
class ModelBundle:
    """Everything the service needs to decide for one module.

    ``forecasters`` maps a metric field (at least ``requests_per_min`` and ``cpu_usage``) to a
    fitted Forecaster; ``detector`` is a fitted AnomalyDetector over the module's fields.
    """

    module: str
    version: str
    forecasters: dict[str, Any]
    detector: Any
    metadata: dict[str, Any] = field(default_factory=dict)


class ModelStore(Protocol):
    def champion_version(self, module: str) -> str | None:
        """The version the ``champion`` alias points at, None when there is none."""
        ...

    def load_champion(self, module: str) -> ModelBundle | None: ...
