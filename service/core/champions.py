"""The champion models the service serves, reloaded when the ``champion`` alias moves.

Polling a registry is blocking I/O: :meth:`ChampionRegistry.refresh` runs in a worker thread
(see :func:`poll_champions`); requests only read the current bundles, under a lock, so a reload
never leaves a half-updated view.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Sequence
from datetime import UTC, datetime

from nexus_ml.logs import get_logger
from nexus_ml.models.registry.store import ModelBundle, ModelStore
from service.core.telemetry import ServiceMetrics

log = get_logger(__name__)


class NoModelStore:
    """A store without models: every module is decided by the seed's rules."""

    def champion_version(self, module: str) -> str | None:
        return None

    def load_champion(self, module: str) -> ModelBundle | None:
        return None


class ChampionRegistry:
    """The loaded champion bundle of each module.

    Parameters
    ----------
    store
        Where champions live (MLflow registry, local folder).
    modules
        The modules to serve.
    metrics
        Receives reloads, failures and the versions served.
    """

    def __init__(self, store: ModelStore, modules: Sequence[str], metrics: ServiceMetrics) -> None:
        self.store = store
        self.modules = tuple(modules)
        self.metrics = metrics
        self._bundles: dict[str, ModelBundle] = {}
        self._lock = threading.Lock()
        self._refresh_lock = threading.Lock()
        self.last_refresh: datetime | None = None
        for module in self.modules:
            metrics.record_model(module, None)

    @property
    def ready(self) -> bool:
        return self.last_refresh is not None

    def get(self, module: str) -> ModelBundle | None:
        with self._lock:
            return self._bundles.get(module)

    def versions(self) -> dict[str, str]:
        with self._lock:
            return {m: b.version for m, b in self._bundles.items()}

    def refresh(self) -> dict[str, str | None]:
        """Ask the store for each module's champion; load the ones that moved.

        A store failure keeps the bundle already loaded (serving yesterday's champion beats
        serving none). Returns the modules whose served version changed.
        """
        changed: dict[str, str | None] = {}
        with self._refresh_lock:
            for module in self.modules:
                loaded = self.get(module)
                try:
                    version = self.store.champion_version(module)
                    if version is not None and loaded is not None and loaded.version == version:
                        continue
                    bundle = None if version is None else self.store.load_champion(module)
                except Exception as exc:  # any store failure: keep serving what we have
                    log.warning("champion.poll_failed", module=module, error=str(exc))
                    self.metrics.model_errors.labels(module, "load").inc()
                    continue
                if bundle is None and loaded is None:
                    continue
                with self._lock:
                    if bundle is None:
                        self._bundles.pop(module, None)
                    else:
                        self._bundles[module] = bundle
                new_version = None if bundle is None else bundle.version
                changed[module] = new_version
                self.metrics.record_model(module, new_version)
                if bundle is not None:
                    self.metrics.model_reloads.labels(module).inc()
                log.info(
                    "champion.loaded",
                    module=module,
                    version=new_version,
                    policy="model" if bundle else "rules",
                )
            self.last_refresh = datetime.now(UTC)
        return changed


async def poll_champions(registry: ChampionRegistry, interval_s: float) -> None:
    """Refresh ``registry`` every ``interval_s`` seconds until cancelled."""
    while True:
        await asyncio.sleep(interval_s)
        try:
            await asyncio.to_thread(registry.refresh)
        except Exception:  # keep polling: the next round may succeed
            log.exception("champion.poll_round_failed")
