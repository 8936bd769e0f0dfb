"""``nexus-ml release MODULE --image REF``: routing to ``run`` and bad input → exit 2, one line."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nexus_ml.cli.main import app
from nexus_ml.settings import get_settings

runner = CliRunner()


@pytest.fixture(autouse=True)
def _state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("NEXUS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.delenv("NEXUS_PG_DSN", raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def release(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(app, ["release", *args])
    return result.exit_code, result.stdout, result.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["crm", "--image", "r/crm:2", "--network", "mesh"], "--network must be host or overlay"),
        (
            ["crm", "--image", "r/crm:2", "--staging-stack", "nexus"],
            "--staging-stack must differ from production's",
        ),
        (["crm", "--image", "r/crm:2"], "no database: pass --dsn or set NEXUS_PG_DSN"),
        (
            ["finance", "--image", "r/x:1", "--dsn", "postgresql://u@127.0.0.1:1/db"],
            "unknown module",
        ),
        (
            ["crm", "--image", "r/crm:2", "--dsn", "postgresql://u@127.0.0.1:1/db", "--id", "a b"],
            "release id must be",
        ),
        (
            [
                "crm",
                "--image",
                "r/crm:2",
                "--dsn",
                "postgresql://u@127.0.0.1:1/db",
                "--check",
                "smoke",
            ],
            "--check 'smoke': not a built-in check",
        ),
        (
            [
                "crm",
                "--image",
                "r/crm:2",
                "--dsn",
                "postgresql://u@127.0.0.1:1/db",
                "--nginx",
                "/no/nginx",
            ],
            "--nginx: no nginx binary",
        ),
    ],
)
def test_bad_input_exits_2_with_one_line_and_no_verdict(args: list[str], message: str) -> None:
    code, out, err = release(*args)
    assert code == 2, (out, err)
    assert out == ""
    assert message in " ".join(err.split())
    assert "Traceback" not in err


def test_release_module_is_release_run_module() -> None:
    # the same bad option reaches the same command through both spellings
    for prefix in ([], ["run"]):
        code, _out, err = release(*prefix, "crm", "--image", "x", "--network", "mesh")
        assert code == 2 and "--network must be host or overlay" in err
    # the other subcommands are not taken for a module
    code, _out, err = release("show", "never-judged")
    assert code == 2 and "no release verdict 'never-judged'" in err
