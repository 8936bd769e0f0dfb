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
from nexus_ml.errors import InputError

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
    from nexus_ml.ingest.factory import metric_source
    from nexus_ml.ingest.frame_source import FrameSource

    source = metric_source(
        settings(),
        path=opts.data,
        simulate=False,
        label="--from",
        missing="pass --from FILE or set NEXUS_PROMETHEUS_URL",
    )
    last = source.last_timestamp if isinstance(source, FrameSource) else None
    return source, None if last is None else last + timedelta(seconds=opts.step_s)


def _store(opts: TrainOptions) -> RegistryStore:
    from nexus_ml.models.registry.factory import model_store

    if opts.store not in ("local", "mlflow"):  # "auto" is the service's choice, not a flag
        raise InputError(f"--store must be mlflow or local, got {opts.store!r}")
    return model_store(settings(), opts.store, experiment=opts.experiment)


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
