"""The ``ClusterBackend`` seam: what the executor can do to the cluster."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol


@dataclass(frozen=True)
class ServiceState:
    module: str
    replicas: int  # desired replicas in the service spec
    running: int  # tasks running now
    image: str
    version: int  # the spec version (Swarm's optimistic-lock index)
    updated_by_hand: bool = False  # last spec change not made by nexus-ml


class ClusterBackend(Protocol):
    def services(self) -> dict[str, ServiceState]: ...

    def scale(self, module: str, replicas: int, *, timeout_s: float = 60.0) -> ServiceState: ...

    def restart(self, module: str, *, timeout_s: float = 60.0) -> ServiceState: ...

    def rollback(self, module: str, *, timeout_s: float = 60.0) -> ServiceState: ...
