"""What counts as a release of a Swarm service, on Engine inspect documents."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from nexus_ml.errors import ClusterError
from nexus_ml.execute.swarm_release import release_of, rollback_spec, runs_template, stamp

UPDATED = "2026-12-04T10:00:00.123456789Z"


def spec(
    image: str = "reg/crm:1", env: list[str] | None = None, replicas: int = 1
) -> dict[str, Any]:
    container: dict[str, Any] = {"Image": image}
    if env is not None:
        container["Env"] = env
    return {
        "Name": "p_nexus-crm",
        "Labels": {},
        "Mode": {"Replicated": {"Replicas": replicas}},
        "TaskTemplate": {"ContainerSpec": container, "ForceUpdate": 0},
    }


def inspect(current: dict[str, Any], previous: dict[str, Any] | None) -> dict[str, Any]:
    svc: dict[str, Any] = {"Spec": current, "UpdatedAt": UPDATED, "Version": {"Index": 7}}
    if previous is not None:
        svc["PreviousSpec"] = previous
    return svc


@pytest.mark.parametrize(
    ("before", "after", "released"),
    [
        (spec(), spec("reg/crm:2"), True),  # a new image
        (spec(env=["A=1"]), spec(env=["A=2"]), True),  # a new configuration
        (spec(), spec("reg/crm:1@sha256:" + "a" * 64), False),  # the digest the Engine pinned
        (spec(replicas=1), spec(replicas=3), False),  # a scale
    ],
)
def test_a_release_is_a_new_image_or_configuration(
    before: dict[str, Any], after: dict[str, Any], released: bool
) -> None:
    release = release_of(inspect(after, before))
    assert (release.released_at is not None) is released
    assert not release.rolled_back


def test_the_release_time_is_the_rollouts_start_not_its_later_writes() -> None:
    """Swarm's updater writes the service when it starts and when it completes, moving
    ``UpdatedAt`` each time; the release happened once, when the rollout started."""
    posted = inspect(spec(env=["A=2"]), spec(env=["A=1"]))  # before the updater stamps it
    started = {**posted, "UpdatedAt": "2026-12-04T10:00:00.124Z"}
    started["UpdateStatus"] = {"State": "updating", "StartedAt": "2026-12-04T10:00:00.1239Z"}
    completed = {**started, "UpdatedAt": "2026-12-04T10:04:31.5Z"}
    completed["UpdateStatus"] = {**started["UpdateStatus"], "State": "completed"}
    times = [release_of(svc).released_at for svc in (posted, started, completed)]
    assert [t.isoformat() if t else None for t in times] == [
        "2026-12-04T10:00:00.123456+00:00",
        "2026-12-04T10:00:00.123900+00:00",
        "2026-12-04T10:00:00.123900+00:00",
    ]


def test_a_forced_restart_is_not_a_release() -> None:
    after = spec()
    after["TaskTemplate"]["ForceUpdate"] = 1
    assert release_of(inspect(after, spec())).released_at is None


def test_the_release_survives_our_scale_and_rolls_back_to_its_configuration() -> None:
    released = inspect(spec(env=["A=2"]), spec(env=["A=1"]))
    scaled = copy.deepcopy(released["Spec"])
    scaled["Mode"]["Replicated"]["Replicas"] = 3
    stamp(scaled, released, rollback=False)
    after_scale = inspect(scaled, released["Spec"])  # Swarm's PreviousSpec: the release itself
    kept = release_of(after_scale)
    assert kept.released_at == release_of(released).released_at
    back = rollback_spec("p_nexus-crm", after_scale)
    assert back["TaskTemplate"]["ContainerSpec"]["Env"] == ["A=1"]
    assert back["Mode"]["Replicated"]["Replicas"] == 3
    stamp(back, after_scale, rollback=True)
    assert release_of(inspect(back, scaled)).rolled_back


def test_no_previous_release_is_a_cluster_error() -> None:
    with pytest.raises(ClusterError, match="no previous release"):
        rollback_spec("p_nexus-crm", inspect(spec(), None))


def test_a_task_of_the_old_configuration_does_not_count_as_converged() -> None:
    template = spec(env=["A=1"])["TaskTemplate"]
    old = {"Spec": spec(env=["A=2"])["TaskTemplate"]}
    pinned = {"Spec": spec("reg/crm:1@sha256:" + "b" * 64, env=["A=1"])["TaskTemplate"]}
    assert not runs_template(old, template)
    assert runs_template(pinned, template)
