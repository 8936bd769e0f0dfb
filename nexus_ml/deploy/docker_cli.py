"""Image building and pushing through the ``docker`` CLI (the commands an operator would run)."""

from __future__ import annotations

import json
import os
import subprocess
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import IO

from nexus_ml.errors import ClusterError
from nexus_ml.logs import get_logger

log = get_logger(__name__)


def docker(*args: str, env: Mapping[str, str] | None = None, timeout: float = 600) -> str:
    """Run ``docker ARGS``; its stdout, or a :class:`ClusterError` quoting its stderr."""
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.run(
        ["docker", *args], capture_output=True, text=True, env=full_env, timeout=timeout
    )
    if proc.returncode != 0:
        tail = (proc.stderr or proc.stdout).strip().splitlines()[-3:]
        raise ClusterError(f"docker {args[0]} failed ({proc.returncode}): {' | '.join(tail)}")
    return proc.stdout


def import_image(rootfs: Path, ref: str, changes: Sequence[str] = ()) -> str:
    """``docker import`` a root filesystem tar as ``ref``; the image id."""
    flags = [arg for change in changes for arg in ("--change", change)]
    return docker("import", *flags, str(rootfs), ref).strip()


def import_stream(
    write: Callable[[IO[bytes]], None], ref: str, changes: Sequence[str] = (), timeout: float = 900
) -> str:
    """``docker import -`` of the tar that ``write`` streams to it, as ``ref``; the image id.

    Nothing is written to disk on this side: the engine unpacks while ``write`` produces.
    """
    flags = [arg for change in changes for arg in ("--change", change)]
    proc = subprocess.Popen(
        ["docker", "import", *flags, "-", ref],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdin is not None
    try:
        write(proc.stdin)
    except BrokenPipeError:  # the engine gave up: its stderr says why
        pass
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    # communicate() flushes and closes stdin (ignoring a broken pipe), then reads the id
    out, err = proc.communicate(timeout=timeout)
    if proc.returncode != 0:
        tail = err.decode(errors="replace").strip().splitlines()[-3:]
        raise ClusterError(f"docker import failed ({proc.returncode}): {' | '.join(tail)}")
    return out.decode().strip()


def build_image(context: Path, ref: str, build_args: Mapping[str, str] | None = None) -> str:
    """``docker build`` (classic builder: no frontend image to pull) as ``ref``; the image id."""
    args = [f"--build-arg={k}={v}" for k, v in sorted((build_args or {}).items())]
    docker("build", "-q", "-t", ref, *args, str(context), env={"DOCKER_BUILDKIT": "0"})
    return docker("image", "inspect", "--format", "{{.Id}}", ref).strip()


def push_image(ref: str) -> str:
    """``docker push`` ``ref`` and return the registry's manifest digest (``sha256:…``)."""
    docker("push", ref)
    digests = json.loads(docker("image", "inspect", "--format", "{{json .RepoDigests}}", ref))
    repo = ref.rsplit(":", 1)[0] if ":" in ref.rsplit("/", 1)[-1] else ref
    for entry in digests or []:
        name, _, digest = entry.partition("@")
        if name == repo:
            return str(digest)
    raise ClusterError(f"pushed {ref} but the engine recorded no digest for {repo}")


def registry_digest(registry_url: str, repository: str, tag: str) -> str:
    """The digest the registry itself serves for ``repository:tag`` (v2 API ``HEAD``)."""
    req = urllib.request.Request(
        f"{registry_url.rstrip('/')}/v2/{repository}/manifests/{tag}",
        method="HEAD",
        headers={"Accept": "application/vnd.docker.distribution.manifest.v2+json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return str(resp.headers["Docker-Content-Digest"])
