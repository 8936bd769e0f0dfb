"""A Python base image made locally, for machines that cannot pull ``python:3.11-slim``.

The root filesystem is the host's own interpreter (``sys.base_prefix``): the executable, its
``libpython``, the standard library without tests, IDLE and Tk, the shared libraries they link
against (found with ``ldd``), and a static busybox for ``sh`` and ``wget``. It is imported with
``docker import``: nothing is downloaded.
"""

from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import tarfile
from collections.abc import Iterable
from pathlib import Path
from typing import IO, TYPE_CHECKING

if TYPE_CHECKING:
    from _typeshed import SupportsRead

from nexus_ml.errors import ClusterError

PY = f"python{sys.version_info.major}.{sys.version_info.minor}"
#: Parts of the standard library a service never imports.
SKIPPED = {
    "test",
    "idlelib",
    "tkinter",
    "turtledemo",
    "ensurepip",
    "lib2to3",
    "site-packages",
    "dist-packages",
}
#: Listed explicitly: ``docker import`` gives implicit parents mode 0700, which a non-root
#: user cannot traverse.
BASE_DIRS = (
    "bin",
    "etc",
    "tmp",
    "app",
    "lib",
    "lib64",
    "lib/x86_64-linux-gnu",
    "usr",
    "usr/lib",
    "usr/lib/x86_64-linux-gnu",
    "usr/local",
    "usr/local/bin",
    "usr/local/lib",
    f"usr/local/lib/{PY}",
)
BUSYBOX_APPLETS = ("sh", "wget", "cat", "ls", "sleep")


def _shared_libraries(binaries: Iterable[Path], bundled: Path | None = None) -> set[Path]:
    """The shared libraries ``binaries`` load, as ``ldd`` resolves them here.

    ``ldd`` takes the files in batches (one process per file costs seconds for a few hundred
    extension modules); libraries under ``bundled`` (a package's own, found through its
    ``$ORIGIN`` run path) are left out: they travel with the package.
    """
    libs: set[Path] = set()
    files = [str(b) for b in binaries]
    for start in range(0, len(files), 200):
        out = subprocess.run(
            ["ldd", *files[start : start + 200]], capture_output=True, text=True
        ).stdout
        for line in out.splitlines():
            # library lines are indented; with several files each block has a "file:" header
            match = re.match(r"\s+(?:\S+ => )?(/\S+\.so[.\d]*)", line)
            if match is None:
                continue
            lib = Path(match.group(1))
            if bundled is None or not lib.resolve().is_relative_to(bundled.resolve()):
                libs.add(lib)
    return libs


def extension_modules(packages: Path) -> list[Path]:
    """The shared objects (extension modules and bundled libraries) under ``packages``."""
    return sorted(p for p in packages.rglob("*.so*") if p.is_file() and not p.is_symlink())


def _add_library(tar: tarfile.TarFile, lib: Path) -> None:
    """``lib`` at the path the loader asks for; a symlink stays a link, with its target."""
    if lib.name.startswith("libpython"):  # found through the RUNPATH: LD_LIBRARY_PATH here
        _add_file(tar, lib.resolve(), f"usr/local/lib/{lib.name}")
        return
    arc = str(lib).lstrip("/")
    if lib.is_symlink():
        target = os.readlink(lib)
        info = tarfile.TarInfo(arc)
        info.type, info.linkname = tarfile.SYMTYPE, target
        tar.addfile(info)
        arc = (Path("/") / Path(arc).parent / target).as_posix().lstrip("/")
        arc = os.path.normpath(arc)
    _add_file(tar, lib.resolve(), arc)


class _UniqueTar(tarfile.TarFile):
    """A tar writer that keeps the first entry of a path: ``docker import`` refuses repeats
    (a directory both in the base layout and in the packages, two links to one library)."""

    def addfile(self, tarinfo: tarfile.TarInfo, fileobj: SupportsRead[bytes] | None = None) -> None:
        names: set[str] = self.__dict__.setdefault("_nexus_names", set())
        if tarinfo.name in names:
            return
        names.add(tarinfo.name)
        super().addfile(tarinfo, fileobj)


def _add_file(tar: tarfile.TarFile, source: Path, arcname: str) -> None:
    info = tar.gettarinfo(str(source), arcname=arcname)
    info.uid = info.gid = 0
    info.uname = info.gname = "root"
    with source.open("rb") as fh:
        tar.addfile(info, fh)


def _add_text(tar: tarfile.TarFile, arcname: str, text: str, mode: int = 0o644) -> None:
    data = text.encode()
    info = tarfile.TarInfo(arcname)
    info.size, info.mode = len(data), mode
    tar.addfile(info, io.BytesIO(data))


def _add_dir(tar: tarfile.TarFile, arcname: str, mode: int = 0o755) -> None:
    info = tarfile.TarInfo(arcname)
    info.type, info.mode = tarfile.DIRTYPE, mode
    tar.addfile(info)


def python_rootfs(
    dest: Path,
    prefix: Path | None = None,
    busybox: Path = Path("/bin/busybox"),
    *,
    packages: Path | None = None,
) -> Path:
    """Write the base root filesystem as a tar file at ``dest``.

    Parameters
    ----------
    dest
        The tar file to write.
    prefix
        The Python installation to copy (default: this interpreter's ``sys.base_prefix``).
    busybox
        A static busybox (Debian ``busybox-static``) for ``sh`` and ``wget``.
    packages
        Installed packages laid out from ``/`` (the ``deps/`` tree of the nexus-ml build
        context), added to the root filesystem with the system libraries their extension
        modules link against (``libstdc++``, ``libgcc_s``, ...), which the interpreter alone
        does not need.
    """
    with _UniqueTar.open(dest, "w") as tar:
        _write_rootfs(tar, prefix or Path(sys.base_prefix), busybox, packages)
    return dest


def stream_python_rootfs(
    out: IO[bytes],
    prefix: Path | None = None,
    busybox: Path = Path("/bin/busybox"),
    *,
    packages: Path | None = None,
) -> None:
    """:func:`python_rootfs` written to a stream (``docker import -``'s stdin), no file kept."""
    with _UniqueTar.open(fileobj=out, mode="w|") as tar:
        _write_rootfs(tar, prefix or Path(sys.base_prefix), busybox, packages)


def _write_rootfs(tar: tarfile.TarFile, prefix: Path, busybox: Path, packages: Path | None) -> None:
    stdlib = prefix / "lib" / PY
    exe = prefix / "bin" / PY
    if not exe.exists() or not stdlib.is_dir():
        raise ClusterError(f"no Python installation at {prefix} (looked for {exe})")
    dynload = sorted((stdlib / "lib-dynload").glob("*.so"))
    for d in BASE_DIRS:
        _add_dir(tar, d, 0o1777 if d == "tmp" else 0o755)
    _add_file(tar, exe, f"usr/local/bin/{PY}")
    for link in ("python3", "python"):
        info = tarfile.TarInfo(f"usr/local/bin/{link}")
        info.type, info.linkname = tarfile.SYMTYPE, PY
        tar.addfile(info)
    extensions = extension_modules(packages) if packages is not None else []
    for lib in sorted(_shared_libraries([exe, *dynload, *extensions], bundled=packages)):
        _add_library(tar, lib)
    for path in sorted(stdlib.rglob("*")):
        rel = path.relative_to(stdlib)
        skipped = rel.parts[0] in SKIPPED or rel.parts[0].startswith("config-")
        if skipped or path.is_symlink() or not _wanted_bytecode(rel):
            continue
        arc = f"usr/local/lib/{PY}/{rel.as_posix()}"
        if path.is_dir():
            _add_dir(tar, arc)
        else:
            _add_file(tar, path, arc)
    if packages is not None:
        for path in sorted(packages.rglob("*")):
            arc = path.relative_to(packages).as_posix()
            if path.is_dir():
                _add_dir(tar, arc)
            elif path.is_file():
                _add_file(tar, path, arc)
    _add_file(tar, busybox, "bin/busybox")
    for applet in BUSYBOX_APPLETS:
        info = tarfile.TarInfo(f"bin/{applet}")
        info.type, info.linkname = tarfile.SYMTYPE, "busybox"
        tar.addfile(info)
    _add_text(
        tar, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534::/tmp:/bin/sh\n"
    )
    _add_text(tar, "etc/group", "root:x:0:\nnogroup:x:65534:\n")


def _wanted_bytecode(rel: Path) -> bool:
    """Outside ``__pycache__`` everything; inside it the plain ``.pyc`` of this version.

    The standard library's bytecode saves compiling it at every start (a healthcheck starts
    Python every few seconds, and the image cannot write it back); the ``opt-1``/``opt-2``
    variants are only read under ``-O``.
    """
    if "__pycache__" not in rel.parts:
        return True
    tag = sys.implementation.cache_tag
    return rel.name == "__pycache__" or rel.name.endswith(f".{tag}.pyc")


#: ``docker import`` changes: the libraries copied from the prefix are found through this path.
IMPORT_CHANGES = (
    "ENV LD_LIBRARY_PATH=/usr/local/lib PATH=/usr/local/bin:/bin",
    'CMD ["python3"]',
)
