"""The catalog's capacity matches the seed: a normal load that cannot fit is rejected."""

from __future__ import annotations

import copy
from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from nexus_ml.catalog import BUNDLED_CATALOG, load_catalog
from nexus_ml.cli.main import app
from nexus_ml.errors import ConfigError


def test_crm_normal_load_fits_its_maximum_replicas() -> None:
    crm = load_catalog().get("crm")
    assert crm.normal_rpm == 200
    at_target = crm.max_replicas * crm.capacity_rpm_per_replica * crm.target_utilisation
    assert at_target >= crm.normal_rpm


def _catalog_with(tmp_path: Path, **crm: object) -> Path:
    data = yaml.safe_load(BUNDLED_CATALOG.read_text())
    data["modules"][2].update(crm)
    path = tmp_path / "modules.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_the_old_capacity_is_rejected_with_the_numbers(tmp_path: Path) -> None:
    path = _catalog_with(tmp_path, capacity_rpm_per_replica=60)
    with pytest.raises(ConfigError) as info:
        load_catalog(path)
    message = str(info.value)
    assert str(path) in message and "modules.2.normal_rpm" in message
    assert "normal load of 200 requests/min does not fit max_replicas 4" in message
    assert "= 168 requests/min" in message and "at least 71.43" in message


def test_exactly_full_is_accepted_and_no_normal_load_means_no_check(tmp_path: Path) -> None:
    # 4 x 100 x 0.5 = 200: fits exactly
    load_catalog(_catalog_with(tmp_path, capacity_rpm_per_replica=100, target_utilisation=0.5))
    data = yaml.safe_load(BUNDLED_CATALOG.read_text())
    data["modules"][2].pop("normal_rpm")
    data["modules"][2]["capacity_rpm_per_replica"] = 1
    path = tmp_path / "nonormal.yaml"
    path.write_text(yaml.safe_dump(data))
    assert load_catalog(path).get("crm").normal_rpm is None


def test_duplicate_short_names_are_rejected(tmp_path: Path) -> None:
    data = yaml.safe_load(BUNDLED_CATALOG.read_text())
    clone = dict(copy.deepcopy(data["modules"][2]), name="crm", schema="crm2", depends_on=[])
    data["modules"].append(clone)
    path = tmp_path / "dup.yaml"
    path.write_text(yaml.safe_dump(data))
    with pytest.raises(ConfigError, match="share the short name 'crm'"):
        load_catalog(path)


def test_cli_exits_2_on_a_catalog_that_cannot_carry_its_normal_load(tmp_path: Path) -> None:
    path = _catalog_with(tmp_path, capacity_rpm_per_replica=60)
    for argv in (["modules", "--catalog", str(path)], ["stack", "render", "--catalog", str(path)]):
        result = CliRunner().invoke(app, argv)
        assert result.exit_code == 2 and "normal_rpm" in result.output, result.output
