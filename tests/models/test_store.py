"""One contract over both model stores: a folder and a real MLflow server."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from nexus_ml.errors import NotFoundError
from nexus_ml.models.registry.local_store import LocalModelStore
from nexus_ml.models.registry.store import (
    CHALLENGER,
    CHAMPION,
    TAG_FINGERPRINT,
    TAG_PROMOTION,
    TAG_REASON,
    RegistryStore,
    TrainedModule,
)

MODULE = "nexus-crm"


@pytest.fixture(params=["local", pytest.param("mlflow", marks=pytest.mark.integration)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[RegistryStore]:
    if request.param == "local":
        yield LocalModelStore(tmp_path / "models")
        return
    from nexus_ml.models.registry.mlflow_store import MlflowModelStore

    uri = request.getfixturevalue("mlflow_uri")
    unique = uuid.uuid4().hex[:8]
    store = MlflowModelStore(uri, experiment=f"test-store-{unique}", model_prefix=f"test-{unique}-")
    yield store
    from mlflow import MlflowClient

    client = MlflowClient(uri, registry_uri=uri)
    for model in client.search_registered_models(f"name LIKE 'test-{unique}-%'"):
        client.delete_registered_model(model.name)


def trained(
    fp: str, *, promoted: bool, weight: float, plots: tuple[Path, ...] = ()
) -> TrainedModule:
    return TrainedModule(
        module=MODULE,
        forecasters={"requests_per_min": {"w": weight}, "cpu_usage": {"w": -weight}},
        detector={"kind": "detector", "w": weight},
        fingerprint=fp,
        promoted=promoted,
        reason="no champion yet" if promoted else "MASE 1.0 does not beat champion 0.9",
        params={"days": 28, "fields": "requests_per_min,cpu_usage"},
        metrics={"mase": weight, "coverage": 0.8},
        plots=plots,
        scoring_forecasters={"requests_per_min": {"w": weight, "as_fitted": True}},
    )


def test_empty_store_has_no_champion(store: RegistryStore) -> None:
    assert store.champion_version(MODULE) is None
    assert store.load_champion(MODULE) is None
    assert store.find_version(MODULE, "f" * 64) is None


def test_publish_aliases_and_round_trip(store: RegistryStore, tmp_path: Path) -> None:
    plot = tmp_path / "nexus-crm-backtest.png"
    plot.write_bytes(b"\x89PNG fake")
    v1 = store.publish(trained("a" * 64, promoted=True, weight=1.0, plots=(plot,)))
    assert store.champion_version(MODULE) == v1

    v2 = store.publish(trained("b" * 64, promoted=False, weight=2.0))
    assert v2 != v1
    assert store.champion_version(MODULE) == v1  # a rejected model never displaces the champion
    assert store.alias_version(MODULE, CHALLENGER) == v2
    tags = store.version_tags(MODULE, v2)
    assert tags[TAG_PROMOTION] == "rejected"
    assert tags[TAG_REASON].startswith("MASE 1.0 does not beat")

    champion = store.load_champion(MODULE)
    assert champion is not None and champion.version == v1
    assert champion.forecasters == {"requests_per_min": {"w": 1.0}, "cpu_usage": {"w": -1.0}}
    assert champion.detector == {"kind": "detector", "w": 1.0}
    assert champion.scoring_forecasters["requests_per_min"]["as_fitted"] is True
    assert store.load_version(MODULE, v2).forecasters["cpu_usage"] == {"w": -2.0}

    assert store.find_version(MODULE, "b" * 64) == v2
    assert store.version_tags(MODULE, v1)[TAG_FINGERPRINT] == "a" * 64

    v3 = store.publish(trained("c" * 64, promoted=True, weight=3.0))
    assert store.champion_version(MODULE) == v3
    assert store.alias_version(MODULE, CHALLENGER) is None  # the old challenger lost to v3


def test_unknown_version_is_not_found(store: RegistryStore) -> None:
    store.publish(trained("a" * 64, promoted=True, weight=1.0))
    with pytest.raises(NotFoundError, match="'99'"):
        store.load_version(MODULE, "99")


def test_local_store_writes_plots_and_metadata(tmp_path: Path) -> None:
    plot = tmp_path / "p.png"
    plot.write_bytes(b"png")
    store = LocalModelStore(tmp_path / "models")
    version = store.publish(trained("a" * 64, promoted=True, weight=1.0, plots=(plot,)))
    folder = tmp_path / "models" / MODULE / version
    assert (folder / "p.png").read_bytes() == b"png"
    bundle = store.load_version(MODULE, version)
    assert bundle.metadata["metrics"]["mase"] == 1.0
    assert bundle.metadata["params"]["days"] == 28
    assert not list((tmp_path / "models" / MODULE).glob(".*"))  # no staging folder left


@pytest.mark.integration
def test_mlflow_run_holds_metrics_params_plots_and_bundle(mlflow_uri: str, tmp_path: Path) -> None:
    from mlflow import MlflowClient

    from nexus_ml.models.registry.mlflow_store import MlflowModelStore

    unique = uuid.uuid4().hex[:8]
    store = MlflowModelStore(
        mlflow_uri, experiment=f"test-run-{unique}", model_prefix=f"test-{unique}-"
    )
    plot = tmp_path / "nexus-crm-backtest.png"
    plot.write_bytes(b"\x89PNG fake")
    version = store.publish(trained("a" * 64, promoted=True, weight=0.7, plots=(plot,)))
    client = MlflowClient(mlflow_uri, registry_uri=mlflow_uri)
    try:
        mv = client.get_model_version(f"test-{unique}-{MODULE}", version)
        run = client.get_run(mv.run_id)
        assert run.data.metrics["mase"] == pytest.approx(0.7)
        assert run.data.params["days"] == "28"
        assert run.data.tags[TAG_PROMOTION] == "promoted"
        assert run.info.status == "FINISHED"
        artefacts = {a.path for a in client.list_artifacts(mv.run_id)}
        assert artefacts == {"bundle", "plots"}
        assert [a.path for a in client.list_artifacts(mv.run_id, "plots")] == [
            "plots/nexus-crm-backtest.png"
        ]
        assert (
            client.get_model_version_by_alias(f"test-{unique}-{MODULE}", CHAMPION).version
            == version
        )
    finally:
        client.delete_registered_model(f"test-{unique}-{MODULE}")
