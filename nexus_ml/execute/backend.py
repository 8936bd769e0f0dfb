"""The ``ClusterBackend`` seam: what the executor can do to the cluster."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

# Labels nexus-ml writes on every service spec it changes (see
# :mod:`nexus_ml.execute.swarm_release`). A spec whose replicas no longer match them was scaled
# by someone else (``docker service scale`` by hand): the executor leaves it alone for a while.
LABEL_REPLICAS = "io.nexus-ml.replicas"
LABEL_CONTAINER = "io.nexus-ml.container"  # release key of the container spec posted
# The release the service runs, kept across the executor's own changes (a scale after a deploy
# replaces Swarm's PreviousSpec, and the deploy would be forgotten): when it was released, its
# key, and the container spec it replaced (its image included). A rollback by nexus-ml writes
# the key of the release it left.
LABEL_RELEASED_AT = "io.nexus-ml.released-at"
LABEL_RELEASE = "io.nexus-ml.release"
LABEL_PREVIOUS_CONTAINER = "io.nexus-ml.previous-container"
LABEL_ROLLED_BACK_FROM = "io.nexus-ml.rolled-back-from"


@dataclass(frozen=True)
class ServiceState:
    module: str
    replicas: int  # desired replicas in the service spec
    running: int  # tasks running now
    image: str
    version: int  # the spec version (Swarm's optimistic-lock index)
    updated_by_hand: bool = False  # last spec change not made by nexus-ml
    updated_at: datetime | None = None  # when the spec last changed (Swarm's UpdatedAt)
    previous_image: str = ""  # the image the current release replaced ("" unknown)
    released_at: datetime | None = None  # when the current release was deployed (None unknown)
    update_state: str = ""  # Swarm's UpdateStatus.State ("" no update yet)
    rolled_back: bool = False  # the current spec is nexus-ml's rollback, not a release


class ClusterBackend(Protocol):
    """Scale, restart and roll back one module's service; every call waits for convergence.

    Implementations raise :class:`nexus_ml.errors.ClusterError` when the cluster refuses an
    operation, is unreachable, or does not converge before ``timeout_s``.
    """

    def services(self) -> dict[str, ServiceState]: ...

    def scale(self, module: str, replicas: int, *, timeout_s: float = 60.0) -> ServiceState: ...

    def restart(self, module: str, *, timeout_s: float = 60.0) -> ServiceState: ...

    def rollback(self, module: str, *, timeout_s: float = 60.0) -> ServiceState: ...
