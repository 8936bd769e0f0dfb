"""``InMemoryCluster``: the embedded cluster backend for ``make demo`` and unit tests.

It keeps the same contract as :class:`~nexus_ml.execute.swarm.SwarmBackend`: specs with a
version, a previous spec for rollback, labels that reveal changes made by hand, and
:class:`~nexus_ml.errors.ClusterError` for unknown services and injected faults.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from nexus_ml.errors import ClusterError
from nexus_ml.execute.backend import ServiceState


@dataclass(frozen=True)
class _Spec:
    replicas: int
    image: str
    force_update: int = 0
    stamped: tuple[int, str] | None = None  # (replicas, image) as nexus-ml last wrote them
    released_at: datetime | None = None  # when this image was deployed (None: never seen)
    previous_image: str = ""  # the image it replaced
    rolled_back: bool = False  # written by a rollback


class InMemoryCluster:
    """A thread-safe dictionary of services that converge instantly.

    Parameters
    ----------
    services
        Initial ``{module: replicas}``.
    image
        The image every initial service runs.
    """

    def __init__(self, services: Mapping[str, int], *, image: str = "nexus-module:1") -> None:
        self._lock = threading.Lock()
        self._specs = {m: _Spec(r, image, stamped=(r, image)) for m, r in services.items()}
        self._previous: dict[str, _Spec] = {}
        self._versions = dict.fromkeys(services, 1)
        self.restarts: dict[str, int] = dict.fromkeys(services, 0)
        self.fail_next: ClusterError | None = None  # raised (once) by the next call
        self.calls: list[tuple[str, str, int | None]] = []  # (operation, module, replicas)

    # -- helpers for tests and the demo ----------------------------------------------------
    def deploy(self, module: str, image: str, at: datetime | None = None) -> None:
        """Change the image like a release would (by nexus-ml's CI, so not "by hand"), at
        ``at`` (default: now)."""
        with self._lock:
            spec = self._get(module)
            release = replace(
                spec,
                image=image,
                released_at=at or datetime.now(UTC),
                previous_image=spec.image,
                rolled_back=False,
            )
            self._write(module, release, stamp=True)

    def scale_by_hand(self, module: str, replicas: int) -> None:
        """What ``docker service scale`` by an operator does: a change nexus-ml did not make."""
        with self._lock:
            spec = self._get(module)
            self._write(module, replace(spec, replicas=replicas), stamp=False)

    # -- ClusterBackend --------------------------------------------------------------------
    def services(self) -> dict[str, ServiceState]:
        with self._lock:
            self._maybe_fail()
            return {m: self._state(m) for m in self._specs}

    def scale(self, module: str, replicas: int, *, timeout_s: float = 60.0) -> ServiceState:
        if replicas < 0:
            raise ClusterError(f"cannot scale {module!r} to {replicas} replicas")
        with self._lock:
            self._maybe_fail()
            spec = self._get(module)
            self.calls.append(("scale", module, replicas))
            self._write(module, replace(spec, replicas=replicas), stamp=True)
            return self._state(module)

    def restart(self, module: str, *, timeout_s: float = 60.0) -> ServiceState:
        with self._lock:
            self._maybe_fail()
            spec = self._get(module)
            self.calls.append(("restart", module, None))
            self._write(module, replace(spec, force_update=spec.force_update + 1), stamp=True)
            self.restarts[module] += 1
            return self._state(module)

    def rollback(self, module: str, *, timeout_s: float = 60.0) -> ServiceState:
        with self._lock:
            self._maybe_fail()
            self._get(module)
            previous = self._previous.get(module)
            if previous is None:
                raise ClusterError(f"service {module!r} has no previous spec to roll back to")
            self.calls.append(("rollback", module, None))
            self._write(module, replace(previous, released_at=None, rolled_back=True), stamp=True)
            return self._state(module)

    # -- internals -------------------------------------------------------------------------
    def _maybe_fail(self) -> None:
        if self.fail_next is not None:
            exc, self.fail_next = self.fail_next, None
            raise exc

    def _get(self, module: str) -> _Spec:
        try:
            return self._specs[module]
        except KeyError:
            raise ClusterError(f"cannot inspect service {module!r}: not found") from None

    def _write(self, module: str, spec: _Spec, *, stamp: bool) -> None:
        if stamp:
            spec = replace(spec, stamped=(spec.replicas, spec.image))
        self._previous[module] = self._specs[module]
        self._specs[module] = spec
        self._versions[module] += 1

    def _state(self, module: str) -> ServiceState:
        spec = self._specs[module]
        by_hand = spec.stamped is not None and spec.stamped != (spec.replicas, spec.image)
        return ServiceState(
            module=module,
            replicas=spec.replicas,
            running=spec.replicas,
            image=spec.image,
            version=self._versions[module],
            updated_by_hand=by_hand,
            previous_image=spec.previous_image if spec.released_at else "",
            released_at=spec.released_at,
            rolled_back=spec.rolled_back,
        )
