"""The one place a model store is chosen from the settings: MLflow or the local folder."""

from __future__ import annotations

from typing import Literal

from nexus_ml.errors import InputError
from nexus_ml.models.registry.store import RegistryStore
from nexus_ml.settings import Settings

StoreKind = Literal["auto", "mlflow", "local"]


def model_store(
    settings: Settings, kind: str = "auto", *, experiment: str | None = None
) -> RegistryStore:
    """The store ``kind`` names, built from ``settings``.

    Parameters
    ----------
    settings
        ``models_dir`` for the local store; ``effective_mlflow_uri`` (the configured tracking
        URI, else a sqlite file under ``state_dir``), ``mlflow_experiment`` and
        ``mlflow_model_prefix`` for MLflow.
    kind
        ``"auto"`` (MLflow when ``mlflow_tracking_uri`` is set, else local), ``"mlflow"`` or
        ``"local"``.
    experiment
        The MLflow experiment of training runs; ``settings.mlflow_experiment`` when ``None``.

    Raises
    ------
    InputError
        ``kind`` is none of the three.
    ImportError
        MLflow is not installed.
    """
    if kind == "auto":
        kind = "mlflow" if settings.mlflow_tracking_uri else "local"
    if kind == "local":
        from nexus_ml.models.registry.local_store import LocalModelStore

        return LocalModelStore(settings.models_dir)
    if kind == "mlflow":
        from nexus_ml.models.registry.mlflow_store import MlflowModelStore

        if not settings.mlflow_tracking_uri:
            settings.state_dir.mkdir(parents=True, exist_ok=True)  # the embedded sqlite's home
        return MlflowModelStore(
            settings.effective_mlflow_uri,
            experiment=experiment or settings.mlflow_experiment,
            model_prefix=settings.mlflow_model_prefix,
        )
    raise InputError(f"--store must be mlflow or local, got {kind!r}")
