"""The whole loop on the embedded default (the last part of ``make demo``).

simulated history → training (local model store) → the decision service over loopback HTTP →
the executor on the in-memory cluster, through a replayed month-end day with a demand surge on
CRM and a degradation of Agendamento. The simulated modules feel the executor's replica counts
(utilisation, latency), so the loop is closed: each minute the simulator observes the cluster,
and every ``tick_minutes`` the executor asks the service and acts.

Library code: progress and events go to the ``on_event`` callback; the CLI prints them.
"""

from __future__ import annotations

import secrets
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd

from nexus_ml.alerts.grouping import AlertGrouper
from nexus_ml.alerts.notifier import LogNotifier
from nexus_ml.catalog import Catalog, ModuleProfile
from nexus_ml.decide.strategy import Sizing
from nexus_ml.domain.decision import Action
from nexus_ml.domain.frame import FRAME_COLUMNS
from nexus_ml.domain.metrics import METRIC_FIELDS, REPLICAS
from nexus_ml.execute.audit import JsonlAudit
from nexus_ml.execute.client import DecisionClient
from nexus_ml.execute.context import MetricContext
from nexus_ml.execute.factory import cluster_for
from nexus_ml.execute.guardrails import GuardrailConfig, Guardrails
from nexus_ml.execute.loop import Executor, ExecutorConfig, TickReport
from nexus_ml.ingest.frame_source import FrameSource
from nexus_ml.ingest.source import MetricFetch
from nexus_ml.logs import get_logger
from nexus_ml.sim.incidents import DemandSurge, Incident, LatencyDegradation
from nexus_ml.sim.simulator import ErpSimulator

log = get_logger(__name__)

Event = Callable[[str], None]
_RULES_CONFIDENCE = {Action.SCALE_UP: 0.5, Action.SCALE_DOWN: 0.55, Action.RESTART: 0.6,
                     Action.ROLLBACK: 0.9}  # fmt: skip


@dataclass(frozen=True)
class LoopDemoConfig:
    day: datetime = datetime(2026, 11, 30, tzinfo=UTC)  # the last day of the month
    history_days: float = 8.0
    replay_hours: float = 24.0
    start_hour: float = 0.0  # replay from this hour of the day
    tick_minutes: int = 5
    seed: int = 0
    train: bool = True
    out_dir: Path = Path("out")


@dataclass(frozen=True)
class ModuleDayReport:
    """How one module fared through the replayed day."""

    module: str
    overloaded_below_max_min: int  # minutes above capacity while below the maximum
    overloaded_at_max_min: int  # minutes above capacity at the maximum (nothing left to add)
    replica_hours: float
    oracle_replica_hours: float  # what replicas sized minute by minute to demand would cost
    actions: int
    skips: int


@dataclass
class LoopDemoResult:
    actions: list[str] = field(default_factory=list)
    alerts: list[str] = field(default_factory=list)
    policy: str = "rules"
    ticks: int = 0
    plot: Path | None = None
    trace_csv: Path | None = None
    modules: list[ModuleDayReport] = field(default_factory=list)
    seconds: float = 0.0
    acted: dict[str, int] = field(default_factory=dict)
    skipped: dict[str, int] = field(default_factory=dict)


def day_incidents(day: datetime) -> tuple[Incident, ...]:
    """The replayed day: the month-end close on CRM and a degradation of Agendamento."""
    return (
        DemandSurge(
            module="nexus-crm",
            start=day + timedelta(hours=9),
            duration=timedelta(hours=6),
            magnitude=3.0,
        ),
        LatencyDegradation(
            module="nexus-agendamento",
            start=day + timedelta(hours=16),
            duration=timedelta(hours=1),
            magnitude=12.0,
        ),
    )


#: What the demo's source serves: the metrics and, as Prometheus' ``nexus:replicas`` does, the
#: replicas running each minute.
SOURCE_COLUMNS = [*FRAME_COLUMNS, REPLICAS]


class GrowingSource:
    """A MetricSource over the history plus the minutes replayed so far."""

    def __init__(self, history: pd.DataFrame) -> None:
        self._parts: list[pd.DataFrame] = [history[SOURCE_COLUMNS]]
        self._rows: list[dict[str, object]] = []
        self._source: FrameSource | None = None
        self._lock = threading.Lock()

    def append(self, rows: Sequence[dict[str, object]]) -> None:
        with self._lock:
            self._rows.extend(rows)
            self._source = None

    def fetch(
        self,
        modules: Sequence[str],
        start: datetime,
        end: datetime,
        step: timedelta = timedelta(minutes=1),
    ) -> MetricFetch:
        with self._lock:
            if self._source is None:
                if self._rows:
                    fresh = pd.DataFrame(self._rows, columns=SOURCE_COLUMNS)
                    fresh["timestamp"] = pd.to_datetime(fresh["timestamp"], utc=True)
                    self._parts.append(fresh)
                    self._rows = []
                    self._parts = [pd.concat(self._parts, ignore_index=True)]
                self._source = FrameSource(self._parts[0], name="replayed day")
            source = self._source
        return source.fetch(modules, start, end, step)


class _ReplayClock:
    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now


def _train(history: pd.DataFrame, catalog: Catalog, config: LoopDemoConfig, emit: Event) -> object:
    """A local model store with fresh champions, or None when training is unavailable."""
    try:
        from nexus_ml.models.registry.local_store import LocalModelStore
        from pipelines.train import TrainConfig, lead_times_of, train
    except ImportError as exc:
        emit(f"training unavailable ({exc}): the service decides with the seed's rules")
        return None
    store = LocalModelStore(config.out_dir / "models")
    report = train(
        FrameSource(history, name="simulated history"),
        store,
        TrainConfig(
            modules=catalog.names,
            days=config.history_days - 0.5,
            forecast_fields=("requests_per_min", "cpu_usage"),
            n_jobs=2,
            lead_times=lead_times_of(catalog),
        ),
        end=config.day,
        on_phase=lambda p: emit(f"training: {p}"),
    )
    for o in report.outcomes:
        emit(f"trained {o.module}: {o.status} (MASE {o.mase:.2f}) — {o.reason}")
    return store


def run_loop_demo(
    catalog: Catalog, config: LoopDemoConfig, *, on_event: Event | None = None
) -> LoopDemoResult:
    """Run the whole loop through the replayed day; returns what the executor did."""
    import uvicorn

    from nexus_ml.sim.history import simulate_history
    from service.api.routes.dashboard import dashboard_context
    from service.app import create_app
    from service.core.champions import NoModelStore
    from service.core.config import ServiceSettings
    from service.dashboard.snapshot import write_snapshot

    emit = on_event or (lambda line: log.info("loop_demo.step", line=line))
    began = time.perf_counter()
    result = LoopDemoResult()
    config.out_dir.mkdir(parents=True, exist_ok=True)
    history_start = config.day - timedelta(days=config.history_days)
    history = simulate_history(
        catalog, start=history_start, days=config.history_days, seed=config.seed
    )
    emit(f"history: {config.history_days:g} days × {len(catalog.modules)} modules simulated")
    store = _train(history, catalog, config, emit) if config.train else None

    # The service reads the last hour; the alerts' "normal" the last day: keep one day.
    kept = history[history["timestamp"] >= config.day - timedelta(days=1)]
    if config.start_hour:  # the replay starts later: the hours before it are history too
        early = simulate_history(
            catalog, start=config.day, days=config.start_hour / 24, seed=config.seed + 1,
            incidents=day_incidents(config.day),
        )  # fmt: skip
        kept = pd.concat([kept, early], ignore_index=True)
    source = GrowingSource(kept)
    clock = _ReplayClock(config.day + timedelta(hours=config.start_hour))
    token = secrets.token_urlsafe(24)
    settings = ServiceSettings(
        api_token=token, decision_cache_s=0, state_dir=config.out_dir, prometheus_url=None
    )
    app = create_app(
        settings,
        catalog=catalog,
        metric_source=source,
        model_store=store if store is not None else NoModelStore(),  # type: ignore[arg-type]
        clock=clock,
        poll_models=False,
    )
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", log_config=None)
    )
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    while not server.started:
        time.sleep(0.02)
    port = server.servers[0].sockets[0].getsockname()[1]
    emit(f"decision service on http://127.0.0.1:{port}")
    dash = dashboard_context(app)  # history fed by every decision the engine makes
    dash.sample_s = 0  # sampled once per replayed tick below, not on the wall clock
    token_file = config.out_dir / "api-token"
    token_file.write_text(token, encoding="utf-8")
    token_file.chmod(0o600)
    emit(f"dashboard: http://127.0.0.1:{port}/dashboard (sign in with the token in {token_file})")

    cluster = cluster_for("memory", catalog)
    notifier = LogNotifier(grouper=AlertGrouper(3600, clock=lambda: clock.now.timestamp()))
    interval = config.tick_minutes * 60.0
    audit_path = config.out_dir / "audit.jsonl"
    audit_path.unlink(missing_ok=True)
    executor = Executor(
        DecisionClient(f"http://127.0.0.1:{port}", token, timeout_s=30, retries=1),
        cluster,
        catalog,
        # Without a trained model the service decides with the seed's rules, whose confidence
        # is 0.55-0.6: the demo then lowers the bar to that; with champions it keeps the
        # production defaults.
        Guardrails(
            GuardrailConfig(interval_s=interval)
            if store is not None
            else GuardrailConfig(interval_s=interval, min_confidence=_RULES_CONFIDENCE)
        ),
        JsonlAudit(audit_path),
        notifier,
        config=ExecutorConfig(interval_s=interval, executor_id="demo"),
        clock=clock,
        context=MetricContext(source, clock),
    )
    sim = ErpSimulator(catalog, seed=config.seed + 1, incidents=day_incidents(config.day))
    trace: list[dict[str, object]] = []
    try:
        minutes = int(config.replay_hours * 60)
        first = config.day + timedelta(hours=config.start_hour)
        for minute in range(minutes):
            now = first + timedelta(minutes=minute)
            replicas = {m: s.replicas for m, s in cluster.services().items()}
            snaps = sim.snapshot(now, replicas)
            rows = [
                {
                    "module": m,
                    "timestamp": now,
                    **{f: getattr(s, f) for f in METRIC_FIELDS},
                    REPLICAS: s.replicas,
                }
                for m, s in snaps.items()
            ]
            source.append(rows)
            trace.extend(
                trace_row(catalog.get(m), now, s.demand_rpm, s.replicas) for m, s in snaps.items()
            )
            if minute % config.tick_minutes == config.tick_minutes - 1:
                clock.now = now + timedelta(seconds=30)
                _report(executor.tick(), clock.now, result, emit)
                if dash.sampler is not None:  # new minutes, the champion's band, the outcomes
                    dash.sampler.sample()
                result.ticks += 1
    finally:
        server.should_exit = True
        thread.join(10)
    result.alerts = [f"{a.module}: {a.problem}" for a in notifier.sent]
    frame = pd.DataFrame(trace, columns=list(TRACE_COLUMNS))
    result.trace_csv = config.out_dir / "loop_trace.csv"
    out = frame.assign(timestamp=frame["timestamp"].map(lambda ts: ts.isoformat()))
    out.to_csv(result.trace_csv, index=False)
    result.modules = day_report(frame, catalog, result.acted, result.skipped)
    result.plot = plot_demand_vs_replicas(
        frame, catalog, config.out_dir / "loop_demand_vs_replicas.png"
    )
    snapshot = write_snapshot(dash.history, config.out_dir / "dashboard.html")
    emit(f"dashboard snapshot: {snapshot} (opens without a server)")
    result.seconds = time.perf_counter() - began
    return result


def _report(report: TickReport, now: datetime, result: LoopDemoResult, emit: Event) -> None:
    for o in report.outcomes:
        if o.acted:
            line = f"{now:%H:%M} {o.module}: {o.action.value} — {o.detail}"
            result.actions.append(line)
            result.acted[o.module] = result.acted.get(o.module, 0) + 1
            emit(f"[applied] {line}")
        elif o.reason not in ("hold", "at_target", "alert"):  # alerts print themselves
            result.skipped[o.module] = result.skipped.get(o.module, 0) + 1
            emit(f"[skipped] {now:%H:%M} {o.module}: {o.action.value} ({o.reason}: {o.detail})")


TRACE_COLUMNS = ("timestamp", "module", "demand_rpm", "replicas", "max_replicas", "capacity_rpm")


def trace_row(
    profile: ModuleProfile, now: datetime, demand: float, replicas: int
) -> dict[str, object]:
    """One simulated minute of one module; capacity is what the replicas serve at target."""
    per_replica = Sizing.of(profile).per_replica_rpm
    return {
        "timestamp": now,
        "module": profile.name,
        "demand_rpm": round(float(demand), 3),
        "replicas": int(replicas),
        "max_replicas": profile.max_replicas,
        "capacity_rpm": round(replicas * per_replica, 3),
    }


def day_report(
    trace: pd.DataFrame, catalog: Catalog, acted: dict[str, int], skipped: dict[str, int]
) -> list[ModuleDayReport]:
    """Per module: minutes above capacity (below and at the maximum), replica-hours against
    replicas sized minute by minute to the demand (within the catalog bounds), actions, skips."""
    reports = []
    for profile in catalog:
        rows = trace[trace["module"] == profile.name]
        over = rows["demand_rpm"] > rows["capacity_rpm"]
        below_max = rows["replicas"] < rows["max_replicas"]
        sizing = Sizing.of(profile)
        needed = [profile.clamp(sizing.replicas_for(d)) for d in rows["demand_rpm"]]
        reports.append(
            ModuleDayReport(
                module=profile.name,
                overloaded_below_max_min=int((over & below_max).sum()),
                overloaded_at_max_min=int((over & ~below_max).sum()),
                replica_hours=float(rows["replicas"].sum()) / 60.0,
                oracle_replica_hours=float(sum(needed)) / 60.0,
                actions=acted.get(profile.name, 0),
                skips=skipped.get(profile.name, 0),
            )
        )
    return reports


def plot_demand_vs_replicas(trace: pd.DataFrame, catalog: Catalog, path: Path) -> Path:
    """Demand (requests/min) against replicas and capacity, one panel per module."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    modules = list(catalog.names)
    fig, axes = plt.subplots(len(modules), 1, figsize=(11, 3 * len(modules)), sharex=True)
    for ax, module in zip(axes, modules, strict=True):
        rows = trace[trace["module"] == module]
        profile = catalog.get(module)
        ax.plot(rows["timestamp"], rows["demand_rpm"], color="tab:blue", lw=1, label="demand (rpm)")
        ax.step(rows["timestamp"], rows["capacity_rpm"], where="post", color="tab:orange",
                label="capacity at target utilisation")  # fmt: skip
        full = rows["max_replicas"] * Sizing.of(profile).per_replica_rpm
        ax.plot(rows["timestamp"], full, color="tab:red", lw=0.8, ls="--",
                label="capacity at max replicas")  # fmt: skip
        right = ax.twinx()
        right.step(rows["timestamp"], rows["replicas"], where="post", color="tab:green", lw=1.5)
        right.set_ylabel("replicas", color="tab:green")
        right.set_ylim(0, profile.max_replicas + 1)
        ax.set_title(module)
        ax.set_ylabel("requests/min")
        ax.legend(loc="upper left", fontsize=8)
    fig.suptitle("Closed loop on the replayed month-end day: demand vs replicas")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
