"""``nexus-ml train``: fit, backtest, gate and register every module's models."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from nexus_ml.cli.common import console, exits_cleanly, settings
from nexus_ml.cli.train_options import TrainOptions, with_train_options
from nexus_ml.errors import ConfigError, InputError

if TYPE_CHECKING:
    from nexus_ml.ingest.source import MetricSource
    from nexus_ml.models.registry.store import RegistryStore
    from pipelines.train import TrainReport


def build_job(opts: TrainOptions) -> tuple[Callable[[], TrainReport], RegistryStore]:
    """A zero-argument training job (what ``retrain`` schedules) and the store it writes."""
    from nexus_ml.catalog import load_catalog
    from nexus_ml.domain.metrics import METRIC_FIELDS
    from nexus_ml.models.training.promotion import GateConfig
    from pipelines.train import TrainConfig, lead_times_of, modules_or_all, train

    cfg = settings()
    if opts.dask is not None:  # before any data is read: a missing extra is a set-up error
        from nexus_ml.models.training.dask_cluster import require_dask

        require_dask()
    source, file_end = _source(opts)
    catalog = load_catalog(cfg.catalog_path)
    known = catalog.names
    fields = tuple(f.strip() for f in opts.fields.split(",")) if opts.fields else METRIC_FIELDS
    unknown = [f for f in fields if f not in METRIC_FIELDS]
    if unknown:
        raise InputError(
            f"unknown field(s) {', '.join(unknown)}; known: {', '.join(METRIC_FIELDS)}"
        )
    config = TrainConfig(
        modules=modules_or_all(opts.modules, known),
        days=opts.days,
        step=timedelta(seconds=opts.step_s),
        min_coverage=opts.min_coverage,
        forecast_fields=fields,
        gate=GateConfig(margin=opts.margin),
        n_jobs=opts.jobs,
        lead_times=lead_times_of(catalog, timedelta(seconds=opts.step_s)),
    )
    store = _store(opts)

    def job() -> TrainReport:
        end = opts.end or file_end or datetime.now(UTC)
        with _backend(opts.dask):
            return train(source, store, config, end=end, on_phase=lambda p: console.log(p))

    return job, store


def _source(opts: TrainOptions) -> tuple[MetricSource, datetime | None]:
    cfg = settings()
    if opts.data is not None:
        from nexus_ml.ingest.frame_source import FrameSource, read_metric_frame

        if not opts.data.is_file():
            raise InputError(f"--from: no such file {str(opts.data)!r}")
        frame = read_metric_frame(opts.data)
        if frame.empty:
            raise InputError(f"--from: {opts.data} holds no rows")
        last = frame["timestamp"].max() + timedelta(seconds=opts.step_s)
        return FrameSource(frame, name=str(opts.data)), last.to_pydatetime()
    if not cfg.prometheus_url:
        raise ConfigError(
            "no metric source: pass --from FILE or set NEXUS_PROMETHEUS_URL", field="prometheus_url"
        )
    from nexus_ml.ingest.prometheus_source import PrometheusSource

    return PrometheusSource(cfg.prometheus_url, timeout_s=cfg.prometheus_timeout_s), None


def _store(opts: TrainOptions) -> RegistryStore:
    cfg = settings()
    if opts.store == "local":
        from nexus_ml.models.registry.local_store import LocalModelStore

        return LocalModelStore(cfg.models_dir)
    if opts.store == "mlflow":
        from nexus_ml.models.registry.mlflow_store import MlflowModelStore

        cfg.state_dir.mkdir(parents=True, exist_ok=True)  # the embedded sqlite lives there
        return MlflowModelStore(
            cfg.effective_mlflow_uri,
            experiment=opts.experiment or cfg.mlflow_experiment,
            model_prefix=cfg.mlflow_model_prefix,
        )
    raise InputError(f"--store must be mlflow or local, got {opts.store!r}")


@contextmanager
def _backend(address: str | None) -> Iterator[None]:
    if address is None:
        yield
        return
    from nexus_ml.models.training.dask_cluster import on_dask

    with on_dask(address):
        yield


def print_report(report: TrainReport) -> None:
    table = Table(title=f"training {report.start:%Y-%m-%d %H:%M} → {report.end:%Y-%m-%d %H:%M} UTC")
    for col in ("module", "status", "version", "MASE", "champion MASE", "coverage", "reason"):
        table.add_column(col)
    style = {"promoted": "green", "challenger": "yellow", "unchanged": "dim"}
    for o in report.outcomes:
        table.add_row(
            o.module,
            f"[{style.get(o.status, '')}]{o.status}[/]",
            o.version,
            _num(o.mase),
            _num(o.champion_mase),
            _num(o.coverage, pct=True),
            o.reason,
        )
    console.print(table)
    console.print(f"{len(report.outcomes)} module(s) in {report.seconds:.1f}s")


def _num(value: float | None, *, pct: bool = False) -> str:
    if value is None or value != value:  # None or NaN
        return "—"
    return f"{value:.0%}" if pct else f"{value:.3f}"


def register(app: typer.Typer) -> None:
    @app.command("train")
    @exits_cleanly
    @with_train_options
    def train_cmd(opts: TrainOptions) -> None:
        """Train every module's forecasters and detector, backtest, gate and register them."""
        job, _ = build_job(opts)
        print_report(job())
