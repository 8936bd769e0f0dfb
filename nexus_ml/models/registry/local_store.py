"""A model store in a folder: the embedded default (no MLflow needed to run the demo).

Layout::

    <root>/<module>/<version>/bundle.joblib   the forecasters and detector
    <root>/<module>/<version>/meta.json       tags, params, metrics
    <root>/<module>/<version>/*.png           backtest plots
    <root>/<module>/aliases.json              {"champion": "3", "challenger": "4"}

Versions are increasing integers as strings, like MLflow's. Files are written to a temporary
name and renamed, so a reader polling ``aliases.json`` never sees half a file.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from pathlib import Path
from typing import Any

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

log = get_logger(__name__)

BUNDLE_FILE = "bundle.joblib"


class LocalModelStore(ChampionByAlias):
    """A :class:`~nexus_ml.models.registry.store.RegistryStore` over ``settings.models_dir``."""

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalModelStore({str(self.root)!r})"

    # -- the service side -------------------------------------------------------------------
    def alias_version(self, module: str, alias: str) -> str | None:
        return self._aliases(module).get(alias)

    # -- the training side ------------------------------------------------------------------
    def publish(self, trained: TrainedModule) -> str:
        folder = self.root / trained.module
        folder.mkdir(parents=True, exist_ok=True)
        versions = [int(p.name) for p in folder.iterdir() if p.is_dir() and p.name.isdigit()]
        version = str(max(versions, default=0) + 1)
        staging = Path(tempfile.mkdtemp(prefix=f".{version}-", dir=folder))
        tags = _tags(trained)
        joblib.dump(
            trained.payload(),
            staging / BUNDLE_FILE,
        )
        meta = {"tags": tags, "params": _jsonable(trained.params), "metrics": trained.metrics}
        (staging / "meta.json").write_text(json.dumps(meta, indent=2, sort_keys=True))
        for plot in trained.plots:
            shutil.copy2(plot, staging / plot.name)
        staging.rename(folder / version)
        aliases = self._aliases(trained.module)
        aliases[CHAMPION if trained.promoted else CHALLENGER] = version
        if trained.promoted:
            aliases.pop(CHALLENGER, None)  # the challenger lost to this newer champion
        self._write_aliases(trained.module, aliases)
        return version

    def find_version(self, module: str, fingerprint: str) -> str | None:
        folder = self.root / module
        if not folder.is_dir():
            return None
        versions = sorted((int(p.name) for p in folder.iterdir() if p.name.isdigit()), reverse=True)
        for v in versions:
            if self.version_tags(module, str(v)).get(TAG_FINGERPRINT) == fingerprint:
                return str(v)
        return None

    def load_version(self, module: str, version: str) -> ModelBundle:
        folder = self.root / module / version
        try:
            payload = load_bundle_file(folder / BUNDLE_FILE)
        except FileNotFoundError as exc:
            raise NotFoundError(
                f"no model version {version!r} for module {module!r} in {self.root}",
                module=module,
                version=version,
            ) from exc
        except Exception as exc:  # a corrupt or incompatible pickle
            raise ModelError(f"cannot load {folder / BUNDLE_FILE}: {exc}") from exc
        meta = self._meta(module, version)
        return bundle_from_payload(module, version, payload, meta)

    def version_tags(self, module: str, version: str) -> dict[str, str]:
        tags = self._meta(module, version).get("tags", {})
        return {str(k): str(v) for k, v in tags.items()}

    # -- files -----------------------------------------------------------------------------
    def _meta(self, module: str, version: str) -> dict[str, Any]:
        path = self.root / module / version / "meta.json"
        try:
            data: dict[str, Any] = json.loads(path.read_text())
        except FileNotFoundError:
            return {}
        return data

    def _aliases(self, module: str) -> dict[str, str]:
        path = self.root / module / "aliases.json"
        try:
            return {str(k): str(v) for k, v in json.loads(path.read_text()).items()}
        except FileNotFoundError:
            return {}

    def _write_aliases(self, module: str, aliases: dict[str, str]) -> None:
        path = self.root / module / "aliases.json"
        tmp = path.with_suffix(".json.tmp")
        tmp.write_text(json.dumps(aliases, sort_keys=True))
        os.replace(tmp, path)


def _tags(trained: TrainedModule) -> dict[str, str]:
    return {
        TAG_MODULE: trained.module,
        TAG_FINGERPRINT: trained.fingerprint,
        TAG_PROMOTION: "promoted" if trained.promoted else "rejected",
        TAG_REASON: trained.reason,
    }


def _jsonable(params: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v if isinstance(v, int | float | str | bool) or v is None else str(v)
        for k, v in params.items()
    }
