from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from nexus_ml.catalog import BUNDLED_CATALOG, load_catalog
from nexus_ml.cli.main import app
from nexus_ml.errors import ConfigError, NotFoundError


def test_seed_values_are_in_the_bundled_catalog() -> None:
    cat = load_catalog()
    um = cat.get("nexus-user-management")
    assert (um.client_share, um.cpu_limit, um.memory_limit_gb, um.max_replicas, um.port) == (
        1.0,
        2.0,
        4.0,
        8,
        5003,
    )
    assert (um.scale_trigger.metric, um.scale_trigger.threshold, um.scale_trigger.duration_min) == (
        "cpu_usage",
        0.70,
        5,
    )
    ag = cat.get("agendamento")
    assert (ag.client_share, ag.cpu_limit, ag.memory_limit_gb, ag.max_replicas, ag.port) == (
        0.30,
        0.5,
        1.0,
        2,
        5008,
    )
    assert ag.scale_trigger.threshold == 0.80 and ag.scale_trigger.duration_min == 10
    assert set(ag.depends_on) == {"nexus-crm", "nexus-user-management"}
    crm = cat.get("crm")
    assert (crm.client_share, crm.cpu_limit, crm.memory_limit_gb, crm.max_replicas) == (
        0.80,
        1.0,
        2.0,
        4,
    )
    assert crm.scale_trigger.metric == "requests_per_min" and crm.scale_trigger.threshold == 100
    assert crm.depends_on == ("nexus-user-management",)


def test_dependency_order_puts_dependencies_first() -> None:
    order = load_catalog().dependency_order()
    assert order.index("nexus-user-management") < order.index("nexus-crm")
    assert order.index("nexus-crm") < order.index("nexus-agendamento")


def test_dependents_and_clamp() -> None:
    cat = load_catalog()
    assert set(cat.dependents_of("nexus-user-management")) == {"nexus-crm", "nexus-agendamento"}
    crm = cat.get("crm")
    assert crm.clamp(99) == crm.max_replicas and crm.clamp(-3) == crm.min_replicas


def test_unknown_module_names_the_known_ones() -> None:
    with pytest.raises(NotFoundError, match="nexus-crm"):
        load_catalog().get("nexus-finance")


def _broken_copy(tmp_path: Path, edit: object) -> Path:
    data = yaml.safe_load(BUNDLED_CATALOG.read_text())
    edit(data)  # type: ignore[operator]
    path = tmp_path / "modules.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def test_bad_field_error_names_file_field_and_value(tmp_path: Path) -> None:
    path = _broken_copy(tmp_path, lambda d: d["modules"][2].__setitem__("max_replicas", -4))
    with pytest.raises(ConfigError) as info:
        load_catalog(path)
    message = str(info.value)
    assert str(path) in message and "modules.2.max_replicas" in message and "-4" in message


def test_unknown_dependency_is_rejected(tmp_path: Path) -> None:
    path = _broken_copy(tmp_path, lambda d: d["modules"][1].__setitem__("depends_on", ["nexus-x"]))
    with pytest.raises(ConfigError, match=r"modules\.1\.depends_on: unknown module 'nexus-x'"):
        load_catalog(path)


def test_cli_modules_table_and_broken_file_exit_code(tmp_path: Path) -> None:
    runner = CliRunner()
    ok = runner.invoke(app, ["modules"])
    assert ok.exit_code == 0, ok.output
    for name in ("nexus-user-management", "nexus-agendamento", "nexus-crm"):
        assert name in ok.output

    path = _broken_copy(tmp_path, lambda d: d["modules"][0].__setitem__("port", "http"))
    bad = runner.invoke(app, ["modules", "--catalog", str(path)])
    assert bad.exit_code == 2
    lines = [ln for ln in bad.output.splitlines() if ln.strip()]
    assert len(lines) == 1 and "modules.0.port" in lines[0] and "'http'" in lines[0]
    assert "Traceback" not in bad.output


def test_not_yaml_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "broken.yaml"
    path.write_text("modules: [\n  - name: x\n  bad")
    with pytest.raises(ConfigError, match="not valid YAML"):
        load_catalog(path)
