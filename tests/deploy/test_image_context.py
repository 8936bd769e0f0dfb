"""The nexus-ml image's files, without an engine: dependency closure, project, base rootfs."""

from __future__ import annotations

import importlib.metadata as md
import os
import stat
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest

from nexus_ml.deploy.base_image import PY, _shared_libraries, python_rootfs
from nexus_ml.deploy.dockerfiles import NEXUS_ML_DOCKERFILE, write_nexus_ml_context
from nexus_ml.deploy.image_build import local_base_tag, local_site_dir
from nexus_ml.deploy.image_context import (
    DEFAULT_SITE_DIR,
    MANIFEST,
    Project,
    fill_nexus_ml_context,
    project_files,
    runtime_distributions,
    source_root,
    write_dependencies,
    write_manifest,
    write_project,
)
from nexus_ml.errors import ConfigError

SITE = DEFAULT_SITE_DIR.lstrip("/")


def _names(dists: list[md.Distribution]) -> set[str]:
    return {d.metadata["Name"].lower().replace("_", "-") for d in dists}


def test_the_closure_is_the_runtime_dependencies_and_nothing_of_dev_or_bench() -> None:
    project = Project.read(source_root())
    names = _names(runtime_distributions(project.dependencies))
    assert {"numpy", "scikit-learn", "mlflow", "fastapi", "uvicorn", "typer"} <= names
    assert "psycopg-binary" in names  # pulled in by the extra of psycopg[binary]
    assert "flask" in names  # a dependency of a dependency (mlflow)
    # installed here for the tests and benches, not needed by the image
    assert not names & {"pytest", "ruff", "mypy", "statsforecast", "schemathesis", "nexus-ml"}


@pytest.mark.parametrize(
    ("requirement", "needle"),
    [
        ("surely-not-installed-dist", "not installed here"),
        ("numpy<1", "does not satisfy it"),
        ("numpy >>> 2", "not a valid requirement"),
    ],
)
def test_an_unusable_requirement_is_a_config_error_naming_it(requirement: str, needle: str) -> None:
    with pytest.raises(ConfigError, match=needle) as err:
        runtime_distributions([requirement])
    assert requirement.split()[0].split("<")[0] in str(err.value)


def _project(root: Path) -> Project:
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(
        '[project]\nname = "demo-app"\nversion = "1.2.3"\ndependencies = ["pyyaml>=5"]\n'
        '[project.scripts]\ndemo = "demo.cli:main"\n'
        '[tool.setuptools.packages.find]\ninclude = ["demo*"]\n'
        '[tool.setuptools.package-data]\ndemo = ["**/*.yaml", "data/*.txt"]\n'
    )
    files = {
        "demo/__init__.py": "",
        "demo/cli.py": "def main() -> int:\n    print('demo says hi')\n    return 0\n",
        "demo/conf.yaml": "a: 1\n",
        "demo/sub/__init__.py": "",
        "demo/sub/deep.yaml": "b: 2\n",
        "demo/data/table.txt": "x\n",
        "demo/data/blob.bin": "not package data",
        "demo/notes.md": "not package data",
        "demo/__pycache__/cli.cpython-311.pyc": "stale",
        "demo/not-a-package/script.py": "print('a directory that is no package')",
        "other/__init__.py": "",
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return Project.read(root)


def test_project_files_follow_the_wheel_rules(tmp_path: Path) -> None:
    got = {rel.as_posix() for _src, rel in project_files(_project(tmp_path))}
    assert got == {
        "demo/__init__.py",
        "demo/cli.py",
        "demo/conf.yaml",
        "demo/sub/__init__.py",
        "demo/sub/deep.yaml",
        "demo/data/table.txt",
    }


def test_the_project_is_installed_with_bytecode_metadata_and_its_script(tmp_path: Path) -> None:
    project = _project(tmp_path / "src")
    dest = tmp_path / "app"
    (script,) = write_project(project, dest, DEFAULT_SITE_DIR)
    site = dest / SITE
    assert script == dest / "usr/local/bin/demo"
    assert script.read_text().startswith("#!/usr/local/bin/python3\n")
    assert script.stat().st_mode & stat.S_IXOTH
    assert list((site / "demo" / "__pycache__").glob("cli.*.pyc"))
    # importlib.metadata finds the distribution and its entry point where it was put
    (dist,) = md.distributions(path=[str(site)])
    assert (dist.metadata["Name"], dist.version) == ("demo-app", "1.2.3")
    assert [ep.value for ep in dist.entry_points] == ["demo.cli:main"]
    # the script runs the entry point (with this interpreter standing in for the image's)
    out = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(site)},
        timeout=60,
    )
    assert out.returncode == 0 and out.stdout == "demo says hi\n"


def test_dependencies_are_laid_out_without_test_suites_or_scripts(tmp_path: Path) -> None:
    dists = runtime_distributions(["numpy"])
    placed = write_dependencies(dists, tmp_path, DEFAULT_SITE_DIR)
    site = tmp_path / SITE
    files = [p.relative_to(site) for p in site.rglob("*") if p.is_file()]
    assert len(files) == placed and (site / "numpy" / "__init__.py").is_file()
    assert any(f.parts[0].endswith(".dist-info") and f.name == "RECORD" for f in files)
    assert not any("tests" in f.parts for f in files)
    assert not (tmp_path / "usr/local/bin").exists()
    # bytecode keeps its source's mtime, so the installed .pyc stays valid in the image
    source = site / "numpy" / "__init__.py"
    original = Path(str(dists[0].locate_file("numpy/__init__.py")))
    assert source.stat().st_mtime_ns == original.stat().st_mtime_ns


def test_the_manifest_lists_each_distribution_and_version(tmp_path: Path) -> None:
    dists = runtime_distributions(["psycopg[binary]"])
    lines = write_manifest(dists, tmp_path).read_text().split()
    assert (tmp_path / MANIFEST.lstrip("/")).is_file()
    assert lines == sorted(lines)
    assert f"psycopg-binary=={md.version('psycopg-binary')}" in lines


def test_fill_lays_out_both_trees_for_a_pullable_base(tmp_path: Path) -> None:
    context = write_nexus_ml_context(tmp_path / "ctx")
    assert (context / "Dockerfile").read_text() == NEXUS_ML_DOCKERFILE
    files = fill_nexus_ml_context(context, project_root=_project(tmp_path / "src").root)
    assert files.scripts == ("demo",) and files.distributions == 1  # pyyaml
    assert (context / "deps" / SITE / "yaml" / "__init__.py").is_file()
    assert (context / "deps" / MANIFEST.lstrip("/")).read_text().startswith("pyyaml==")
    assert (context / "app" / SITE / "demo" / "cli.py").is_file()


def test_ldd_results_leave_out_what_a_package_bundles() -> None:
    numpy_core = Path(str(md.distribution("numpy").locate_file("numpy/_core")))
    ext = sorted(numpy_core.glob("_multiarray_umath*.so"))
    site = numpy_core.parents[1]
    everything = {p.name for p in _shared_libraries(ext)}
    system = {p.name for p in _shared_libraries(ext, bundled=site)}
    assert "libc.so.6" in system and "libstdc++.so.6" in system
    bundled = everything - system
    assert bundled and all("openblas" in n or "gfortran" in n or "quadmath" in n for n in bundled)


def test_the_local_base_carries_the_packages_and_their_system_libraries(tmp_path: Path) -> None:
    lsap = Path(str(md.distribution("scipy").locate_file("scipy/optimize")))
    (ext,) = lsap.glob("_lsap.cpython-*.so")  # a small C++ extension: needs libstdc++
    packages = tmp_path / "deps"
    target = packages / SITE / "scipy" / "optimize" / ext.name
    target.parent.mkdir(parents=True)
    os.link(ext, target)
    with tarfile.open(python_rootfs(tmp_path / "base.tar", packages=packages)) as tar:
        names = tar.getnames()
    assert len(names) == len(set(names))  # docker import refuses repeated paths
    assert f"{SITE}/scipy/optimize/{ext.name}" in names
    assert any(n.endswith("/libstdc++.so.6") for n in names)
    cache = f"usr/local/lib/{PY}/__pycache__/"
    assert any(
        n.startswith(cache) and n.endswith(f".{sys.implementation.cache_tag}.pyc") for n in names
    )
    assert not any(n.startswith(cache) and ".opt-" in n for n in names)


def test_the_site_directory_is_the_one_the_base_interpreter_reads() -> None:
    assert local_site_dir().startswith(f"/usr/local/lib/{PY}/")
    debian = Path("/usr/bin") / PY
    if debian.exists():  # Debian's own interpreter names it dist-packages
        assert local_site_dir(Path("/usr")) == f"/usr/local/lib/{PY}/dist-packages"


def test_the_base_tag_changes_with_what_goes_into_the_base() -> None:
    assert local_base_tag("a" * 16) == local_base_tag("a" * 16)
    assert local_base_tag("a" * 16) != local_base_tag("b" * 16)
    assert local_base_tag("a" * 16).startswith(PY.removeprefix("python") + "-")
