"""Which release a Swarm service runs, and the spec of the release before it.

A release is a change of what the containers run: the image (a digest the Engine pinned is
ignored) or its configuration — environment, arguments, command, configs, secrets, mounts. A
change of replicas or a forced restart is not one. Swarm keeps one ``PreviousSpec``; the
executor's own changes (a scale) replace it, so nexus-ml stamps labels on every spec it posts:

- ``io.nexus-ml.container``: the release key of the container it posted (a spec whose key
  differs was released by someone else since);
- ``io.nexus-ml.released-at``, ``io.nexus-ml.release`` and ``io.nexus-ml.previous-container``
  (the container spec the release replaced, as JSON, its image included): the release and what
  to return to, kept across the executor's changes;
- ``io.nexus-ml.rolled-back-from``: after a rollback by nexus-ml, the key of the release left.

The previous container spec can hold the configuration's environment; it is written where
that environment already is (the service spec), and never read into logs or the audit trail.
"""

from __future__ import annotations

import copy
import hashlib
import json
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from nexus_ml.errors import ClusterError
from nexus_ml.execute.backend import (
    LABEL_CONTAINER,
    LABEL_PREVIOUS_CONTAINER,
    LABEL_RELEASE,
    LABEL_RELEASED_AT,
    LABEL_REPLICAS,
    LABEL_ROLLED_BACK_FROM,
)

# what the containers run, beyond the image: a change of any of these is a release
_CONFIG_FIELDS = ("Env", "Args", "Command", "Configs", "Secrets", "Mounts", "User", "Dir")
# what a task's spec is compared on to tell whether it runs the service's current template
# (fields the Engine copies to tasks as they are)
_TASK_FIELDS = ("Env", "Args", "Command")


def image(spec: dict[str, Any]) -> str:
    return str(container(spec)["Image"])


def desired_replicas(spec: dict[str, Any]) -> int:
    """The replica count a service spec asks for."""
    return int(spec.get("Mode", {}).get("Replicated", {}).get("Replicas", 0))


def container(spec: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = spec["TaskTemplate"]["ContainerSpec"]
    return result


def _key(fields: dict[str, Any], names: tuple[str, ...]) -> str:
    defining = {name: fields[name] for name in names if fields.get(name)}
    defining["Image"] = str(fields.get("Image", "")).split("@", 1)[0]
    text = json.dumps(defining, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def release_key(container_spec: dict[str, Any]) -> str:
    """A short digest of what the containers run (image without digest, configuration)."""
    return _key(container_spec, _CONFIG_FIELDS)


def runs_template(task: dict[str, Any], template: dict[str, Any]) -> bool:
    """Whether ``task`` runs ``template``: same forced-update counter, same image (a digest the
    Engine pinned on the task is ignored), same environment, arguments and command."""
    spec = task.get("Spec") or {}
    if int(spec.get("ForceUpdate", 0)) != int(template.get("ForceUpdate", 0)):
        return False
    ran = spec.get("ContainerSpec") or {}
    wanted = template.get("ContainerSpec") or {}
    return _key(ran, _TASK_FIELDS) == _key(wanted, _TASK_FIELDS)


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


def rollout_started_at(svc: dict[str, Any]) -> datetime | None:
    """When Swarm began rolling out the spec ``svc`` runs.

    ``UpdatedAt`` moves with every write to the service, the updater's own included: its start
    a moment after the post, its completion minutes later. The release time is the updater's
    ``StartedAt``, which stays put until the next change (every change clears the update status);
    before the updater has stamped it (a few milliseconds), the time of the post.
    """
    status = svc.get("UpdateStatus") or {}
    return engine_time(status.get("StartedAt")) or engine_time(svc.get("UpdatedAt"))


@dataclass(frozen=True)
class Release:
    """The release a service runs, as its spec, previous spec and our labels tell."""

    released_at: datetime | None
    rolled_back: bool
    previous_container: dict[str, Any] | None = None  # what the release replaced

    @property
    def previous_image(self) -> str:
        """The image the release replaced ("" unknown)."""
        return str(self.previous_container["Image"]) if self.previous_container else ""


def release_of(svc: dict[str, Any]) -> Release:
    """The release ``svc`` (an Engine service inspect) runs."""
    spec = svc["Spec"]
    labels = spec.get("Labels") or {}
    key = release_key(container(spec))
    previous = container(svc["PreviousSpec"]) if svc.get("PreviousSpec") else None
    ours = labels.get(LABEL_CONTAINER) == key
    if (
        previous is not None
        and ours
        and labels.get(LABEL_ROLLED_BACK_FROM) == release_key(previous)
    ):
        return Release(None, True)  # our rollback: a known version, not a release
    if str((svc.get("UpdateStatus") or {}).get("State", "")).startswith("rollback"):
        return Release(None, True)  # `docker service rollback` (or Swarm's own on failure)
    if previous is not None and release_key(previous) != key:
        return Release(rollout_started_at(svc), False, previous)
    if labels.get(LABEL_RELEASE) == key:  # a release we changed since (a scale)
        kept = labels.get(LABEL_PREVIOUS_CONTAINER)
        return Release(
            engine_time(labels.get(LABEL_RELEASED_AT)), False, json.loads(kept) if kept else None
        )
    return Release(None, False)


def rollback_spec(name: str, svc: dict[str, Any]) -> dict[str, Any]:
    """The spec of the release before the current one, with the replicas running now (capacity
    is the executor's, not the release's).

    Swarm's ``PreviousSpec`` when it still is the release before; otherwise (the executor
    changed the spec since the release) the current spec running the container the release
    replaced, as our labels kept it.
    """
    current, previous = svc["Spec"], svc.get("PreviousSpec")
    spec: dict[str, Any]
    if previous and release_key(container(previous)) != release_key(container(current)):
        spec = copy.deepcopy(previous)
        spec["Mode"] = copy.deepcopy(current.get("Mode", spec.get("Mode")))
        return spec
    release = release_of(svc)
    if release.previous_container is not None:
        spec = copy.deepcopy(current)
        spec["TaskTemplate"]["ContainerSpec"] = copy.deepcopy(release.previous_container)
        return spec
    raise ClusterError(f"service {name!r} has no previous release to roll back to")


def stamp(spec: dict[str, Any], svc: dict[str, Any], *, rollback: bool) -> None:
    """Write our labels on ``spec``, about to be posted over ``svc`` (on a rollback too, so it
    is not mistaken for a change by hand); a change that is not a rollback keeps the release
    ``svc`` runs (our post replaces Swarm's PreviousSpec)."""
    labels = dict(spec.get("Labels") or {})
    labels[LABEL_REPLICAS] = str(desired_replicas(spec))
    labels[LABEL_CONTAINER] = release_key(container(spec))
    for name in (LABEL_RELEASED_AT, LABEL_RELEASE, LABEL_PREVIOUS_CONTAINER):
        labels.pop(name, None)
    if rollback:
        labels[LABEL_ROLLED_BACK_FROM] = release_key(container(svc["Spec"]))
    else:
        release = release_of(svc)
        if release.released_at is not None:
            labels[LABEL_RELEASED_AT] = release.released_at.isoformat()
            labels[LABEL_RELEASE] = release_key(container(spec))
            if release.previous_container is not None:
                labels[LABEL_PREVIOUS_CONTAINER] = json.dumps(
                    release.previous_container, sort_keys=True, separators=(",", ":")
                )
    spec["Labels"] = labels
