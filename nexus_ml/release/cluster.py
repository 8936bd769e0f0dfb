"""The release pipeline's side effects on the cluster, behind two small protocols.

:class:`Cluster` is what the pipeline asks of Docker Swarm (deploy a stack, read a service,
roll an image out); :class:`Proxy` is staging's nginx. :class:`SwarmCluster` and
:class:`NginxProcess` are the real ones; the unit tests pass in-memory fakes.
"""

from __future__ import annotations

import json
import os
import subprocess
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from nexus_ml.deploy import docker_cli
from nexus_ml.errors import ClusterError
from nexus_ml.logs import get_logger

log = get_logger(__name__)

#: Swarm task states after which a task will not run again (it failed or was refused).
DEAD_STATES = frozenset({"failed", "rejected", "orphaned"})


@dataclass(frozen=True)
class ServiceTasks:
    """The tasks of one service as Swarm sees them now.

    Attributes
    ----------
    running
        Tasks that should run and do (past their healthcheck).
    failures
        Error messages of tasks that died (``task: non-zero exit (137): unhealthy container``).
    """

    running: int
    failures: tuple[str, ...] = ()


class Cluster(Protocol):
    """What the release pipeline does on Swarm."""

    def service_spec(self, service: str) -> Mapping[str, Any] | None:
        """``docker service inspect`` of ``service`` (``None`` when there is none)."""

    def deploy_stack(self, stack_text: str, name: str) -> None: ...

    def remove_stack(self, name: str) -> None: ...

    def tasks(self, service: str) -> ServiceTasks: ...

    def update_image(self, service: str, image: str) -> None:
        """Start a rolling update of ``service`` to ``image`` (rollback on failure)."""


class Proxy(Protocol):
    """Staging's reverse proxy."""

    def start(self, config_text: str) -> None: ...

    def stop(self) -> None: ...


def docker(*args: str, env: Mapping[str, str] | None = None, timeout: float = 600) -> str:
    """``docker ARGS`` (:func:`nexus_ml.deploy.docker_cli.docker`); a hung CLI is a ClusterError."""
    try:
        return docker_cli.docker(*args, env=env, timeout=timeout)
    except subprocess.TimeoutExpired:
        raise ClusterError(f"docker {args[0]} did not answer within {timeout:g} s") from None


def service_image(spec: Mapping[str, Any]) -> str:
    """The image of a ``docker service inspect`` document."""
    return str(spec["Spec"]["TaskTemplate"]["ContainerSpec"]["Image"])


@dataclass
class SwarmCluster:
    """Docker Swarm through the ``docker`` CLI (``DOCKER_HOST`` chooses the engine).

    Parameters
    ----------
    env
        Extra environment for ``docker stack deploy`` (variables the stack file reads).
    resolve_image
        ``always`` asks the registry for each image's digest at deploy; ``never`` uses the
        reference as written (images pinned by digest need no lookup).
    """

    env: Mapping[str, str] = field(default_factory=dict)
    resolve_image: str = "never"
    remove_timeout_s: float = 60.0

    def service_spec(self, service: str) -> Mapping[str, Any] | None:
        try:
            doc: list[dict[str, Any]] = json.loads(docker("service", "inspect", service))
        except ClusterError as exc:
            if "no such service" in str(exc).lower():
                return None
            raise
        return doc[0] if doc else None

    def deploy_stack(self, stack_text: str, name: str) -> None:
        fd, path = tempfile.mkstemp(prefix=f"{name}-", suffix=".yml")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(stack_text)
            docker(
                "stack",
                "deploy",
                "--resolve-image",
                self.resolve_image,
                "-c",
                path,
                name,
                env=self.env,
                timeout=300,
            )
        finally:
            Path(path).unlink(missing_ok=True)
        log.info("release.stack_deployed", stack=name)

    def remove_stack(self, name: str) -> None:
        """Remove the stack and wait until none of its containers runs (they hold its ports).

        Swarm deletes the stopped containers' files in the background (slow on ``vfs``):
        nothing needs to wait for that.
        """
        docker("stack", "rm", name, timeout=120)
        label = f"label=com.docker.stack.namespace={name}"
        deadline = time.monotonic() + self.remove_timeout_s
        while docker("ps", "-q", "--filter", label).strip():
            if time.monotonic() > deadline:
                raise ClusterError(f"stack {name}: containers still running after removal")
            time.sleep(0.3)
        log.info("release.stack_removed", stack=name)

    def tasks(self, service: str) -> ServiceTasks:
        out = docker(
            "service",
            "ps",
            service,
            "--no-trunc",
            "--format",
            "{{.DesiredState}}\t{{.CurrentState}}\t{{.Error}}",
        )
        running, failures = 0, []
        for line in out.splitlines():
            desired, current, error = [*line.split("\t"), "", "", ""][:3]
            state = current.split(" ", 1)[0].lower()
            if desired.lower() == "running" and state == "running":
                running += 1
            elif state in DEAD_STATES and error.strip():
                failures.append(error.strip().strip('"'))  # `service ps` quotes the error
        return ServiceTasks(running, tuple(failures))

    def update_image(self, service: str, image: str) -> None:
        args = ["service", "update", "--detach", "--image", image]
        args += ["--update-failure-action", "rollback"]
        if "@sha256:" in image or self.resolve_image == "never":
            args.append("--no-resolve-image")
        docker(*args, service, timeout=120)
        log.info("release.update_started", service=service, image=image)


@dataclass
class NginxProcess:
    """nginx run as a child process with its runtime files under ``workdir``."""

    binary: str
    workdir: Path
    _proc: subprocess.Popen[bytes] | None = field(default=None, init=False)

    def start(self, config_text: str) -> None:
        (self.workdir / "tmp").mkdir(parents=True, exist_ok=True)
        conf = self.workdir / "nginx.conf"
        conf.write_text(config_text, encoding="utf-8")
        check = subprocess.run(
            [self.binary, "-t", "-q", "-p", str(self.workdir), "-c", str(conf), "-e", "stderr"],
            capture_output=True,
            text=True,
            timeout=30,
        )
        if check.returncode != 0:
            raise ClusterError(f"staging nginx config refused: {check.stderr.strip()[-300:]}")
        args = [self.binary, "-p", str(self.workdir), "-c", str(conf), "-e", "stderr"]
        with open(self.workdir / "nginx.log", "wb") as errors:
            self._proc = subprocess.Popen(
                [*args, "-g", "daemon off;"],
                stdout=subprocess.DEVNULL,
                stderr=errors,
            )
        log.info("release.proxy_started", pid=self._proc.pid)

    def stop(self) -> None:
        if self._proc is not None and self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait(timeout=10)
        self._proc = None
