"""The sampler: minutes from the engine, the champion's 80 % band, audit outcomes, metrics.

The champion is a real :class:`SeasonalForecaster` fitted on three simulated days of the CRM;
the service reads the fourth day through a frame source, as it would read Prometheus.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from fastapi.testclient import TestClient

from nexus_ml.catalog import Catalog, load_catalog
from nexus_ml.crisis.collect import IncidentManifest
from nexus_ml.dashboard.grafana import grafana_json
from nexus_ml.domain import Action, Decision
from nexus_ml.domain.crisis import ErrorType
from nexus_ml.execute.audit import AuditEntry, JsonlAudit
from nexus_ml.ingest.frame_source import FrameSource
from nexus_ml.models.forecast.seasonal import SeasonalForecaster
from nexus_ml.models.registry.store import ModelBundle
from nexus_ml.sim.history import simulate_history
from service.api.routes.dashboard import DashboardContext
from service.app import create_app
from service.core.config import ServiceSettings
from service.core.history import DashboardHistory
from service.dashboard.sampler import DashboardSampler, open_incidents

START = datetime(2026, 11, 23, tzinfo=UTC)
NOW = START + timedelta(days=3, hours=14)  # a Thursday afternoon, São Paulo business hours
MODULE = "nexus-crm"
TOKEN = "dashboard-sampler-token-0123456789"


@dataclass
class OneChampion:
    """A model store holding one champion (the service's ModelStore protocol)."""

    bundles: dict[str, ModelBundle] = field(default_factory=dict)

    def champion_version(self, module: str) -> str | None:
        found = self.bundles.get(module)
        return found.version if found else None

    def load_champion(self, module: str) -> ModelBundle | None:
        return self.bundles.get(module)


@pytest.fixture(scope="module")
def history_frame() -> pd.DataFrame:
    return simulate_history(load_catalog(), start=START, days=4, seed=5)


@pytest.fixture(scope="module")
def champion(history_frame: pd.DataFrame) -> ModelBundle:
    rows = history_frame[history_frame["module"] == MODULE].set_index("timestamp").sort_index()
    train = rows.loc[: START + timedelta(days=3) - timedelta(minutes=1), "requests_per_min"]
    model = SeasonalForecaster().fit(train)
    return ModelBundle(MODULE, "7", {"requests_per_min": model}, None)


def _setup(
    tmp_path: Path, frame: pd.DataFrame, champion: ModelBundle, clock: list[datetime]
) -> tuple[TestClient, DashboardSampler, DashboardHistory, JsonlAudit]:
    catalog: Catalog = load_catalog()
    settings = ServiceSettings(
        api_token=TOKEN,
        state_dir=tmp_path,
        prometheus_url=None,
        mlflow_tracking_uri=None,
        pg_dsn=None,
        metrics_path=None,
        decision_cache_s=0,
    )
    app = create_app(
        settings,
        catalog=catalog,
        metric_source=FrameSource(frame),
        model_store=OneChampion({MODULE: champion}),  # type: ignore[arg-type]
        clock=lambda: clock[0],
        poll_models=False,
    )
    history = DashboardHistory(clock=lambda: clock[0].timestamp())
    audit = JsonlAudit(tmp_path / "audit.jsonl")
    sampler = DashboardSampler(
        app.state.engine,
        history,
        audit=audit,
        incidents=open_incidents(tmp_path / "incidents"),
        registry=app.state.metrics.registry,
    )
    app.state.dashboard = DashboardContext(history, sampler, sample_s=0)
    return TestClient(app), sampler, history, audit


def test_minutes_band_outcomes_and_metrics(
    tmp_path: Path, history_frame: pd.DataFrame, champion: ModelBundle
) -> None:
    clock = [NOW]
    client, sampler, history, audit = _setup(tmp_path, history_frame, champion, clock)
    with client:
        sampler.sample()
        first = history.module_state(MODULE)
        assert len(first["series"]["t"]) >= 59  # the engine's 60-minute window
        assert len(first["future"]["t"]) == sampler.horizon
        future = first["future"]
        assert all(
            lo <= m <= hi
            for lo, m, hi in zip(future["lo"], future["mean"], future["hi"], strict=True)
        )

        # ten minutes later: the new minutes carry the band forecast for them before they came
        clock[0] = NOW + timedelta(minutes=10)
        expected = {
            t: (lo, hi) for t, lo, hi in zip(future["t"], future["lo"], future["hi"], strict=True)
        }
        sampler.sample()
        series = history.module_state(MODULE)["series"]
        fresh = [i for i, t in enumerate(series["t"]) if t > first["series"]["t"][-1]]
        assert len(fresh) >= 9
        for i in fresh:
            t = series["t"][i]
            assert (series["lo"][i], series["hi"][i]) == pytest.approx(expected[t], abs=0.05)
        quality = history.quality(MODULE)
        assert quality["n"] == len(fresh) and quality["coverage"] is not None
        assert quality["mape"] is not None and quality["mape"] >= 0

        # a decision of the engine, then the executor's outcome in the audit trail
        decision: Decision = client.app.state.engine.decide(MODULE, current_replicas=1)  # type: ignore[attr-defined]
        assert history.latest(MODULE)["replicas"] == decision.current_replicas == 1
        made = Decision(
            module=MODULE,
            action=Action.RESTART,
            current_replicas=2,
            target_replicas=2,
            restart=True,
            reason="memory leak",
            confidence=0.8,
            decided_at=clock[0],
        )
        client.app.state.metrics.record_decision(made)  # type: ignore[attr-defined]
        audit.write(
            AuditEntry(
                at=clock[0] + timedelta(seconds=4),
                event="action_skipped",
                module=MODULE,
                action="restart",
                reason="restart_budget",
                executor="test",
            )
        )
        audit.write(
            AuditEntry(
                at=clock[0] + timedelta(seconds=5),
                event="alert_sent",
                module=MODULE,
                reason="degradation",
                detail="Nenhuma: restart_budget",
                executor="test",
            )
        )
        sampler.sample()
        restart = [m for m in history.markers(MODULE) if m.action == "restart"]
        assert [(m.status, m.status_reason) for m in restart] == [("skipped", "restart_budget")]
        assert [(a.module, a.problem, a.sent) for a in history.alerts] == [
            (MODULE, "degradation", True)
        ]
        titles = {"pt": "Degradação de desempenho", "en": "Performance degradation"}
        assert history.alerts[0].titles == titles
        assert history.latest(MODULE)["replicas"] == 2

        metrics = client.get("/metrics").text
    band = {
        q: float(line.rsplit(" ", 1)[1])
        for line in metrics.splitlines()
        if line.startswith("nexus_forecast_requests_per_min{") and MODULE in line
        for q in ("0.1", "0.5", "0.9")
        if f'quantile="{q}"' in line
    }
    assert set(band) == {"0.1", "0.5", "0.9"} and band["0.1"] <= band["0.5"] <= band["0.9"]
    for name in ("nexus_module_replicas", "nexus_capacity_requests_per_min"):
        assert f'{name}{{module="{MODULE}"}}' in metrics, name
    profile = load_catalog().get(MODULE)
    capacity = 2 * profile.capacity_rpm_per_replica * profile.target_utilisation
    assert f'nexus_capacity_requests_per_min{{module="{MODULE}"}} {capacity}' in metrics

    # every series the generated Grafana dashboard queries is one this service exports
    # (nexus:requests_per_min is Prometheus' own recording rule of the modules' traffic)
    document = json.dumps(grafana_json(load_catalog(), "http://127.0.0.1:8000/dashboard"))
    queried = set(re.findall(r"\b(nexus_[a-z_]+)\{", document))
    exported = set(re.findall(r"^# TYPE (nexus_[a-z_]+) ", metrics, flags=re.MULTILINE))
    exported |= {f"{name}_total" for name in exported}
    assert queried and queried <= exported, queried - exported


def _manifest(root: Path, incident_id: str, ended: datetime | None) -> None:
    manifest = IncidentManifest(
        id=incident_id,
        module=MODULE,
        error_type=ErrorType.MEMORY_LEAK,
        started_at=NOW - timedelta(hours=1),
        ended_at=ended,
        collected_at=NOW,
        window_start=NOW - timedelta(hours=2),
        window_end=NOW,
        step_s=60,
        metrics=("memory_usage",),
        modules=(MODULE,),
        retention_days=30,
    )
    (root / incident_id).mkdir(parents=True)
    (root / incident_id / "manifest.json").write_text(manifest.model_dump_json(), encoding="utf-8")


def test_open_incidents_reach_the_page(
    tmp_path: Path, history_frame: pd.DataFrame, champion: ModelBundle
) -> None:
    _manifest(tmp_path / "incidents", "crm-leak-1", None)
    _manifest(tmp_path / "incidents", "crm-leak-0", NOW - timedelta(minutes=30))
    client, sampler, history, _ = _setup(tmp_path, history_frame, champion, [NOW])
    with client:
        sampler.sample()
    assert [(i["id"], i["module"], i["error_type"]) for i in history.incidents] == [
        ("crm-leak-1", MODULE, "MEMORY_LEAK")
    ]
