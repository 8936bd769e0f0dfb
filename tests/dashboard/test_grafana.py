"""``nexus-ml dashboard grafana``: generated from the catalog, checked against Grafana's schema.

No package ships Grafana's dashboard JSON schema as a JSON Schema file; Grafana publishes it as
CUE and generates its Foundation SDK's typed models from it. The check parses our JSON with
those models and writes it back: a field our JSON has and Grafana's schema does not is lost on
the way, and a value of the wrong shape fails to parse.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from nexus_ml.catalog import load_catalog
from nexus_ml.cli.main import app
from nexus_ml.dashboard.grafana import grafana_json

URL = "http://127.0.0.1:8000/dashboard"
# Prometheus' own annotation options: Grafana's AnnotationQuery leaves room for each data
# source's fields, which the typed models do not spell out
PROMETHEUS_ANNOTATION_FIELDS = {"step", "tagKeys", "textFormat", "titleFormat", "useValueForTime"}


def _lost(ours: Any, back: Any, path: str = "") -> list[str]:
    if isinstance(ours, dict):
        lost = []
        for key, value in ours.items():
            if key not in back:
                lost.append(f"{path}.{key}")
            else:
                lost += _lost(value, back[key], f"{path}.{key}")
        return lost
    if isinstance(ours, list):
        assert isinstance(back, list) and len(back) == len(ours), path
        return [x for i, v in enumerate(ours) for x in _lost(v, back[i], f"{path}[{i}]")]
    return [] if ours == back else [f"{path}: {ours!r} became {back!r}"]


def test_the_dashboard_fits_grafanas_schema() -> None:
    from grafana_foundation_sdk.cog.encoder import JSONEncoder
    from grafana_foundation_sdk.models.dashboard import Dashboard

    document = grafana_json(load_catalog(), URL)
    back = json.loads(json.dumps(Dashboard.from_json(document), cls=JSONEncoder))
    lost = {re.sub(r"\[\d+\]", "[]", x) for x in _lost(document, back)}
    assert lost == {f".annotations.list[].{k}" for k in PROMETHEUS_ANNOTATION_FIELDS}


def test_one_band_panel_and_one_health_panel_per_catalog_module(tmp_path: Path) -> None:
    out = tmp_path / "nexus.json"
    result = CliRunner().invoke(app, ["dashboard", "grafana", "--out", str(out)])
    assert result.exit_code == 0, result.output
    document = json.loads(out.read_text(encoding="utf-8"))
    catalog = load_catalog()
    timeseries = [p for p in document["panels"] if p["type"] == "timeseries"]
    assert len(timeseries) == 2 * len(catalog.names)
    for profile in catalog:
        band = next(p for p in timeseries if p["title"].startswith(profile.display_name + ":"))
        exprs = {t["legendFormat"]: t["expr"] for t in band["targets"]}
        assert exprs["actual"] == f'nexus:requests_per_min{{module="{profile.name}"}}'
        for legend, q in (("lo-80", "0.1"), ("forecast", "0.5"), ("hi-80", "0.9")):
            assert exprs[legend] == (
                f'nexus_forecast_requests_per_min{{module="{profile.name}",quantile="{q}"}}'
            )
        fill = {
            o["matcher"]["options"]: {p["id"]: p["value"] for p in o["properties"]}
            for o in band["fieldConfig"]["overrides"]
        }
        assert fill["hi-80"]["custom.fillBelowTo"] == "lo-80"
        assert band["links"][0]["url"].startswith(f"{URL}?module={profile.name}&at=")
    annotation = document["annotations"]["list"][0]
    assert "nexus_decisions_total" in annotation["expr"] and 'action!="hold"' in annotation["expr"]
    assert document["links"][0]["url"] == URL
    modules = next(v for v in document["templating"]["list"] if v["name"] == "module")
    assert modules["query"] == ",".join(catalog.names)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--dashboard-url", "not a url"], "--dashboard-url must be an http(s) URL"),
        (["--catalog", "/nonexistent/modules.yaml"], "/nonexistent/modules.yaml"),
    ],
)
def test_bad_input_exits_2_with_the_value(tmp_path: Path, args: list[str], message: str) -> None:
    out = tmp_path / "x.json"
    result = CliRunner().invoke(app, ["dashboard", "grafana", "--out", str(out), *args])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output
    assert not out.exists()
