"""Issue 19, CLI: every bad input is exit 2 with one line on stderr, never a traceback, and
never a credential."""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from typer.testing import CliRunner

from nexus_ml.cli.main import app
from nexus_ml.settings import get_settings

SECRET = "s3cr3t-Pw-0xA7"


@pytest.fixture(autouse=True)
def _fresh_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Iterator[None]:
    for name in ("NEXUS_PG_DSN", "NEXUS_PROMETHEUS_URL", "NEXUS_API_TOKEN", "NEXUS_CONFIG"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NEXUS_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("NEXUS_CONFIG", str(tmp_path / "absent.yaml"))
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


def run(*args: str) -> tuple[int, str]:
    get_settings.cache_clear()
    result = CliRunner().invoke(app, list(args))
    err = result.stderr
    assert "Traceback" not in result.output + err, (result.output + err)[-2000:]
    assert result.exception is None or isinstance(result.exception, SystemExit), repr(
        result.exception
    )
    return result.exit_code, err


def one_line_error(code: int, err: str) -> str:
    assert code == 2, err
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def test_bad_settings(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("NEXUS_LANGUAGE", "fr")
    assert "NEXUS_LANGUAGE" in one_line_error(*run("modules"))
    monkeypatch.delenv("NEXUS_LANGUAGE")
    for text in (
        b"a: [\n",
        b"\xff\xfe: x\n",
        b"- just\n- a list\n",
        b"a: &x [1]\nb: *x\n",
        b"~: 1\n",  # a name that is not a word (null, a number) crashed pydantic-settings
        b"1: x\n",
    ):
        (tmp_path / "nexus.yaml").write_bytes(text)
        monkeypatch.setenv("NEXUS_CONFIG", str(tmp_path / "nexus.yaml"))
        assert "nexus.yaml" in one_line_error(*run("modules"))


@given(value=st.text(min_size=0, max_size=20).filter(lambda v: v not in ("pt", "en")))
@settings(max_examples=25, deadline=None, suppress_health_check=list(HealthCheck))
def test_any_bad_language_is_exit_2(value: str) -> None:
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("NEXUS_LANGUAGE", value.replace("\x00", ""))
        code, err = run("modules")
    if value.replace("\x00", "") in ("pt", "en"):
        return
    one_line_error(code, err)


def test_non_utf8_files(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_bytes(b"modules:\n  - name: \xff\xfe\n")
    monkeypatch.setenv("NEXUS_CATALOG_PATH", str(bad))
    assert "UTF-8" in one_line_error(*run("modules"))
    monkeypatch.delenv("NEXUS_CATALOG_PATH")
    assert "UTF-8" in one_line_error(*run("migrate", "map", "--map", str(bad)))
    mig = tmp_path / "migrations" / "crm"
    mig.mkdir(parents=True)
    (mig / "0001_x.sql").write_bytes(b"-- migrate:up\nSELECT '\xff';\n")
    line = one_line_error(*run("migrate", "plan", "--migrations-dir", str(tmp_path / "migrations")))
    assert "0001_x.sql" in line and "UTF-8" in line
    code, err = run("incident", "collect", "-m", "crm", "-t", "MEMORY_LEAK", "--plans", str(bad))
    one_line_error(code, err)


def test_yaml_alias_bomb_is_refused_in_a_short_line(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    levels = ["a: &a [x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 9):
        prev, name = chr(ord("a") + i - 1), chr(ord("a") + i)
        levels.append(f"{name}: &{name} [{', '.join(['*' + prev] * 9)}]")
    bomb = tmp_path / "bomb.yaml"
    bomb.write_text("\n".join(levels) + "\nmodules: *i\n")
    assert bomb.stat().st_size < 600
    monkeypatch.setenv("NEXUS_CATALOG_PATH", str(bomb))
    line = one_line_error(*run("modules"))
    assert "aliases" in line and len(line) < 300


@given(data=st.binary(max_size=300))
@settings(max_examples=40, deadline=None, suppress_health_check=list(HealthCheck))
def test_any_catalog_bytes_give_a_table_or_exit_2(data: bytes) -> None:
    with pytest.MonkeyPatch.context() as mp, _tmp_file(data) as path:
        mp.setenv("NEXUS_CATALOG_PATH", str(path))
        code, err = run("modules")
    if code != 0:
        one_line_error(code, err)


class _tmp_file:
    def __init__(self, data: bytes) -> None:
        import tempfile

        self.dir = tempfile.TemporaryDirectory()
        self.path = Path(self.dir.name) / "catalog.yaml"
        self.path.write_bytes(data)

    def __enter__(self) -> Path:
        return self.path

    def __exit__(self, *exc: object) -> None:
        self.dir.cleanup()


def test_bad_durations_times_and_paths(tmp_path: Path) -> None:
    assert "1970" in one_line_error(
        *run("simulate", "--days", "1", "--start", "1900-01-01", "--out", str(tmp_path / "x.pq"))
    )
    one_line_error(*run("audit", "--since", "99999999999d"))
    one_line_error(
        *run("metrics", "fetch", "--module", "crm", "--since", "99999999999d", "--out", "x.csv")
    )
    one_line_error(
        *run("incident", "collect", "-m", "crm", "-t", "MEMORY_LEAK", "--since", "99999999999d")
    )
    line = one_line_error(
        *run("incident", "report", "nope", "--out", str(tmp_path / "no" / "r.md"))
    )
    assert "nope" in line or "no" in line


def test_replay_traces_are_bounded_before_allocation(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    assert "empty" in one_line_error(*run("replay", str(empty)))
    span = tmp_path / "span.csv"
    span.write_text("ts,value\n0,1\n7258118400,2\n")  # 1970 .. 2200: 120 M minutes
    assert "spans" in one_line_error(*run("replay", str(span)))


def test_migrate_options_and_dsns_never_show_the_password() -> None:
    dsn = f"host=127.0.0.1 port=1 user=u password={SECRET}"
    for opt in (("--lock-timeout", "abc"), ("--statement-timeout=-5",)):
        line = one_line_error(*run("migrate", "all-modules", "--dsn", dsn, *opt))
        assert opt[0].split("=")[0] in line
    for bad in (f"postgresql://u:{SECRET}%ZZ@127.0.0.1/db", f"postgresql://u:{SECRET}@[::1/db"):
        code, err = run("migrate", "status", "--dsn", bad)
        assert SECRET not in err and "invalid PostgreSQL DSN" in one_line_error(code, err)


def test_prometheus_credentials_are_never_printed(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("NEXUS_PROMETHEUS_URL", f"http://admin:{SECRET}@127.0.0.1:9/")
    monkeypatch.setenv("NEXUS_PROMETHEUS_TIMEOUT_S", "1")
    code, err = run(
        "metrics", "fetch", "--module", "crm", "--since", "1h", "--out", str(tmp_path / "m.csv")
    )
    assert code == 3 and SECRET not in err and "***@127.0.0.1" in err


def test_out_into_a_missing_folder(tmp_path: Path) -> None:
    line = one_line_error(*run("migrate", "map", "--write-docs", str(tmp_path / "no" / "m.md")))
    assert str(tmp_path / "no" / "m.md") in line and "No such file" in line


def test_library_argument_errors_are_exit_2() -> None:
    import typer

    from nexus_ml.cli.common import exits_cleanly

    @exits_cleanly
    def writes_into_nowhere() -> None:  # what pandas raises for to_csv into a missing folder
        raise OSError("Cannot save file into a non-existent directory: 'nodir/sub'")

    with pytest.raises(typer.Exit) as exit_:
        writes_into_nowhere()
    assert exit_.value.exit_code == 2


@given(data=st.binary(max_size=200))
@settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck))
def test_any_settings_file_gives_a_table_or_exit_2(data: bytes) -> None:
    with pytest.MonkeyPatch.context() as mp, _tmp_file(data) as path:
        mp.setenv("NEXUS_CONFIG", str(path))
        code, err = run("modules")
    if code != 0:
        one_line_error(code, err)


def test_non_utf8_query_catalog(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("NEXUS_PROMETHEUS_URL", "http://127.0.0.1:9")  # queries are for it
    bad = tmp_path / "queries.yaml"
    bad.write_bytes(b"fields:\n  cpu_usage: \xff\xfe\n")
    out = str(tmp_path / "m.csv")
    code, err = run("metrics", "fetch", "--module", "crm", "--queries", str(bad), "--out", out)
    one_line_error(code, err)


def test_piped_output_gets_room_for_wide_tables(monkeypatch: pytest.MonkeyPatch) -> None:
    """Without a terminal rich would fold tables to 80 columns; a pipe has no screen to fit."""
    from nexus_ml.cli import common

    monkeypatch.delenv("COLUMNS", raising=False)
    assert common._console(file=io.StringIO()).width == common.PIPE_WIDTH
    monkeypatch.setenv("COLUMNS", "100")  # the user's choice wins
    assert common._console(file=io.StringIO()).width == 100
