"""What a deployment needs beyond the catalog: registry, networking, nexus-ml's own image."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from pydantic import Field

from nexus_ml.domain.base import Frozen

#: Docker Hub, where the Nexus images live in production.
DEFAULT_REGISTRY = "docker.io/nexuserp"


class DeployOptions(Frozen):
    """Settings of one rendering; every field has a production default.

    Attributes
    ----------
    registry
        Registry host and namespace prefixed to every image (``docker.io/nexuserp``;
        ``127.0.0.1:5000`` for the local test registry).
    digests
        Image reference (``nexus-module:1``) → ``sha256:…`` digest: pinned images deploy by
        digest, so every node runs exactly the pushed bytes.
    stack_name
        The name given to ``docker stack deploy``; Swarm prefixes services with ``NAME_``, and
        the executor needs that prefix to find the modules.
    network
        ``overlay``: one overlay network, published ports through the routing mesh, nginx
        resolving ``tasks.<service>`` with Docker's DNS. ``host``: tasks on the host network
        bound to ``bind_address`` (for a Swarm without IPVS or overlay routing, as on the
        test machines).
    reservation_fraction
        Share of each limit reserved for the task (CPU and memory reservations).
    """

    registry: str = Field(DEFAULT_REGISTRY, pattern=r"^[A-Za-z0-9.:_/-]+$")
    digests: Mapping[str, str] = Field(default_factory=dict)
    stack_name: str = Field("nexus", pattern=r"^[a-z][a-z0-9_-]{0,40}$")
    network: Literal["overlay", "host"] = "overlay"
    bind_address: str = "0.0.0.0"
    resolver: str = "127.0.0.11"
    nginx_listen: str = "0.0.0.0:80"
    nexus_ml_image: str = "nexus-ml:0.1.0"
    include_nexus_ml: bool = True
    decision_replicas: int = Field(2, ge=0, le=100)
    reservation_fraction: float = Field(0.25, gt=0, le=1)
    update_delay_s: int = Field(10, ge=0, le=3600)
    stop_grace_period_s: int = Field(10, ge=1, le=600)

    def image_ref(self, image: str) -> str:
        """``image`` in the registry, by digest when one is pinned."""
        repo = f"{self.registry.rstrip('/')}/{image}"
        digest = self.digests.get(image)
        if digest is None:
            return repo
        name = image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image
        return f"{self.registry.rstrip('/')}/{name}@{digest}"


def service_address(options: DeployOptions, service: str) -> str:
    """Where nginx and the healthchecks reach a service: every task of it, or loopback."""
    if options.network == "host":
        return "127.0.0.1" if options.bind_address == "0.0.0.0" else options.bind_address
    return f"tasks.{service}"


def full_service_name(options: DeployOptions, service: str) -> str:
    """The Swarm service name after ``docker stack deploy`` prefixed it."""
    return f"{options.stack_name}_{service}"
