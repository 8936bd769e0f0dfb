"""The ``ModelStore`` seam: where trained per-module model bundles live (MLflow or a folder).

Two views of the same thing:

- :class:`ModelStore` is what the decision service needs: which version is ``champion`` (cheap,
  polled) and the champion bundle itself.
- :class:`RegistryStore` adds what the training pipeline needs: publish a new version with its
  metrics and promotion verdict, find a version trained on the same data (idempotent retraining),
  and read back any version with its tags.

Implementations: :class:`nexus_ml.models.registry.local_store.LocalModelStore` (a folder, the
embedded default) and :class:`nexus_ml.models.registry.mlflow_store.MlflowModelStore` (an
MLflow registry).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

#: The alias the service serves, and the alias of a version that lost the promotion gate.
CHAMPION = "champion"
CHALLENGER = "challenger"

#: Tags every published version carries (MLflow tags, or ``meta.json`` in a folder store).
TAG_MODULE = "nexus.module"
TAG_FINGERPRINT = "nexus.data_fingerprint"
TAG_PROMOTION = "nexus.promotion"  # "promoted" or "rejected"
TAG_REASON = "nexus.promotion_reason"


class Forecaster(Protocol):
    """What the service reads from a fitted forecaster (``SeasonalForecaster``): a long frame
    with ``ds``, ``mean`` and ``lo-L``/``hi-L`` columns, conditioned on ``context``."""

    def predict(
        self, horizon: int, *, levels: Sequence[int] = ..., context: pd.Series | None = ...
    ) -> pd.DataFrame: ...


class Detector(Protocol):
    """What the service reads from a fitted anomaly detector (``AnomalyDetector``): scores in
    [0, 1] per field and ``combined``, indexed like the frame; ``update`` continues online."""

    def score(self, frame: pd.DataFrame) -> pd.DataFrame: ...

    def update(self, frame_new: pd.DataFrame) -> pd.DataFrame: ...


class Scaler(Protocol):
    """The scaling strategy's risk model (``LeadTimeRisk``)."""

    lead_time: int

    def update(self, y_new: Iterable[float]) -> Any: ...

    def window_risk(self, thresholds: np.ndarray) -> np.ndarray: ...

    def ready_risk(self, thresholds: np.ndarray) -> np.ndarray: ...

    def predict_upper(self) -> float: ...


@dataclass(frozen=True)
class ModelBundle:
    """Everything the service needs to decide for one module.

    ``forecasters`` maps a metric field (at least ``requests_per_min`` and ``cpu_usage``) to a
    fitted Forecaster; ``detector`` is a fitted AnomalyDetector over the module's fields.
    ``scoring_forecasters`` are the same forecasters as they were before the backtest window
    was folded in: the promotion gate scores a champion with them, so that it never forecasts
    a window it has already seen. ``scaler`` is the scaling strategy's risk model
    (:class:`~nexus_ml.models.forecast.lead_time_risk.LeadTimeRisk`; None in older bundles).
    """

    module: str
    version: str
    forecasters: dict[str, Forecaster]
    detector: Detector | None
    metadata: dict[str, Any] = field(default_factory=dict)
    scoring_forecasters: dict[str, Forecaster] = field(default_factory=dict)
    scaler: Scaler | None = None


@dataclass(frozen=True)
class TrainedModule:
    """One module's freshly trained models and the record of how they were judged.

    ``params`` and ``metrics`` go to the tracking run; ``promoted`` and ``reason`` are the
    verdict of the promotion gate; ``plots`` are PNG files stored next to the model.
    """

    module: str
    forecasters: dict[str, Any]
    detector: Any
    fingerprint: str
    promoted: bool
    reason: str
    params: dict[str, Any] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    plots: tuple[Path, ...] = ()
    scoring_forecasters: dict[str, Any] = field(default_factory=dict)
    scaler: Any = None

    def payload(self) -> dict[str, Any]:
        """What goes into the joblib artefact."""
        return {
            "forecasters": self.forecasters,
            "detector": self.detector,
            "scoring_forecasters": self.scoring_forecasters,
            "scaler": self.scaler,
        }


def bundle_from_payload(
    module: str, version: str, payload: dict[str, Any], metadata: dict[str, Any]
) -> ModelBundle:
    return ModelBundle(
        module=module,
        version=version,
        forecasters=payload["forecasters"],
        detector=payload["detector"],
        metadata=metadata,
        scoring_forecasters=payload.get("scoring_forecasters", {}),
        scaler=payload.get("scaler"),
    )


class ModelStore(Protocol):
    def champion_version(self, module: str) -> str | None:
        """The version the ``champion`` alias points at, None when there is none."""
        ...

    def load_champion(self, module: str) -> ModelBundle | None: ...


class RegistryStore(ModelStore, Protocol):
    """A :class:`ModelStore` the training pipeline can write to."""

    def publish(self, trained: TrainedModule) -> str:
        """Store a new version; alias it ``champion`` when promoted, else ``challenger``."""
        ...

    def find_version(self, module: str, fingerprint: str) -> str | None:
        """The newest version trained on data with this fingerprint, None when there is none."""
        ...

    def load_version(self, module: str, version: str) -> ModelBundle: ...

    def version_tags(self, module: str, version: str) -> dict[str, str]:
        """The tags of a version (:data:`TAG_PROMOTION`, :data:`TAG_REASON`, ...)."""
        ...

    def alias_version(self, module: str, alias: str) -> str | None: ...


class ChampionByAlias:
    """The service side of a :class:`RegistryStore`, derived from its aliases and versions."""

    def alias_version(self, module: str, alias: str) -> str | None:
        raise NotImplementedError

    def load_version(self, module: str, version: str) -> ModelBundle:
        raise NotImplementedError

    def champion_version(self, module: str) -> str | None:
        return self.alias_version(module, CHAMPION)

    def load_champion(self, module: str) -> ModelBundle | None:
        version = self.champion_version(module)
        return None if version is None else self.load_version(module, version)
