"""Shared fixtures: the real services started by scripts/services.sh, found through env vars.

Outside CI a test whose service is not running is skipped with the reason. Under ``make test``
(``NEXUS_REQUIRE_SERVICES=1``) or ``CI=true`` it fails instead: CI never skips a service the
suite should have started.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from hypothesis import settings as hypothesis_settings

from apps.stack.data import data_dir, data_file

ROOT = Path(__file__).resolve().parents[1]
# The CLI's rich tables size themselves to the terminal, and 80 columns when there is none (a
# pytest-xdist worker, a pipe): one width for every runner, so a table test never depends on
# where it runs.
os.environ["COLUMNS"] = "160"


def services_required() -> bool:
    return (
        os.environ.get("CI", "").lower() == "true"
        or os.environ.get("NEXUS_REQUIRE_SERVICES") == "1"
    )


# The gate (`make test`, CI) draws the same property-test examples on every run of a commit
# (Hypothesis' derandomize: each test's examples are seeded from its own code), so a red run
# always means the commit, never the draw. A plain `pytest` run draws new examples each time
# and keeps exploring; what it finds becomes a fixed example in the test.
hypothesis_settings.register_profile("gate", derandomize=True)
if services_required():
    hypothesis_settings.load_profile("gate")


def require_env(name: str, what: str) -> str:
    """The value of ``name``, or skip (locally) / fail (CI) with a clear reason."""
    value = os.environ.get(name)
    if value:
        return value
    message = f"{what} not available: {name} is not set (run `make test` or scripts/services.sh up)"
    if services_required():
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="session")
def pg_dsn() -> str:
    return require_env("NEXUS_PG_DSN", "PostgreSQL")


@pytest.fixture(scope="session")
def prometheus_url() -> str:
    return require_env("NEXUS_PROMETHEUS_URL", "Prometheus")


@pytest.fixture(scope="session")
def prometheus_targets_dir() -> Path:
    return Path(require_env("NEXUS_TEST_PROM_TARGETS_DIR", "Prometheus file_sd targets"))


@pytest.fixture(scope="session")
def alertmanager_url() -> str:
    return require_env("NEXUS_TEST_ALERTMANAGER_URL", "Alertmanager")


@pytest.fixture(scope="session")
def docker_host() -> str:
    return require_env("DOCKER_HOST", "Docker Engine (Swarm)")


@pytest.fixture(scope="session")
def mlflow_uri() -> str:
    return require_env("NEXUS_TEST_MLFLOW_URI", "MLflow server")


class SharedData:
    """The real data sets outside the repository, served file by file.

    ``shared_data.file("traces/crane/input0.csv")`` is the path of that file under
    ``$NEXUS_DATA_DIR`` (default ``../shared/data`` beside the repository; see
    :mod:`apps.stack.data`). A file that is not there fails the test with its name and the
    folder searched; ``served`` lists what the session read.
    """

    def __init__(self) -> None:
        self.root = data_dir()
        self.served: list[str] = []

    def file(self, relative: str) -> Path:
        try:
            path = data_file(relative)
        except FileNotFoundError as exc:
            pytest.fail(f"{exc.strerror}; or leave these tests out with -m 'not shared_data'")
        if relative not in self.served:
            self.served.append(relative)
        return path


@pytest.fixture(scope="session")
def shared_data() -> SharedData:
    """The one way tests reach the real data (tests using it are marked ``shared_data``)."""
    return SharedData()
