"""The files of the ``nexus-ml`` image: its runtime dependencies and nexus-ml itself, laid out.

The image's build context holds two root-filesystem trees (see
:data:`nexus_ml.deploy.dockerfiles.NEXUS_ML_DOCKERFILE`):

``deps/``
    Every distribution in the closure of ``[project] dependencies`` of ``pyproject.toml`` (no
    extras: no dev, bench or dask), copied from the environment that runs this code with the
    files its installer recorded (``RECORD``), so the image holds exactly the versions the
    tests ran against. Nothing is downloaded, no wheel is built or unpacked: this is what
    makes the build fast and offline. Test suites inside packages are left out. With them,
    their list (:data:`MANIFEST`); offline, the base made by :mod:`nexus_ml.deploy.image_build`
    carries the distributions and ``deps/`` holds only the list.
``app/``
    nexus-ml's own packages as its wheel would hold them (the ``packages.find`` and
    ``package-data`` rules of ``pyproject.toml``), compiled to bytecode, a ``dist-info`` with
    its entry points, and the console scripts of ``[project.scripts]``.

Both are laid out from ``/`` with the base image's ``site-packages`` directory, so the
Dockerfile only ``COPY``\\ s them, in two layers: a code change rebuilds only ``app/``.
"""

from __future__ import annotations

import compileall
import fnmatch
import hashlib
import importlib.metadata as md
import logging
import os
import py_compile
import re
import shutil
import sys
import tomllib
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import InvalidRequirement, Requirement

from nexus_ml.errors import ConfigError

log = logging.getLogger(__name__)

#: Where ``python:3.11-slim`` (and the local base) look for installed packages.
DEFAULT_SITE_DIR = (
    f"/usr/local/lib/python{sys.version_info.major}.{sys.version_info.minor}/site-packages"
)
#: The interpreter the console scripts run (the same path in both bases).
IMAGE_PYTHON = "/usr/local/bin/python3"
#: Directories inside a package that the image never imports: the package's own test suite.
PRUNED_DIRS = frozenset({"tests"})
#: The list of the runtime distributions in the image (:func:`write_manifest`).
MANIFEST = "/usr/local/share/nexus-ml/dependencies.txt"
#: Bumped when the layout of ``deps/`` changes, so a cached tree keyed on it is not reused.
LAYOUT_VERSION = "1"


def _norm(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True)
class Project:
    """What ``pyproject.toml`` says about the distribution the image installs."""

    root: Path
    name: str
    version: str
    dependencies: tuple[str, ...]
    scripts: dict[str, str] = field(default_factory=dict)
    include: tuple[str, ...] = ("*",)
    package_data: dict[str, tuple[str, ...]] = field(default_factory=dict)

    @classmethod
    def read(cls, root: Path) -> Project:
        """The project at ``root`` (its ``pyproject.toml``); a :class:`ConfigError` if absent."""
        path = root / "pyproject.toml"
        try:
            doc = tomllib.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise ConfigError(
                f"{path}: not found; the nexus-ml image is built from a source checkout",
                field="pyproject.toml",
            ) from None
        project = doc.get("project", {})
        tool = doc.get("tool", {}).get("setuptools", {})
        find = tool.get("packages", {}).get("find", {})
        return cls(
            root=root,
            name=str(project["name"]),
            version=str(project["version"]),
            dependencies=tuple(project.get("dependencies", [])),
            scripts=dict(project.get("scripts", {})),
            include=tuple(find.get("include", ["*"])),
            package_data={k: tuple(v) for k, v in tool.get("package-data", {}).items()},
        )


def source_root() -> Path:
    """The checkout this package runs from (where ``pyproject.toml`` is)."""
    return Path(__file__).resolve().parents[2]


def runtime_distributions(requirements: Iterable[str]) -> list[md.Distribution]:
    """The installed distributions ``requirements`` need, transitively, sorted by name.

    Markers are evaluated for this interpreter; a requirement's extras pull in the
    dependencies they name (``psycopg[binary]`` brings ``psycopg-binary``).

    Raises
    ------
    ConfigError
        A requirement is not installed, or its installed version does not satisfy it.
    """
    installed = {_norm(d.metadata["Name"]): d for d in md.distributions()}
    todo = [_parse(r, "pyproject.toml [project] dependencies") for r in requirements]
    seen: set[tuple[str, frozenset[str]]] = set()
    found: dict[str, md.Distribution] = {}
    while todo:
        req = todo.pop()
        key = (_norm(req.name), frozenset(req.extras))
        if key in seen:
            continue
        seen.add(key)
        dist = installed.get(key[0])
        if dist is None:
            raise ConfigError(f"{req}: not installed here (run make venv)", field=req.name)
        if req.specifier and not req.specifier.contains(dist.version, prereleases=True):
            raise ConfigError(
                f"{req}: installed version {dist.version} does not satisfy it", field=req.name
            )
        found[key[0]] = dist
        for text in dist.requires or []:
            sub = _parse(text, f"{dist.metadata['Name']} requirements")
            extras = ["", *sorted(req.extras)]
            if sub.marker is None or any(sub.marker.evaluate({"extra": e}) for e in extras):
                todo.append(sub)
    return [found[n] for n in sorted(found)]


def _parse(text: str, where: str) -> Requirement:
    try:
        return Requirement(text)
    except InvalidRequirement as exc:
        reason = str(exc).splitlines()[0]
        raise ConfigError(
            f"{where}: {text!r} is not a valid requirement ({reason})", field=where
        ) from None


def dependencies_key(dists: Iterable[md.Distribution], site_dir: str) -> str:
    """A short hash of what ``deps/`` holds: the same key, the same files."""
    h = hashlib.sha256(f"{LAYOUT_VERSION}|{sys.version}|{site_dir}".encode())
    for dist in dists:
        h.update(f"|{_norm(dist.metadata['Name'])}=={dist.version}".encode())
    return h.hexdigest()[:16]


def _distribution_files(dist: md.Distribution) -> Iterator[tuple[Path, Path]]:
    """(installed file, path relative to site-packages) of ``dist``, test suites left out."""
    if dist.files is None:
        name = dist.metadata["Name"]
        raise ConfigError(f"{name}: installed without a RECORD; reinstall it with pip", field=name)
    site = Path(str(dist.locate_file(""))).resolve()
    for entry in dist.files:
        rel = Path(os.path.normpath(entry))
        # console scripts (../../../bin/...) are the environment's, not the package's
        if rel.is_absolute() or rel.parts[0] == "..":
            continue
        if any(part in PRUNED_DIRS for part in rel.parts[1:-1]):
            continue
        source = site / rel
        if source.is_file():
            yield source, rel


def _place(source: Path, target: Path) -> None:
    """A hard link when the source is on the same file system (no bytes copied), else a copy.

    Either way the modification time is the source's, which keeps the installed bytecode
    (stamped with its source's mtime) valid inside the image.
    """
    target.parent.mkdir(parents=True, exist_ok=True)
    try:
        os.link(source, target)
    except OSError:
        shutil.copy2(source, target)


def write_dependencies(dists: Iterable[md.Distribution], dest: Path, site_dir: str) -> int:
    """Lay the files of ``dists`` out under ``dest`` + ``site_dir``; how many were placed."""
    site = dest / site_dir.lstrip("/")
    count = 0
    for dist in dists:
        for source, rel in _distribution_files(dist):
            target = site / rel
            if not target.exists():
                _place(source, target)
                count += 1
    return count


def write_manifest(dists: Iterable[md.Distribution], dest: Path) -> Path:
    """``dest/usr/local/share/nexus-ml/dependencies.txt``: ``name==version`` per distribution.

    What the image holds, readable without Python; it also keeps ``deps/`` from being empty
    when the base carries the packages (the classic builder fails a ``COPY`` that follows
    the ``COPY`` of an empty directory: "layer does not exist", moby/moby#40591).
    """
    path = dest / MANIFEST.lstrip("/")
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = sorted(f"{_norm(d.metadata['Name'])}=={d.version}" for d in dists)
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


def project_files(project: Project) -> Iterator[tuple[Path, Path]]:
    """(file, path relative to site-packages) of the project's wheel, bytecode left out.

    Packages follow ``[tool.setuptools.packages.find]`` (namespace packages included, as
    setuptools does for ``pyproject.toml``); besides ``*.py`` a package carries only the
    files its ``package-data`` globs name.
    """
    for top in sorted(p for p in project.root.iterdir() if p.is_dir()):
        if not top.name.isidentifier() or not any(
            fnmatch.fnmatchcase(top.name, pattern) for pattern in project.include
        ):
            continue
        globs = project.package_data.get(top.name, ())
        for path in sorted(top.rglob("*")):
            rel = path.relative_to(project.root)
            if not path.is_file() or "__pycache__" in rel.parts:
                continue
            inner = path.relative_to(top)
            packaged = all(part.isidentifier() for part in rel.parts[:-1])
            is_module = packaged and path.suffix == ".py"
            if is_module or any(_package_data(inner, g) for g in globs):
                yield path, rel


def _package_data(inner: Path, pattern: str) -> bool:
    if fnmatch.fnmatchcase(inner.as_posix(), pattern):
        return True
    # setuptools reads "**/" as "any directories, none included"; fnmatch needs one at least
    return pattern.startswith("**/") and fnmatch.fnmatchcase(inner.name, pattern[3:])


def write_project(project: Project, dest: Path, site_dir: str) -> list[Path]:
    """The project's packages, bytecode, ``dist-info`` and scripts under ``dest``.

    Returns
    -------
    list[Path]
        The console scripts written (``dest/usr/local/bin/<name>``).
    """
    site = dest / site_dir.lstrip("/")
    tops: set[str] = set()
    for source, rel in project_files(project):
        target = site / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, target)
        tops.add(rel.parts[0])
    # bytecode made here with the image's interpreter version, checked by hash rather than
    # by mtime (which COPY may not keep); a read-only image could never write it at start
    compileall.compile_dir(
        site, quiet=2, workers=1, invalidation_mode=py_compile.PycInvalidationMode.CHECKED_HASH
    )
    dist_info = site / f"{project.name.replace('-', '_')}-{project.version}.dist-info"
    dist_info.mkdir(parents=True, exist_ok=True)
    (dist_info / "METADATA").write_text(
        f"Metadata-Version: 2.1\nName: {project.name}\nVersion: {project.version}\n"
        + "".join(f"Requires-Dist: {r}\n" for r in project.dependencies),
        encoding="utf-8",
    )
    (dist_info / "INSTALLER").write_text("nexus-ml-image\n", encoding="utf-8")
    (dist_info / "top_level.txt").write_text("".join(f"{t}\n" for t in sorted(tops)))
    (dist_info / "entry_points.txt").write_text(
        "[console_scripts]\n" + "".join(f"{k} = {v}\n" for k, v in sorted(project.scripts.items()))
    )
    scripts = []
    for name, entry in sorted(project.scripts.items()):
        module, _, func = entry.partition(":")
        script = dest / "usr" / "local" / "bin" / name
        script.parent.mkdir(parents=True, exist_ok=True)
        script.write_text(
            f"#!{IMAGE_PYTHON}\nimport sys\nfrom {module} import {func}\n"
            f"if __name__ == '__main__':\n    sys.exit({func}())\n",
            encoding="utf-8",
        )
        script.chmod(0o755)
        scripts.append(script)
    return scripts


@dataclass(frozen=True)
class ContextFiles:
    """What :func:`fill_nexus_ml_context` put in a build context."""

    distributions: int
    dependency_files: int
    dependencies_key: str
    scripts: tuple[str, ...]


def fill_nexus_ml_context(
    context: Path, site_dir: str = DEFAULT_SITE_DIR, project_root: Path | None = None
) -> ContextFiles:
    """Fill ``context/deps`` and ``context/app`` (see the module docstring); both are replaced.

    Parameters
    ----------
    context
        A build context written by :func:`nexus_ml.deploy.dockerfiles.write_nexus_ml_context`.
    site_dir
        The base image's ``site-packages`` (``python:3.11-slim``'s by default).
    project_root
        The nexus-ml checkout (default: the one this code runs from).
    """
    project = Project.read(project_root or source_root())
    dists = runtime_distributions(project.dependencies)
    for part in ("deps", "app"):
        shutil.rmtree(context / part, ignore_errors=True)
        (context / part).mkdir(parents=True)
    placed = write_dependencies(dists, context / "deps", site_dir)
    write_manifest(dists, context / "deps")
    scripts = write_project(project, context / "app", site_dir)
    key = dependencies_key(dists, site_dir)
    log.info(
        "image.context_filled context=%s distributions=%d files=%d key=%s",
        context,
        len(dists),
        placed,
        key,
    )
    return ContextFiles(len(dists), placed, key, tuple(s.name for s in scripts))
