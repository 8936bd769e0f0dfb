"""Assemble an executor from :class:`~nexus_ml.settings.Settings` (used by the CLI and demo).

PostgreSQL configured → audit in PostgreSQL and a leader lock; otherwise the embedded default:
a JSON-lines audit file under the state directory and a single executor. Telegram configured →
Telegram alerts; otherwise alerts as log lines. A FULL_SYSTEM rollback also returns that
PostgreSQL database to the migration release before the failed one (when the migrations are
at hand) and validates with the configured smoke URLs.
"""

from __future__ import annotations

from dataclasses import dataclass

from nexus_ml.alerts.grouping import AlertGrouper
from nexus_ml.alerts.notifier import LogNotifier, Notifier
from nexus_ml.catalog import Catalog, load_catalog
from nexus_ml.errors import InputError, NexusError
from nexus_ml.execute.audit import (
    AuditTrail,
    JsonlAudit,
    PostgresAudit,
    Redactor,
    dsn_password,
    utcnow,
)
from nexus_ml.execute.backend import ClusterBackend
from nexus_ml.execute.client import DecisionClient
from nexus_ml.execute.context import MetricContext
from nexus_ml.execute.guardrails import GuardrailConfig, Guardrails
from nexus_ml.execute.incidents import IncidentHook
from nexus_ml.execute.leader import LeaderLock, PgLeaderLock, SoloLock
from nexus_ml.execute.loop import DecisionSource, Executor, ExecutorConfig
from nexus_ml.execute.rollback_run import RollbackSetup
from nexus_ml.logs import get_logger
from nexus_ml.settings import Settings

log = get_logger(__name__)


@dataclass(frozen=True)
class ExecutorOptions:
    interval_s: float = 60.0
    action_timeout_s: float = 60.0
    preview: bool = False
    alert_window_s: float = 600.0
    manual_change_hold_s: float = 1800.0
    max_changes_per_hour: int = 20


def _secret(value: object) -> str | None:
    getter = getattr(value, "get_secret_value", None)
    return str(getter()) if getter else None


def redactor_for(settings: Settings) -> Redactor:
    """A redactor that knows every secret in ``settings``."""
    dsn = _secret(settings.pg_dsn)
    return Redactor(
        [
            _secret(settings.telegram_bot_token),
            _secret(settings.api_token),
            dsn_password(dsn) if dsn else None,
        ]
    )


def audit_for(settings: Settings) -> AuditTrail:
    """PostgreSQL when a DSN is set, else ``<state_dir>/audit.jsonl``."""
    redactor = redactor_for(settings)
    dsn = _secret(settings.pg_dsn)
    if dsn:
        return PostgresAudit(dsn, redactor=redactor)
    return JsonlAudit(settings.state_dir / "audit.jsonl", redactor=redactor)


def cluster_for(
    kind: str,
    catalog: Catalog,
    *,
    docker_host: str = "unix:///var/run/docker.sock",
    timeout_s: float = 60.0,
    name_prefix: str = "",
) -> ClusterBackend:
    """The cluster the executor acts on: ``"swarm"`` (the Docker API at ``docker_host``) or
    ``"memory"`` (an embedded cluster, every module at its minimum replicas).

    Raises
    ------
    InputError
        ``kind`` is neither.
    """
    if kind == "swarm":
        from nexus_ml.execute.swarm import SwarmBackend

        return SwarmBackend.from_url(docker_host, timeout_s=timeout_s, name_prefix=name_prefix)
    if kind == "memory":
        from nexus_ml.execute.memory import InMemoryCluster

        return InMemoryCluster({m.name: m.min_replicas for m in catalog})
    raise InputError(f"--backend must be 'swarm' or 'memory', got {kind!r}")


def notifier_for(settings: Settings, *, window_s: float = 600.0) -> Notifier:
    """Telegram when a token and chat are set, else log lines; both group repeats."""
    grouper = AlertGrouper(window_s)
    token = _secret(settings.telegram_bot_token)
    if token and settings.telegram_chat_id:
        from nexus_ml.alerts.telegram import TelegramNotifier

        return TelegramNotifier(
            token,
            settings.telegram_chat_id,
            base_url=settings.telegram_base_url,
            language=settings.language,
            grouper=grouper,
        )
    return LogNotifier(settings.language, grouper=grouper)


def build_executor(
    settings: Settings,
    backend: ClusterBackend,
    options: ExecutorOptions | None = None,
    *,
    source: DecisionSource | None = None,
    catalog: Catalog | None = None,
    notifier: Notifier | None = None,
    incidents: IncidentHook | None = None,
) -> Executor:
    """The executor of ``settings`` acting on ``backend``; unless ``incidents`` is given, it
    opens and reports incidents by itself (:func:`nexus_ml.crisis.factory.incident_hook_for`)."""
    opts = options or ExecutorOptions()
    dsn = _secret(settings.pg_dsn)
    lock: LeaderLock = PgLeaderLock(dsn) if dsn else SoloLock()
    if source is None:
        source = DecisionClient(
            settings.service_url,
            _secret(settings.api_token) or "",
            timeout_s=min(10.0, max(1.0, opts.interval_s / 2)),
        )
    guard = GuardrailConfig(
        interval_s=opts.interval_s,
        preview=opts.preview,
        manual_change_hold_s=opts.manual_change_hold_s,
        max_changes_per_hour=opts.max_changes_per_hour,
    )
    catalog = catalog or load_catalog(settings.catalog_path)
    audit = audit_for(settings)
    if incidents is None:
        from nexus_ml.crisis.factory import incident_hook_for

        # Swarm's logs and tasks through the backend's own client (None for in-memory)
        incidents = incident_hook_for(
            settings,
            catalog=catalog,
            audit=audit,
            docker_client=getattr(backend, "_client", None),
            service_prefix=getattr(backend, "_prefix", ""),
        )
    return Executor(
        source,
        backend,
        catalog,
        Guardrails(guard),
        audit,
        notifier or notifier_for(settings, window_s=opts.alert_window_s),
        lock=lock,
        config=ExecutorConfig(
            interval_s=opts.interval_s,
            action_timeout_s=opts.action_timeout_s,
            language=settings.language,
            dashboard_url=settings.dashboard_url,
        ),
        incidents=incidents,
        context=metric_context_for(settings),
        rollback=rollback_setup_for(settings, catalog),
    )


def rollback_setup_for(settings: Settings, catalog: Catalog) -> RollbackSetup:
    """The database (PostgreSQL configured and the migrations shipped) and the smoke URLs a
    release rollback uses."""
    from nexus_ml.execute.database import HttpSmoke, MigrationRollback
    from nexus_ml.migrate import commands
    from nexus_ml.migrate.dbmap import load_map

    dsn = _secret(settings.pg_dsn)
    database = None
    if dsn and commands.DEFAULT_MIGRATIONS_DIR.is_dir():
        try:
            database = MigrationRollback(dsn, commands.load_graph(None, catalog), load_map())
        except NexusError as exc:
            log.warning(
                "executor.migrations_unusable",
                consequence="FULL_SYSTEM rollbacks leave the database",
                error=str(exc),
            )
    smoke = HttpSmoke(settings.rollback_smoke_urls) if settings.rollback_smoke_urls else None
    return RollbackSetup(
        database=database, smoke=smoke, release_window_s=settings.rollback_release_window_s
    )


def metric_context_for(settings: Settings) -> MetricContext | None:
    """Alert metrics (values, normals, durations, measured outcomes) from Prometheus when it
    is configured; None otherwise (alerts then carry only what the decision says)."""
    from nexus_ml.ingest.factory import prometheus_source

    source = prometheus_source(settings)
    return None if source is None else MetricContext(source, utcnow)
