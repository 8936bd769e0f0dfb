"""Build the ``nexus-ml`` image offline: a local base with the dependencies, then ``docker build``.

On a machine that cannot pull ``python:3.11-slim``:

1. the base is this interpreter (:mod:`nexus_ml.deploy.base_image`) plus the runtime
   dependencies as this environment installed them (:mod:`nexus_ml.deploy.image_context`)
   and the system libraries their extension modules link against, streamed into
   ``docker import``: the ~800 MB are written once. Its tag is a hash of what went in, so an
   engine that has it skips this step (and keeps the build cache of the layers above);
2. ``docker build`` runs the Dockerfile production builds from ``python:3.11-slim``, with
   only the list of the dependencies in ``deps/`` (the base carries them) and nexus-ml
   itself in ``app/``.

Why not ``COPY deps/`` offline too: the classic builder (no BuildKit here) writes a copied
file four or five times (context upload, the step's container, the commit, then deleting
both), which for 20,000 files and 800 MB took minutes on these machines.

With a base that can be pulled, pass ``base="python:3.11-slim"``: the context then holds the
dependencies in ``deps/`` and the same Dockerfile installs them.
"""

from __future__ import annotations

import hashlib
import logging
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

from nexus_ml.deploy.base_image import IMPORT_CHANGES, PY, stream_python_rootfs
from nexus_ml.deploy.docker_cli import build_image, docker, import_stream
from nexus_ml.deploy.dockerfiles import write_nexus_ml_context
from nexus_ml.deploy.image_context import (
    DEFAULT_SITE_DIR,
    Project,
    dependencies_key,
    runtime_distributions,
    source_root,
    write_dependencies,
    write_manifest,
    write_project,
)
from nexus_ml.errors import ClusterError

log = logging.getLogger(__name__)

#: Repository of the local base (tagged with a hash of its contents).
LOCAL_BASE_REPO = "nexus-python"


@dataclass(frozen=True)
class ImageBuild:
    """One build of the nexus-ml image.

    Attributes
    ----------
    ref
        The tag built (``registry/nexus-ml:0.1.0``).
    image_id
        The engine's image id (``sha256:…``).
    base
        The base image it was built on.
    base_imported
        Whether this build made and imported the local base (``False``: reused or pulled).
    distributions
        How many runtime distributions the image holds (nexus-ml aside).
    seconds
        Wall time of each step: ``context``, ``base``, ``build``.
    """

    ref: str
    image_id: str
    base: str
    base_imported: bool
    distributions: int
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def total_seconds(self) -> float:
        """The whole build."""
        return sum(self.seconds.values())


def local_site_dir(prefix: Path | None = None) -> str:
    """The ``site-packages`` of the local base: this interpreter relocated to ``/usr/local``.

    Asked of the interpreter itself, because Debian's ``site`` module names it differently
    (``dist-packages``) from python.org's builds and ``python:3.11-slim``.
    """
    exe = (prefix or Path(sys.base_prefix)) / "bin" / PY
    proc = subprocess.run(
        [str(exe), "-I", "-S", "-c", "import site; print(*site.getsitepackages(['/usr/local']))"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    candidates = proc.stdout.split()
    if proc.returncode != 0 or not candidates:
        raise ClusterError(f"{exe} could not name its site-packages: {proc.stderr.strip()[-200:]}")
    # Debian lists /usr/local/local/... first; the one under lib/pythonX.Y is the usual place
    for path in candidates:
        if path.startswith(f"/usr/local/lib/{PY}/"):
            return path
    return candidates[0]


def local_base_tag(deps_key: str, busybox: Path = Path("/bin/busybox")) -> str:
    """The local base's tag: a hash of the interpreter, busybox and the dependencies."""
    stat = busybox.stat() if busybox.exists() else None
    h = hashlib.sha256(
        f"{sys.version}|{sys.base_prefix}|{stat and (stat.st_size, stat.st_mtime_ns)}".encode()
    )
    h.update(deps_key.encode())
    return f"{PY.removeprefix('python')}-{h.hexdigest()[:12]}"


def _image_exists(ref: str) -> bool:
    try:
        docker("image", "inspect", "--format", "{{.Id}}", ref)
    except ClusterError:
        return False
    return True


def build_nexus_ml_image(
    workdir: Path,
    ref: str,
    *,
    base: str | None = None,
    base_repository: str = LOCAL_BASE_REPO,
    project_root: Path | None = None,
) -> ImageBuild:
    """Build the nexus-ml image as ``ref`` from this checkout and this environment.

    Parameters
    ----------
    workdir
        Scratch directory; the context is written to ``workdir/nexus-ml``.
    ref
        Tag of the image (``127.0.0.1:5000/nexus-ml:0.1.0``).
    base
        A base with ``python3`` that the engine has or can pull (``python:3.11-slim``): the
        dependencies then go into the context. ``None``: make the base locally, dependencies
        included (nothing is pulled), as ``base_repository:<hash>``.
    project_root
        The nexus-ml checkout (default: the one this code runs from).

    Raises
    ------
    ClusterError
        The engine refused a step (its message quoted).
    ConfigError
        The environment lacks a runtime dependency of ``pyproject.toml``.
    """
    seconds: dict[str, float] = {}
    t0 = time.perf_counter()
    project = Project.read(project_root or source_root())
    dists = runtime_distributions(project.dependencies)
    site = DEFAULT_SITE_DIR if base is not None else local_site_dir()
    context = write_nexus_ml_context(workdir / "nexus-ml")
    write_project(project, context / "app", site)
    write_manifest(dists, context / "deps")
    if base is not None:
        write_dependencies(dists, context / "deps", site)
    seconds["context"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    imported = False
    if base is None:
        base = f"{base_repository}:{local_base_tag(dependencies_key(dists, site))}"
        if not _image_exists(base):
            staged = workdir / "base-deps"  # hard links into this environment: no bytes copied
            write_dependencies(dists, staged, site)
            try:
                write = partial(stream_python_rootfs, packages=staged)
                import_stream(write, base, IMPORT_CHANGES)
            finally:
                shutil.rmtree(staged, ignore_errors=True)
            imported = True
    seconds["base"] = time.perf_counter() - t0
    t0 = time.perf_counter()
    image_id = build_image(context, ref, {"BASE": base})
    seconds["build"] = time.perf_counter() - t0
    build = ImageBuild(ref, image_id, base, imported, len(dists), seconds)
    log.info(
        "image.built ref=%s base=%s base_imported=%s seconds=%.1f",
        ref,
        base,
        imported,
        build.total_seconds,
    )
    return build
