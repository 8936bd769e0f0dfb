"""``SwarmBackend``: the cluster backend on a real Docker Swarm (PyPI ``docker``).

Every change is one ``APIClient.update_service`` of the full spec with the version we read
(Swarm's optimistic lock), so a concurrent change by someone else fails instead of being
overwritten. The SDK does not wrap the Engine's ``rollback=previous``; a rollback posts the
service's ``PreviousSpec`` the same way (Swarm then keeps the bad spec as the new previous one,
as its own rollback does), with the replicas running now (capacity is the executor's, not the
release's). When the executor changed the spec since the release (a scale replaces Swarm's
``PreviousSpec``), the previous spec no longer is the last release: the rollback then posts the
current spec with the image the release replaced (kept in our labels). Each call then waits
until the service has converged (update finished, the desired number of tasks running) or the
deadline passes.

A lost optimistic-lock race is recognised by status, not by message text: HTTP 409, or — as
Engine 20.10 answers it, ``500 ... update out of sequence`` — a 5xx while the service's version
has moved past the one we posted with.
"""

from __future__ import annotations

import copy
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_fixed

from nexus_ml.errors import ClusterError
from nexus_ml.execute.backend import (
    LABEL_IMAGE,
    LABEL_PREVIOUS_IMAGE,
    LABEL_RELEASE_IMAGE,
    LABEL_RELEASED_AT,
    LABEL_REPLICAS,
    LABEL_ROLLED_BACK_FROM,
    ServiceState,
)
from nexus_ml.logs import get_logger

if TYPE_CHECKING:
    import docker

log = get_logger(__name__)

_BUSY = {"updating", "rollback_started"}
_FAILED = {"paused", "rollback_paused"}


def _image(spec: dict[str, Any]) -> str:
    return str(spec["TaskTemplate"]["ContainerSpec"]["Image"])


def _replicas(spec: dict[str, Any]) -> int:
    return int(spec.get("Mode", {}).get("Replicated", {}).get("Replicas", 0))


def _same_template(task: dict[str, Any], template: dict[str, Any]) -> bool:
    """Whether ``task`` runs ``template``: same forced-update counter, same image (a digest the
    Engine pinned on the task is ignored)."""
    spec = task.get("Spec") or {}
    if int(spec.get("ForceUpdate", 0)) != int(template.get("ForceUpdate", 0)):
        return False
    image = str((spec.get("ContainerSpec") or {}).get("Image", ""))
    wanted = str((template.get("ContainerSpec") or {}).get("Image", ""))
    return image.split("@", 1)[0] == wanted.split("@", 1)[0]


def engine_time(text: str | None) -> datetime | None:
    """An Engine timestamp (RFC 3339 with nanoseconds) as an aware UTC time (None: absent)."""
    if not text:
        return None
    m = re.fullmatch(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(?:\.(\d+))?(Z|[+-]\d\d:\d\d)", text)
    if m is None:
        return None
    micro = (m.group(2) or "0")[:6].ljust(6, "0")
    zone = "+00:00" if m.group(3) == "Z" else m.group(3)
    return datetime.fromisoformat(f"{m.group(1)}.{micro}{zone}").astimezone(UTC)


@dataclass(frozen=True)
class _Release:
    """The release a service runs, as its spec, previous spec and our labels tell."""

    released_at: datetime | None
    previous_image: str
    rolled_back: bool


def _release(svc: dict[str, Any]) -> _Release:
    spec, image = svc["Spec"], _image(svc["Spec"])
    labels = spec.get("Labels") or {}
    previous = _image(svc["PreviousSpec"]) if svc.get("PreviousSpec") else ""
    ours = labels.get(LABEL_IMAGE) == image
    if previous and ours and labels.get(LABEL_ROLLED_BACK_FROM) == previous:
        return _Release(None, "", True)  # our rollback: a known version, not a release
    if str((svc.get("UpdateStatus") or {}).get("State", "")).startswith("rollback"):
        return _Release(None, "", True)  # `docker service rollback` (or Swarm's own on failure)
    if previous and previous.split("@", 1)[0] != image.split("@", 1)[0]:
        return _Release(engine_time(svc.get("UpdatedAt")), previous, False)
    if labels.get(LABEL_RELEASE_IMAGE) == image:  # a release we changed since (a scale)
        return _Release(
            engine_time(labels.get(LABEL_RELEASED_AT)), labels.get(LABEL_PREVIOUS_IMAGE, ""), False
        )
    return _Release(None, "", False)


def _rollback_spec(name: str, svc: dict[str, Any]) -> dict[str, Any]:
    """The spec of the release before the current one (see the module doc)."""
    current, previous = svc["Spec"], svc.get("PreviousSpec")
    release = _release(svc)
    spec: dict[str, Any]
    if previous and _image(previous) != _image(current):
        spec = copy.deepcopy(previous)
        spec["Mode"] = copy.deepcopy(current.get("Mode", spec.get("Mode")))
        return spec
    if release.previous_image:
        spec = copy.deepcopy(current)
        spec["TaskTemplate"]["ContainerSpec"]["Image"] = release.previous_image
        return spec
    raise ClusterError(f"service {name!r} has no previous release to roll back to")


def _by_hand(spec: dict[str, Any]) -> bool:
    """Whether the replicas were changed by someone else since nexus-ml last wrote them. A new
    image is a release, not a change by hand: the post-deploy check judges it (holding the
    module for half an hour would hold its rollback too)."""
    labels = spec.get("Labels") or {}
    if LABEL_REPLICAS not in labels:  # never touched by nexus-ml: nothing to compare with
        return False
    return labels.get(LABEL_REPLICAS) != str(_replicas(spec))


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
            if t.get("Status", {}).get("State") == "running" and _same_template(t, template)
        )

    def _state(self, module: str, svc: dict[str, Any]) -> ServiceState:
        spec = svc["Spec"]
        release = _release(svc)
        return ServiceState(
            module=module,
            replicas=_replicas(spec),
            running=self._running(svc["ID"], spec["TaskTemplate"]),
            image=_image(spec),
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
        spec = _rollback_spec(name, svc) if rollback else copy.deepcopy(svc["Spec"])
        if mutate is not None:
            mutate(spec)
        labels = dict(spec.get("Labels") or {})
        labels[LABEL_REPLICAS] = str(_replicas(spec))
        labels[LABEL_IMAGE] = _image(spec)
        for key in (LABEL_RELEASED_AT, LABEL_RELEASE_IMAGE, LABEL_PREVIOUS_IMAGE):
            labels.pop(key, None)
        if rollback:
            labels[LABEL_ROLLED_BACK_FROM] = _image(svc["Spec"])
        else:
            release = _release(svc)  # kept: our change replaces Swarm's PreviousSpec
            if release.released_at is not None:
                labels[LABEL_RELEASED_AT] = release.released_at.isoformat()
                labels[LABEL_RELEASE_IMAGE] = _image(spec)
                labels[LABEL_PREVIOUS_IMAGE] = release.previous_image
        spec["Labels"] = labels
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
