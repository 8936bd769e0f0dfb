"""A Grafana dashboard generated from the module catalog, with grafanalib.

One time-series panel per catalog module: actual demand (``nexus:requests_per_min``), the
service's forecast (``nexus_forecast_requests_per_min{quantile="0.5"}``) inside its 80 % band
(quantiles 0.1 and 0.9, filled between with Grafana's ``fillBelowTo``), and the capacity at
target utilisation (``nexus_capacity_requests_per_min``); a second, thin panel per module has the
replicas and the anomaly score. Decisions are annotations from ``nexus_decisions_total``, and
every panel links back to the service's own ``/dashboard`` for that module.
"""

from __future__ import annotations

import json
from typing import Any

from grafanalib import core as g
from grafanalib._gen import DashboardEncoder

from nexus_ml.catalog import Catalog, ModuleProfile

DATASOURCE = "${datasource}"
DEMAND = 'nexus:requests_per_min{{module="{m}"}}'
FORECAST = 'nexus_forecast_requests_per_min{{module="{m}",quantile="{q}"}}'
CAPACITY = 'nexus_capacity_requests_per_min{{module="{m}"}}'
REPLICAS = 'nexus_module_replicas{{module="{m}"}}'
ANOMALY = 'nexus_anomaly_score{{module="{m}"}}'
DECISIONS = (
    'sum by (module, action) (changes(nexus_decisions_total{action!="hold",module=~"$module"}[2m]))'
    " > 0"
)
_WIDTH = 24
_BAND_COLOUR = "#4fa3ff"


def _override(name: str, properties: dict[str, Any]) -> dict[str, Any]:
    return {
        "matcher": {"id": "byName", "options": name},
        "properties": [{"id": key, "value": value} for key, value in properties.items()],
    }


def _target(expr: str, legend: str, ref: str) -> g.Target:
    return g.Target(expr=expr, legendFormat=legend, refId=ref, datasource=DATASOURCE)


def _links(base_url: str, module: str) -> list[dict[str, Any]]:
    return [
        {
            "title": "nexus-ml: decisions and reasons",
            "url": f"{base_url}?module={module}&at=${{__to:date:iso}}",
            "targetBlank": True,
        }
    ]


def demand_panel(profile: ModuleProfile, base_url: str, y: int) -> g.TimeSeries:
    """Actual demand, forecast with its 80 % band, capacity at target utilisation."""
    m = profile.name
    return g.TimeSeries(
        title=f"{profile.display_name}: demand, forecast (80 % band), capacity",
        description=(
            f"Capacity at target utilisation = replicas × {profile.capacity_rpm_per_replica:g} "
            f"rpm × {profile.target_utilisation:g}"
        ),
        dataSource=DATASOURCE,
        targets=[
            _target(DEMAND.format(m=m), "actual", "A"),
            _target(FORECAST.format(m=m, q="0.5"), "forecast", "B"),
            _target(FORECAST.format(m=m, q="0.1"), "lo-80", "C"),
            _target(FORECAST.format(m=m, q="0.9"), "hi-80", "D"),
            _target(CAPACITY.format(m=m), "capacity at target", "E"),
        ],
        gridPos=g.GridPos(h=8, w=_WIDTH, x=0, y=y),
        unit="reqpm",
        lineWidth=1,
        fillOpacity=0,
        spanNulls=False,
        legendDisplayMode="list",
        tooltipMode="multi",
        links=_links(base_url, m),
        overrides=[
            _override("actual", {"color": {"mode": "fixed", "fixedColor": "#e6edf3"}}),
            _override("forecast", {"color": {"mode": "fixed", "fixedColor": _BAND_COLOUR}}),
            _override(
                "hi-80",
                {
                    "custom.fillBelowTo": "lo-80",
                    "custom.fillOpacity": 18,
                    "custom.lineWidth": 0,
                    "color": {"mode": "fixed", "fixedColor": _BAND_COLOUR},
                },
            ),
            _override(
                "lo-80",
                {"custom.lineWidth": 0, "color": {"mode": "fixed", "fixedColor": _BAND_COLOUR}},
            ),
            _override(
                "capacity at target",
                {
                    "custom.lineInterpolation": "stepAfter",
                    "custom.lineStyle": {"fill": "dash", "dash": [4, 4]},
                    "color": {"mode": "fixed", "fixedColor": "#f5b94a"},
                },
            ),
        ],
    )


def health_panel(profile: ModuleProfile, base_url: str, y: int) -> g.TimeSeries:
    """Replicas (left axis) and the anomaly score (right axis)."""
    m = profile.name
    return g.TimeSeries(
        title=f"{profile.display_name}: replicas and anomaly score",
        dataSource=DATASOURCE,
        targets=[
            _target(REPLICAS.format(m=m), "replicas", "A"),
            _target(ANOMALY.format(m=m), "anomaly score", "B"),
        ],
        gridPos=g.GridPos(h=4, w=_WIDTH, x=0, y=y),
        lineInterpolation="stepAfter",
        legendDisplayMode="list",
        links=_links(base_url, m),
        overrides=[
            _override(
                "anomaly score",
                {
                    "custom.axisPlacement": "right",
                    "custom.lineInterpolation": "linear",
                    "custom.fillOpacity": 20,
                    "min": 0,
                    "color": {"mode": "fixed", "fixedColor": "#ff5d5d"},
                },
            ),
        ],
    )


def decision_annotation() -> dict[str, Any]:
    """Every non-hold decision of the selected modules, as an annotation."""
    return {
        "name": "nexus-ml decisions",
        "datasource": {"type": "prometheus", "uid": DATASOURCE},
        "enable": True,
        "iconColor": "#f5b94a",
        "expr": DECISIONS,
        "step": "60s",
        "titleFormat": "{{action}}",
        "textFormat": "{{module}}: {{action}}",
        "tagKeys": "module,action",
        "useValueForTime": False,
    }


def grafana_dashboard(catalog: Catalog, dashboard_url: str) -> g.Dashboard:
    """The dashboard object for ``catalog``, linking back to ``dashboard_url``."""
    base = dashboard_url.rstrip("/")
    panels: list[Any] = []
    y = 0
    for profile in catalog.modules:
        panels.append(g.RowPanel(title=profile.display_name, gridPos=g.GridPos(1, _WIDTH, 0, y)))
        panels.append(demand_panel(profile, base, y + 1))
        panels.append(health_panel(profile, base, y + 9))
        y += 13
    names = ",".join(catalog.names)
    return g.Dashboard(
        title="nexus-ml: demand, forecast band, replicas and decisions",
        uid="nexus-ml-health",
        description="Generated by `nexus-ml dashboard grafana` from the module catalog.",
        tags=["nexus-ml", "generated"],
        timezone="browser",
        refresh="30s",
        time=g.Time("now-24h", "now"),
        graphTooltip=1,  # shared crosshair
        panels=panels,
        templating=g.Templating(
            [
                g.Template(
                    name="datasource",
                    label="Prometheus",
                    query="prometheus",
                    type="datasource",
                ),
                g.Template(
                    name="module",
                    label="Module",
                    query=names,
                    type="custom",
                    default=catalog.names[0],
                    multi=True,
                    includeAll=True,
                    allValue=".*",
                ),
            ]
        ),
        annotations=g.Annotations([decision_annotation()]),
        links=[
            g.DashboardLink(
                title="nexus-ml live dashboard",
                uri=base,
                type="link",
                icon="dashboard",
                targetBlank=True,
                keepTime=False,
            )
        ],
    ).auto_panel_ids()


# grafanalib still writes fields of Grafana's older dashboard format; the current schema has
# none of these (a row panel, in particular, carries only its own few fields)
_LEGACY_TOP = frozenset({"__inputs", "hideControls", "rows", "sharedCrosshair"})
_LEGACY_PANEL = frozenset({"editable", "error", "hideTimeOverride"})
_ROW_FIELDS = frozenset({"type", "collapsed", "title", "datasource", "gridPos", "id", "panels"})
_LEGACY_VARIABLE = frozenset({"useTags", "tagsQuery", "tagValuesQuery"})


def _current(value: Any, key: str = "") -> Any:
    """No nulls (Grafana reads a missing field as unset) and data sources as references."""
    if isinstance(value, dict):
        return {k: _current(v, k) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_current(v) for v in value]
    if key == "datasource" and isinstance(value, str):
        return {"type": "prometheus", "uid": value}
    return value


def _schema_shape(document: dict[str, Any]) -> dict[str, Any]:
    """grafanalib's output in the shape of Grafana's current dashboard schema."""
    document = {k: v for k, v in _current(document).items() if k not in _LEGACY_TOP}
    panels = []
    for panel in document.get("panels", []):
        keep = _ROW_FIELDS if panel.get("type") == "row" else panel.keys() - _LEGACY_PANEL
        panels.append({k: v for k, v in panel.items() if k in keep})
    document["panels"] = panels
    for variable in document.get("templating", {}).get("list", []):
        for legacy in _LEGACY_VARIABLE:
            variable.pop(legacy, None)
        if isinstance(variable.get("current"), dict):
            variable["current"].pop("tags", None)
    return document


def grafana_json(catalog: Catalog, dashboard_url: str) -> dict[str, Any]:
    """The dashboard as the JSON document Grafana imports."""
    text = json.dumps(grafana_dashboard(catalog, dashboard_url), cls=DashboardEncoder)
    return _schema_shape(json.loads(text))
