"""``SwarmBackend``: the cluster backend on a real Docker Swarm (PyPI ``docker``).

Every change is one ``APIClient.update_service`` of the full spec with the version we read
(Swarm's optimistic lock), so a concurrent change by someone else fails instead of being
overwritten. The SDK does not wrap the Engine's ``rollback=previous``; a rollback posts the
service's ``PreviousSpec`` the same way (Swarm then keeps the bad spec as the new previous one,
as its own rollback does), with the replicas running now (capacity is the executor's, not the
release's). When the executor changed the spec since the release (a scale replaces Swarm's
``PreviousSpec``), the previous spec no longer is the last release: the rollback then posts the
current spec running the container the release replaced (kept in our labels; a release is a
new image or a new configuration, see :mod:`~nexus_ml.execute.swarm_release`). Each call waits
until the service has converged (update finished, the desired number of tasks running) or the
deadline passes.

A lost optimistic-lock race is recognised by status, not by message text: HTTP 409, or — as
Engine 20.10 answers it, ``500 ... update out of sequence`` — a 5xx while the service's version
has moved past the one we posted with.
"""

from __future__ import annotations

import copy
import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_fixed

from nexus_ml.errors import ClusterError
from nexus_ml.execute.backend import LABEL_REPLICAS, ServiceState
from nexus_ml.execute.swarm_release import (
    desired_replicas,
    engine_time,
    image,
    release_of,
    rollback_spec,
    runs_template,
    stamp,
)
from nexus_ml.logs import get_logger

if TYPE_CHECKING:
    import docker

log = get_logger(__name__)

_BUSY = {"updating", "rollback_started"}
_FAILED = {"paused", "rollback_paused"}


def _by_hand(spec: dict[str, Any]) -> bool:
    """Whether the replicas were changed by someone else since nexus-ml last wrote them. A new
    image or configuration is a release, not a change by hand: the post-deploy check judges it
    (holding the module for half an hour would hold its rollback too)."""
    labels = spec.get("Labels") or {}
    if LABEL_REPLICAS not in labels:  # never touched by nexus-ml: nothing to compare with
        return False
    return labels.get(LABEL_REPLICAS) != str(desired_replicas(spec))


class _LostRace(Exception):
    """An update refused because the service's version moved: worth another read and post."""

    def __init__(self, error: ClusterError) -> None:
        super().__init__(str(error))
        self.error = error


class SwarmBackend:
    """Scale, restart and roll back Swarm services named ``name_prefix + module``.

    Parameters
    ----------
    client
        A ``docker.DockerClient``; its ``timeout`` bounds every Engine API call.
    name_prefix
        Prefix of the service names (tests use a unique one per run).
    poll_s
        How often convergence is checked.
    sleep
        Injected for tests.
    """

    def __init__(
        self,
        client: docker.DockerClient,
        *,
        name_prefix: str = "",
        poll_s: float = 0.2,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._prefix = name_prefix
        self._poll_s = poll_s
        self._sleep = sleep

    @classmethod
    def from_url(
        cls, base_url: str, *, timeout_s: float = 10.0, name_prefix: str = ""
    ) -> SwarmBackend:
        """A backend talking to the Engine at ``base_url`` (``unix:///...`` or ``tcp://...``)."""
        import docker

        try:
            client = docker.DockerClient(base_url=base_url, timeout=int(max(1, timeout_s)))
        except docker.errors.DockerException as exc:
            raise ClusterError(f"cannot reach the Docker Engine at {base_url!r}: {exc}") from exc
        return cls(client, name_prefix=name_prefix)

    # -- reading ---------------------------------------------------------------------------
    def services(self) -> dict[str, ServiceState]:
        """The state of every service whose name starts with the prefix, keyed by module."""
        attrs = self._call("list services", self._client.api.services)
        states: dict[str, ServiceState] = {}
        for svc in attrs:
            name = svc["Spec"]["Name"]
            if not name.startswith(self._prefix):
                continue
            module = name[len(self._prefix) :]
            states[module] = self._state(module, svc)
        return states

    def _inspect(self, module: str) -> dict[str, Any]:
        name = self._prefix + module
        result: dict[str, Any] = self._call(
            f"inspect service {name!r}", self._client.api.inspect_service, name
        )
        return result

    def _running(self, service_id: str, template: dict[str, Any]) -> int:
        """Tasks running the service's current task template (a restart or rollback has
        converged only when no task of the old template is counted)."""
        tasks = self._call(
            "list tasks",
            self._client.api.tasks,
            filters={"service": service_id, "desired-state": "running"},
        )
        return sum(
            1
            for t in tasks
            if t.get("Status", {}).get("State") == "running" and runs_template(t, template)
        )

    def _state(self, module: str, svc: dict[str, Any]) -> ServiceState:
        spec = svc["Spec"]
        release = release_of(svc)
        return ServiceState(
            module=module,
            replicas=desired_replicas(spec),
            running=self._running(svc["ID"], spec["TaskTemplate"]),
            image=image(spec),
            version=int(svc["Version"]["Index"]),
            updated_by_hand=_by_hand(spec),
            updated_at=engine_time(svc.get("UpdatedAt")),
            previous_image=release.previous_image,
            released_at=release.released_at,
            update_state=str((svc.get("UpdateStatus") or {}).get("State", "")),
            rolled_back=release.rolled_back,
        )

    # -- changing --------------------------------------------------------------------------
    def scale(self, module: str, replicas: int, *, timeout_s: float = 60.0) -> ServiceState:
        if replicas < 0:
            raise ClusterError(f"cannot scale {module!r} to {replicas} replicas")

        def set_replicas(spec: dict[str, Any]) -> None:
            spec.setdefault("Mode", {}).setdefault("Replicated", {})["Replicas"] = replicas

        self._change(module, set_replicas)
        return self._converge(module, timeout_s)

    def restart(self, module: str, *, timeout_s: float = 60.0) -> ServiceState:
        def force(spec: dict[str, Any]) -> None:
            template = spec["TaskTemplate"]
            template["ForceUpdate"] = int(template.get("ForceUpdate", 0)) + 1

        self._change(module, force)
        return self._converge(module, timeout_s)

    def rollback(self, module: str, *, timeout_s: float = 60.0) -> ServiceState:
        self._change(module, None, rollback=True)
        return self._converge(module, timeout_s)

    def _change(
        self,
        module: str,
        mutate: Callable[[dict[str, Any]], None] | None,
        *,
        rollback: bool = False,
        attempts: int = 3,
    ) -> None:
        """Post ``mutate``(current spec) — or the previous spec — with the version just read.

        Swarm bumps a service's version while an update is in progress, so a conflict means the
        spec moved under us: read it again and re-apply our change on top (never a blind
        overwrite of someone else's change), up to ``attempts`` times, ``poll_s`` apart. Any
        other error, and the conflict of the last attempt, is raised as it came.
        """
        retrying = Retrying(
            stop=stop_after_attempt(attempts),
            retry=retry_if_exception_type(_LostRace),
            wait=wait_fixed(self._poll_s),
            sleep=self._sleep,
            before_sleep=lambda _: log.info(
                "swarm.update_conflict", service=self._prefix + module, retrying=True
            ),
            reraise=True,
        )
        try:
            retrying(self._post_change, module, mutate, rollback)
            return
        except _LostRace as lost:
            error = lost.error
        raise error  # outside the handler: the Engine's error, not the wrapper, is its context

    def _post_change(
        self, module: str, mutate: Callable[[dict[str, Any]], None] | None, rollback: bool
    ) -> None:
        """One read-change-post; ``_LostRace`` when the version moved under us.

        Our labels are stamped on every spec we post (on a rollback too, so it is not mistaken
        for a change by hand).
        """
        name = self._prefix + module
        svc = self._inspect(module)
        spec = rollback_spec(name, svc) if rollback else copy.deepcopy(svc["Spec"])
        if mutate is not None:
            mutate(spec)
        stamp(spec, svc, rollback=rollback)
        version = int(svc["Version"]["Index"])
        what = f"{'roll back' if rollback else 'update'} service {name!r}"
        try:
            self._call(what, self._update, svc["ID"], version, spec)
        except ClusterError as exc:
            if self._lost_race(module, version, exc):
                raise _LostRace(exc) from exc
            raise

    def _update(self, service_id: str, version: int, spec: dict[str, Any]) -> None:
        self._client.api.update_service(
            service_id,
            version,
            name=spec["Name"],
            labels=spec.get("Labels"),
            mode=spec.get("Mode"),
            task_template=spec["TaskTemplate"],
            update_config=spec.get("UpdateConfig"),
            rollback_config=spec.get("RollbackConfig"),
            endpoint_spec=spec.get("EndpointSpec"),
        )

    def _lost_race(self, module: str, version: int, exc: ClusterError) -> bool:
        """Whether ``exc`` from an update posted with ``version`` is an optimistic-lock conflict."""
        status = exc.details.get("engine_status")
        if status == 409:
            return True
        if not isinstance(status, int) or status < 500:
            return False
        try:
            return int(self._inspect(module)["Version"]["Index"]) != version
        except ClusterError:
            return False

    def _converge(self, module: str, timeout_s: float) -> ServiceState:
        deadline = time.monotonic() + timeout_s
        while True:
            svc = self._inspect(module)
            status = (svc.get("UpdateStatus") or {}).get("State", "")
            if status in _FAILED:
                message = (svc.get("UpdateStatus") or {}).get("Message", "")
                raise ClusterError(
                    f"service {self._prefix + module!r} update {status}: {message}",
                    module=module,
                    status=status,
                )
            state = self._state(module, svc)
            if status not in _BUSY and state.running == state.replicas:
                return state
            if time.monotonic() >= deadline:
                raise ClusterError(
                    f"service {self._prefix + module!r} did not converge within {timeout_s:g} s "
                    f"(update {status or 'none'}, {state.running}/{state.replicas} running)",
                    module=module,
                )
            self._sleep(self._poll_s)

    def _call(self, what: str, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        import docker
        import requests

        try:
            return fn(*args, **kwargs)
        except docker.errors.NotFound as exc:
            raise ClusterError(f"cannot {what}: not found") from exc
        except docker.errors.APIError as exc:
            raise ClusterError(
                f"cannot {what}: {exc.explanation or exc}", engine_status=exc.status_code
            ) from exc
        except (requests.exceptions.RequestException, docker.errors.DockerException) as exc:
            raise ClusterError(
                f"cannot {what}: Docker Engine unreachable or timed out ({exc})"
            ) from exc
