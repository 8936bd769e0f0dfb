"""Every nginx output passes ``nginx -t`` with the real nginx (Debian's 1.22)."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from nexus_ml.catalog import Catalog, load_catalog
from nexus_ml.deploy import DeployOptions, render_nginx
from tests.deploy.conftest import nginx_check
from tests.deploy.strategies import catalogs


@pytest.mark.parametrize("network", ["overlay", "host"])
def test_bundled_catalog_config_passes_nginx_t(
    nginx_binary: str, tmp_path: Path, network: str
) -> None:
    options = DeployOptions(network=network, nginx_listen="127.0.0.1:18080")
    proc = nginx_check(nginx_binary, render_nginx(load_catalog(), options), tmp_path)
    assert proc.returncode == 0, proc.stderr


def test_nginx_t_catches_a_broken_config(nginx_binary: str, tmp_path: Path) -> None:
    # the check is real: a location rendered twice is an error nginx reports
    text = render_nginx(load_catalog())
    broken = text.replace("location /crm/ {", "location /crm/ {}\n        location /crm/ {")
    proc = nginx_check(nginx_binary, broken, tmp_path)
    assert proc.returncode != 0 and "duplicate location" in proc.stderr


# nginx -t costs ~30 ms of a process start each: a smaller sample of random catalogs than the
# pure property tests, over the same strategy.
@settings(
    max_examples=40,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)
@given(
    catalog=catalogs(),
    network=st.sampled_from(["overlay", "host"]),
    resolver=st.sampled_from(["127.0.0.11", "127.0.0.1:5353", "10.0.0.2"]),
)
def test_random_catalog_configs_pass_nginx_t(
    nginx_binary: str, tmp_path: Path, catalog: Catalog, network: str, resolver: str
) -> None:
    options = DeployOptions(network=network, resolver=resolver, nginx_listen="127.0.0.1:18080")
    proc = nginx_check(nginx_binary, render_nginx(catalog, options), tmp_path / "n")
    assert proc.returncode == 0, proc.stderr
