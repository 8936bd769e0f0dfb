"""The ``ClusterBackend`` seam: what the executor can do to the cluster."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

# Labels nexus-ml writes on every service spec it changes. A spec whose replicas or image no
# longer match them was changed by someone else (``docker service scale`` by hand): the
# executor leaves such a service alone for a while.
LABEL_REPLICAS = "io.nexus-ml.replicas"
LABEL_IMAGE = "io.nexus-ml.image"


@dataclass(frozen=True)
class ServiceState:
    module: str
    replicas: int  # desired replicas in the service spec
    running: int  # tasks running now
    image: str
    version: int  # the spec version (Swarm's optimistic-lock index)
    updated_by_hand: bool = False  # last spec change not made by nexus-ml


class ClusterBackend(Protocol):
    """Scale, restart and roll back one module's service; every call waits for convergence.

    Implementations raise :class:`nexus_ml.errors.ClusterError` when the cluster refuses an
    operation, is unreachable, or does not converge before ``timeout_s``.
    """

    def services(self) -> dict[str, ServiceState]: ...

    def scale(self, module: str, replicas: int, *, timeout_s: float = 60.0) -> ServiceState: ...

    def restart(self, module: str, *, timeout_s: float = 60.0) -> ServiceState: ...

    def rollback(self, module: str, *, timeout_s: float = 60.0) -> ServiceState: ...
