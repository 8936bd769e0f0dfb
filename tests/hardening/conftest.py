"""Fixtures of the hardening tests: the service in-process, and under uvicorn on 127.0.0.1."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

from nexus_ml.catalog import Catalog, load_catalog
from service.core.config import ServiceSettings
from tests.service.conftest import make_app
from tests.service.fakes import TOKEN, MemoryStore, StaticSource, bundle, steady_frame


@pytest.fixture(scope="module")
def hard_catalog() -> Catalog:
    return load_catalog()


def build_app(tmp: Path, catalog: Catalog, **overrides: object) -> FastAPI:
    settings = ServiceSettings(
        api_token=TOKEN,
        state_dir=tmp,
        prometheus_url=None,
        mlflow_tracking_uri=None,
        decision_cache_s=1.0,
        **overrides,  # type: ignore[arg-type]
    )
    store = MemoryStore({m: bundle(m, "1", growth=1.05) for m in catalog.names})
    return make_app(settings, catalog, StaticSource(steady_frame(catalog)), store)


class LiveServer:
    """A uvicorn server in a thread, on a free loopback port; stopped by :meth:`stop`."""

    def __init__(self, app: FastAPI) -> None:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.port = sock.getsockname()[1]
        sock.close()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", timeout_keep_alive=30
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> LiveServer:
        self.thread.start()
        deadline = time.monotonic() + 15
        while not self.server.started:
            if time.monotonic() > deadline or not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


@pytest.fixture(scope="module")
def live_server(
    tmp_path_factory: pytest.TempPathFactory, hard_catalog: Catalog
) -> Iterator[LiveServer]:
    app = build_app(tmp_path_factory.mktemp("live"), hard_catalog, body_timeout_s=1.0)
    server = LiveServer(app).start()
    yield server
    server.stop()
