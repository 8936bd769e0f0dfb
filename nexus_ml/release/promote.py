"""Promotion: the candidate rolled out to production, watched until Swarm settles.

``docker service update`` returns as soon as Swarm accepted the new spec; with
``failure_action: rollback`` a candidate whose tasks fail inside the update's ``monitor`` window
is then rolled back silently. So the promotion waits for *this* update (a new
``UpdateStatus.StartedAt``) to settle, and succeeds only when its state is ``completed`` and the
service still runs the candidate's image: a ``rollback_*`` or ``paused`` state, or another
image, is a failed release.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from nexus_ml.deploy.watch import status_from_inspect
from nexus_ml.errors import ClusterError
from nexus_ml.release.cluster import Cluster, service_image


@dataclass(frozen=True)
class Promotion:
    """How the production update ended.

    Attributes
    ----------
    succeeded
        The update completed and the service runs the candidate.
    state
        The update's ``UpdateStatus.State`` (``None``: no update was needed).
    detail
        A sentence for the report (Swarm's message on failure).
    running_image
        The image the service runs at the end.
    """

    succeeded: bool
    state: str | None
    detail: str
    running_image: str


def _started_at(spec: Mapping[str, Any]) -> str | None:
    update = spec.get("UpdateStatus") or {}
    return str(update["StartedAt"]) if update.get("StartedAt") else None


def _spec(cluster: Cluster, service: str) -> Mapping[str, Any]:
    spec = cluster.service_spec(service)
    if spec is None:
        raise ClusterError(f"production service {service} is gone")
    return spec


def promote(
    cluster: Cluster,
    service: str,
    image: str,
    *,
    timeout_s: float = 600.0,
    poll_s: float = 1.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> Promotion:
    """Roll ``image`` out to the production ``service`` and wait for Swarm's verdict.

    Raises
    ------
    ClusterError
        The service does not exist or Swarm refused the update.
    """
    before = _spec(cluster, service)
    if service_image(before) == image:
        return Promotion(True, None, f"{service} already runs the candidate", image)
    previous = _started_at(before)
    cluster.update_image(service, image)
    deadline = clock() + timeout_s
    while True:
        spec = _spec(cluster, service)
        status = status_from_inspect(spec)
        ours = _started_at(spec) not in (None, previous)
        if ours and status.settled:
            break
        if clock() >= deadline:
            return Promotion(
                False,
                status.state if ours else None,
                f"{service} did not settle within {timeout_s:g} s (state {status.state})",
                service_image(spec),
            )
        sleep(poll_s)
    running = service_image(spec)
    if status.succeeded and running == image:
        return Promotion(True, status.state, f"{service} updated to the candidate", running)
    why = status.message or f"update {status.state}"
    if status.succeeded:
        why = f"the service runs {running!r}, not the candidate"
    return Promotion(False, status.state, f"Swarm did not keep the candidate: {why}", running)
