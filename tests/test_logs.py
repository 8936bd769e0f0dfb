"""Structured log lines: JSON and key=value output, redaction, the CLI's --log-format."""

from __future__ import annotations

import io
import json
import logging
import logging.config
import os
import re
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from nexus_ml.logs import (
    StructuredFormatter,
    configure_logging,
    get_logger,
    render_text,
    uvicorn_log_config,
)

SECRET = "s3cr3t-Value-9f8e7d6c"
_PAIR = re.compile(r'(\w+)=("(?:[^"\\]|\\.)*"|\S+)')


def parse_text(line: str) -> tuple[str, dict[str, object]]:
    """``ts level logger event k=v ...`` back into the event and its fields."""
    ts, level, logger, rest = line.split(" ", 3)
    event, _, pairs = rest.partition(" ")
    fields: dict[str, object] = {"ts": ts, "level": level, "logger": logger}
    for key, raw in _PAIR.findall(pairs):
        fields[key] = json.loads(raw) if raw.startswith('"') else raw
    return event, fields


@pytest.fixture
def logger() -> Iterator[logging.Logger]:
    """A private logger writing into a buffer, not propagating to pytest's capture."""
    raw = logging.getLogger("tests.logs.probe")
    raw.propagate = False
    raw.setLevel(logging.DEBUG)
    yield raw
    raw.handlers.clear()
    raw.propagate = True


def _emit(raw: logging.Logger, kind: str, secrets: list[str] | None = None) -> io.StringIO:
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(StructuredFormatter(kind, secrets=secrets or []))  # type: ignore[arg-type]
    raw.handlers[:] = [handler]
    return buffer


def test_json_line_holds_event_and_typed_fields(logger: logging.Logger) -> None:
    buffer = _emit(logger, "json")
    get_logger(logger.name).warning(
        "executor.action_failed",
        module="nexus-crm",
        replicas=4,
        ratio=0.5,
        ok=False,
        path=Path("a"),
    )
    (line,) = buffer.getvalue().splitlines()
    record = json.loads(line)
    assert record["event"] == "executor.action_failed"
    assert record["level"] == "warning" and record["logger"] == "tests.logs.probe"
    assert (record["module"], record["replicas"], record["ratio"]) == ("nexus-crm", 4, 0.5)
    assert record["ok"] is False and record["path"] == "a"
    assert record["ts"].endswith("+00:00")


def test_text_line_is_key_value_and_round_trips(logger: logging.Logger) -> None:
    buffer = _emit(logger, "text")
    detail = 'timeout after 5 s (said "no")'
    get_logger(logger.name).info("alert.sent", module="nexus-crm", detail=detail, count=3)
    (line,) = buffer.getvalue().splitlines()
    event, fields = parse_text(line)
    assert event == "alert.sent"
    assert fields["level"] == "info" and fields["module"] == "nexus-crm"
    assert fields["detail"] == detail and fields["count"] == "3"


def test_a_traceback_stays_on_the_events_line(logger: logging.Logger) -> None:
    buffer = _emit(logger, "json")
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        get_logger(logger.name).exception("executor.tick_failed", tick=2)
    (line,) = buffer.getvalue().splitlines()
    record = json.loads(line)
    assert record["event"] == "executor.tick_failed" and "RuntimeError: boom" in record["exc"]


@pytest.mark.parametrize("kind", ["json", "text"])
def test_secrets_in_fields_are_masked(logger: logging.Logger, kind: str) -> None:
    buffer = _emit(logger, kind, secrets=[SECRET])
    try:
        raise ValueError(f"login with {SECRET} refused")
    except ValueError as exc:
        get_logger(logger.name).exception(
            "store.unavailable",
            error=str(exc),
            dsn=f"postgresql://nexus:{SECRET}@db/nexus",
            api_token="abc-unregistered-token",
            url="http://ops:hunter22@prom:9090/api",
        )
    text = buffer.getvalue()
    assert SECRET not in text and "abc-unregistered-token" not in text
    assert "hunter22" not in text
    (line,) = text.splitlines()
    fields = json.loads(line) if kind == "json" else parse_text(line)[1]
    assert fields["dsn"] == "***" and fields["api_token"] == "***"
    assert fields["error"] == "login with *** refused"
    assert fields["url"] == "http://ops:***@prom:9090/api"


def test_the_records_own_message_is_the_key_value_text() -> None:
    # what pytest's caplog and a host application without our formatter show
    assert (
        render_text("a.b", {"x": 1, "y": "two words", "z": None}) == 'a.b x=1 y="two words" z=null'
    )


def test_uvicorn_access_lines_become_fields(logger: logging.Logger) -> None:
    buffer = _emit(logger, "json")
    access = logging.getLogger("uvicorn.access")
    record = access.makeRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", "GET", f"/v1/decisions?token={SECRET}", "1.1", 200),
        None,
    )
    logger.handlers[0].handle(record)
    line = json.loads(buffer.getvalue())
    assert line["event"] == "http.request" and line["status"] == 200
    assert line["path"] == "/v1/decisions?token=***"


def test_uvicorn_log_config_routes_uvicorn_through_the_formatter() -> None:
    config = uvicorn_log_config("json", "info")
    formatter = config["formatters"]["structured"]
    built = formatter["()"](kind=formatter["kind"])
    assert isinstance(built, StructuredFormatter) and built.kind == "json"
    assert all(config["loggers"][n]["propagate"] for n in ("uvicorn", "uvicorn.access"))
    assert config["root"]["level"] == "INFO"


def test_bad_format_and_level_are_refused() -> None:
    with pytest.raises(ValueError, match="got 'xml'"):
        StructuredFormatter("xml")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="got 'loud'"):
        configure_logging("text", "loud")


_PROBE = textwrap.dedent(
    """
    import os
    import sys
    from nexus_ml.cli.main import app
    from nexus_ml.logs import get_logger

    @app.command("probe")
    def probe() -> None:
        get_logger("nexus_ml.probe").warning(
            "probe.fired", note="token=abcdef123456 x", seen=os.environ.get("NEXUS_API_TOKEN")
        )

    app(sys.argv[1:])
    """
)


def _run_cli(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    environ = {k: v for k, v in os.environ.items() if not k.startswith("NEXUS_")}
    environ |= {"NEXUS_STATE_DIR": str(tmp_path), "NEXUS_CONFIG": str(tmp_path / "none.yaml")}
    return subprocess.run(
        [sys.executable, "-c", _PROBE, *args],
        capture_output=True,
        text=True,
        timeout=60,
        env=environ | env,
        cwd=tmp_path,
        check=False,
    )


def test_cli_log_format_option_and_setting(tmp_path: Path) -> None:
    as_json = _run_cli(["--log-format", "json", "probe"], tmp_path, NEXUS_API_TOKEN=SECRET)
    assert as_json.returncode == 0, as_json.stderr
    (line,) = [json.loads(x) for x in as_json.stderr.splitlines()]
    assert line["event"] == "probe.fired" and line["note"] == "token=*** x"
    assert line["seen"] == "***" and SECRET not in as_json.stderr  # the settings' secrets

    from_env = _run_cli(["probe"], tmp_path, NEXUS_LOG_FORMAT="json")
    assert json.loads(from_env.stderr)["event"] == "probe.fired"

    as_text = _run_cli(["probe"], tmp_path)
    event, fields = parse_text(as_text.stderr.strip())
    assert event == "probe.fired" and fields["level"] == "warning"

    bad = _run_cli(["--log-format", "xml", "probe"], tmp_path)
    assert bad.returncode == 2 and "--log-format must be 'json' or 'text', got 'xml'" in bad.stderr


def test_fields_are_masked_before_any_handler(caplog: pytest.LogCaptureFixture) -> None:
    # pytest's capture (or a host application's handler) never sees a recognisable credential
    with caplog.at_level(logging.INFO, logger="tests.logs.plain"):
        get_logger("tests.logs.plain").info(
            "probe", url="http://ops:hunter22@prom:9090", password="pw-9876"
        )
    assert "probe url=" in caplog.text
    assert "hunter22" not in caplog.text and "pw-9876" not in caplog.text
