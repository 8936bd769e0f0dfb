from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from nexus_ml.catalog import Catalog, load_catalog
from nexus_ml.ingest.frame_source import FrameSource
from service.app import create_app
from service.core.config import ServiceSettings
from tests.service.fakes import NOW, TOKEN, MemoryStore, bundle, steady_frame


@pytest.fixture(scope="session")
def catalog() -> Catalog:
    return load_catalog()


@pytest.fixture(scope="session")
def frame_source(catalog: Catalog) -> FrameSource:
    return FrameSource(steady_frame(catalog))


@pytest.fixture
def settings(tmp_path: Path) -> ServiceSettings:
    return ServiceSettings(
        api_token=TOKEN,
        state_dir=tmp_path,
        prometheus_url=None,
        mlflow_tracking_uri=None,
        decision_cache_s=5.0,
    )


@pytest.fixture
def store(catalog: Catalog) -> MemoryStore:
    return MemoryStore({m: bundle(m, "1") for m in catalog.names})


def make_app(settings: ServiceSettings, catalog: Catalog, source: object, store: object) -> FastAPI:
    return create_app(
        settings,
        catalog=catalog,
        metric_source=source,
        model_store=store,  # type: ignore[arg-type]
        clock=lambda: NOW,
        poll_models=False,
    )


@pytest.fixture
def client(
    settings: ServiceSettings, catalog: Catalog, frame_source: FrameSource, store: MemoryStore
) -> Iterator[TestClient]:
    with TestClient(make_app(settings, catalog, frame_source, store)) as c:
        yield c


@pytest.fixture
def rules_client(
    settings: ServiceSettings, catalog: Catalog, frame_source: FrameSource
) -> Iterator[TestClient]:
    with TestClient(make_app(settings, catalog, frame_source, MemoryStore())) as c:
        yield c
