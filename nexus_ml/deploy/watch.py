"""Whether a release really went out: Swarm's own verdict on a service update.

``docker stack deploy`` exits 0 as soon as the new spec is accepted. If the new tasks then fail
their healthcheck inside ``update_config.monitor``, Swarm rolls the service back by itself and
the only trace is the service's ``UpdateStatus``: a ``rollback_*`` state there is a failed
release, whatever the deploy command said.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

#: Update states after which Swarm does nothing more on its own.
SETTLED = frozenset({"completed", "paused", "rollback_completed", "rollback_paused"})


@dataclass(frozen=True)
class ReleaseStatus:
    """Swarm's verdict on the latest update of one service.

    Attributes
    ----------
    service
        The service name.
    state
        ``UpdateStatus.State`` (``updating``, ``completed``, ``rollback_started``, …), or
        ``None`` when the service was never updated (its first deploy).
    message
        Swarm's message (``update rolled back due to failure or early termination of task …``).
    """

    service: str
    state: str | None
    message: str

    @property
    def failed(self) -> bool:
        """A rolled-back (or rolling-back) or paused update: the release did not go out."""
        return self.state is not None and (
            self.state.startswith("rollback_") or self.state == "paused"
        )

    @property
    def settled(self) -> bool:
        """Swarm has finished with this update (or there was none)."""
        return self.state is None or self.state in SETTLED

    @property
    def succeeded(self) -> bool:
        return self.state == "completed"


def status_from_inspect(attrs: Mapping[str, Any]) -> ReleaseStatus:
    """The release status in a ``docker service inspect`` document (pure)."""
    name = str(attrs.get("Spec", {}).get("Name", attrs.get("ID", "?")))
    update = attrs.get("UpdateStatus") or {}
    state = update.get("State")
    return ReleaseStatus(name, str(state) if state else None, str(update.get("Message", "")))


def release_status(service: str, client: Any = None) -> ReleaseStatus:
    """The release status of ``service`` on the Swarm of ``client`` (``docker.from_env()``)."""
    if client is None:
        import docker

        client = docker.from_env()
    return status_from_inspect(client.api.inspect_service(service))


def wait_for_release(
    service: str,
    *,
    timeout_s: float,
    client: Any = None,
    poll_s: float = 0.5,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> ReleaseStatus:
    """Poll until Swarm settles the update of ``service`` or ``timeout_s`` passes.

    Returns the last status seen: check :attr:`ReleaseStatus.settled` for a timeout.
    """
    deadline = clock() + timeout_s
    status = release_status(service, client)
    while not status.settled and clock() < deadline:
        sleep(poll_s)
        status = release_status(service, client)
    return status
