"""A model store in an MLflow tracking server and registry.

One run per trained module (params, backtest metrics, plots, the joblib bundle under
``bundle/``), one registered model per module (``<prefix><module>``, e.g. ``nexus-crm``), and
the aliases ``champion`` / ``challenger`` set by the promotion gate. The bundle is a plain
joblib artefact rather than an MLflow flavour: loading it needs nothing but joblib and our own
classes, and tree models need no ``skops`` trust list.

``mlflow`` is imported inside the methods: it costs ~2 s and the CLI's ``--help`` must stay
fast.
"""

from __future__ import annotations

import math
import tempfile
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import joblib

from nexus_ml.errors import ModelError, NotFoundError
from nexus_ml.logs import get_logger
from nexus_ml.models.registry.pickle_compat import load_bundle_file
from nexus_ml.models.registry.store import (
    CHALLENGER,
    CHAMPION,
    TAG_FINGERPRINT,
    TAG_MODULE,
    TAG_PROMOTION,
    TAG_REASON,
    ChampionByAlias,
    ModelBundle,
    TrainedModule,
    bundle_from_payload,
)

if TYPE_CHECKING:
    from mlflow import MlflowClient

log = get_logger(__name__)

BUNDLE_DIR = "bundle"
BUNDLE_FILE = "bundle.joblib"
DEFAULT_EXPERIMENT = "nexus-ml"


class MlflowModelStore(ChampionByAlias):
    """A :class:`~nexus_ml.models.registry.store.RegistryStore` over MLflow.

    Parameters
    ----------
    tracking_uri
        ``http://host:port`` of a server, or ``sqlite:///path/mlflow.db`` (embedded). The same
        URI serves as registry URI.
    experiment
        The experiment that holds the training runs.
    model_prefix
        Prepended to the module name to form the registered model name (tests use a unique
        prefix so that they never touch real models).
    """

    def __init__(
        self,
        tracking_uri: str,
        *,
        experiment: str = DEFAULT_EXPERIMENT,
        model_prefix: str = "",
    ) -> None:
        self.tracking_uri = tracking_uri
        self.experiment = experiment
        self.model_prefix = model_prefix
        self._client_: MlflowClient | None = None

    def __repr__(self) -> str:
        return f"MlflowModelStore({self.tracking_uri!r}, experiment={self.experiment!r})"

    def model_name(self, module: str) -> str:
        return f"{self.model_prefix}{module}"

    # -- the service side -------------------------------------------------------------------
    def alias_version(self, module: str, alias: str) -> str | None:
        from mlflow.exceptions import MlflowException

        try:
            mv = self._client().get_model_version_by_alias(self.model_name(module), alias)
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST" or "not found" in str(exc).lower():
                return None
            raise ModelError(f"MLflow at {self.tracking_uri}: {exc.message}") from exc
        return str(mv.version)

    # -- the training side ------------------------------------------------------------------
    def publish(self, trained: TrainedModule) -> str:
        from mlflow.entities import Metric, Param, RunStatus

        client = self._client()
        tags = _tags(trained)
        run = client.create_run(
            self._experiment_id(), run_name=f"{trained.module}-{trained.fingerprint[:8]}", tags=tags
        )
        run_id = run.info.run_id
        try:
            now = int(time.time() * 1000)
            client.log_batch(
                run_id,
                metrics=[
                    Metric(k, float(v), now, 0)
                    for k, v in trained.metrics.items()
                    if math.isfinite(v)
                ],
                params=[Param(k, str(v)[:6000]) for k, v in trained.params.items()],
            )
            with tempfile.TemporaryDirectory(prefix="nexus-bundle-") as tmp:
                folder = Path(tmp) / BUNDLE_DIR
                folder.mkdir()
                joblib.dump(
                    trained.payload(),
                    folder / BUNDLE_FILE,
                )
                client.log_artifacts(run_id, str(folder), BUNDLE_DIR)
            for plot in trained.plots:
                client.log_artifact(run_id, str(plot), "plots")
        except Exception:
            client.set_terminated(run_id, RunStatus.to_string(RunStatus.FAILED))
            raise
        client.set_terminated(run_id)
        name = self._ensure_registered_model(trained.module)
        mv = client.create_model_version(
            name, f"runs:/{run_id}/{BUNDLE_DIR}", run_id=run_id, tags=tags
        )
        version = str(mv.version)
        if trained.promoted:
            client.set_registered_model_alias(name, CHAMPION, version)
            if self.alias_version(trained.module, CHALLENGER) is not None:
                client.delete_registered_model_alias(name, CHALLENGER)
        else:
            client.set_registered_model_alias(name, CHALLENGER, version)
        return version

    def find_version(self, module: str, fingerprint: str) -> str | None:
        name = self.model_name(module).replace("'", "\\'")
        found = self._client().search_model_versions(
            f"name = '{name}' and tags.`{TAG_FINGERPRINT}` = '{fingerprint}'"
        )
        versions = sorted((int(mv.version) for mv in found), reverse=True)
        return str(versions[0]) if versions else None

    def load_version(self, module: str, version: str) -> ModelBundle:
        from mlflow.exceptions import MlflowException

        client = self._client()
        name = self.model_name(module)
        try:
            mv = client.get_model_version(name, version)
            with tempfile.TemporaryDirectory(prefix="nexus-load-") as tmp:
                local = client.download_artifacts(str(mv.run_id), BUNDLE_DIR, tmp)
                payload = load_bundle_file(Path(local) / BUNDLE_FILE)
        except MlflowException as exc:
            if exc.error_code == "RESOURCE_DOES_NOT_EXIST":
                raise NotFoundError(
                    f"no version {version!r} of model {name!r} at {self.tracking_uri}",
                    module=module,
                    version=version,
                ) from exc
            raise ModelError(f"MLflow at {self.tracking_uri}: {exc.message}") from exc
        metadata: dict[str, Any] = {"tags": dict(mv.tags), "run_id": mv.run_id}
        return bundle_from_payload(module, version, payload, metadata)

    def version_tags(self, module: str, version: str) -> dict[str, str]:
        mv = self._client().get_model_version(self.model_name(module), version)
        return {str(k): str(v) for k, v in mv.tags.items()}

    # -- plumbing --------------------------------------------------------------------------
    def _client(self) -> MlflowClient:
        if self._client_ is None:
            from mlflow import MlflowClient

            self._client_ = MlflowClient(
                tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri
            )
        return self._client_

    def _experiment_id(self) -> str:
        client = self._client()
        found = client.get_experiment_by_name(self.experiment)
        if found is not None:
            return str(found.experiment_id)
        return str(
            client.create_experiment(self.experiment, artifact_location=self._artifact_root())
        )

    def _artifact_root(self) -> str | None:
        # An embedded sqlite store would otherwise put artefacts under the current directory.
        if self.tracking_uri.startswith("sqlite:///"):
            db = Path(self.tracking_uri.removeprefix("sqlite:///"))
            return (db.parent / "mlartifacts").resolve().as_uri()
        return None

    def _ensure_registered_model(self, module: str) -> str:
        from mlflow.exceptions import MlflowException

        name = self.model_name(module)
        try:
            self._client().create_registered_model(name, tags={TAG_MODULE: module})
        except MlflowException as exc:
            if exc.error_code != "RESOURCE_ALREADY_EXISTS":
                raise
        return name


def _tags(trained: TrainedModule) -> dict[str, str]:
    return {
        TAG_MODULE: trained.module,
        TAG_FINGERPRINT: trained.fingerprint,
        TAG_PROMOTION: "promoted" if trained.promoted else "rejected",
        TAG_REASON: trained.reason[:5000],
    }
