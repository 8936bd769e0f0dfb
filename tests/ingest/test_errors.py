"""Unreachable or slow Prometheus, PromQL errors: one IngestError naming URL and cause, in time."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from nexus_ml.errors import IngestError
from nexus_ml.ingest.prometheus_source import PrometheusSource
from nexus_ml.ingest.promserver import free_port
from nexus_ml.ingest.queries import QueryCatalog, load_query_catalog

END = datetime.now(UTC).replace(second=0, microsecond=0)
START = END - timedelta(hours=1)


@pytest.fixture
def silent_server() -> Iterator[str]:
    """A socket that accepts connections and never answers (a hung server)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(16)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


def test_connection_refused_names_url_and_cause_quickly() -> None:
    url = f"http://127.0.0.1:{free_port()}"
    began = time.monotonic()
    with pytest.raises(IngestError) as err:
        PrometheusSource(url, timeout_s=2).fetch(["nexus-crm"], START, END)
    assert time.monotonic() - began < 2
    assert url in str(err.value) and "unreachable" in str(err.value)
    assert "ConnectionError" in str(err.value) and "refused" in str(err.value).lower()
    assert err.value.details["url"] == url


def test_hung_server_fails_within_the_timeout(silent_server: str) -> None:
    began = time.monotonic()
    with pytest.raises(IngestError, match=r"did not answer within 0\.5 s") as err:
        PrometheusSource(silent_server, timeout_s=0.5).fetch(["nexus-crm"], START, END)
    assert time.monotonic() - began < 3  # one timeout, no retries, the other queries cancelled
    assert silent_server in str(err.value)


@pytest.mark.integration
def test_promql_error_surfaces_the_query_text(prometheus_url: str) -> None:
    catalog = load_query_catalog()
    fields = dict(catalog.fields)
    fields["error_rate"] = 'rate(nexus:error_rate{module=~"{modules}"}[oops])'
    broken = QueryCatalog(fields=fields, source="broken")
    with pytest.raises(IngestError) as err:
        PrometheusSource(prometheus_url, timeout_s=5, catalog=broken).fetch(
            ["nexus-crm"], START, END
        )
    message = str(err.value)
    assert 'rate(nexus:error_rate{module=~"nexus-crm"}[oops])' in message
    assert "rejected query" in message and "bad_data" in message
    assert prometheus_url in message


def test_cli_prints_one_line_and_exit_code_without_traceback(tmp_path: Path) -> None:
    from nexus_ml.cli.main import app

    url = f"http://127.0.0.1:{free_port()}"
    args = [
        "metrics",
        "fetch",
        "--module",
        "crm",
        "--since",
        "1h",
        "--prometheus-url",
        url,
        "--out",
        str(tmp_path / "crm.parquet"),
    ]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == IngestError.exit_code
    assert "Traceback" not in result.output
    lines = [line for line in result.output.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error:") and url in lines[0]
    assert not (tmp_path / "crm.parquet").exists()


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--module", "nope"], "unknown module 'nope'"),
        (["--since", "7x"], "not a duration: '7x'"),
        (["--out", "crm.json"], "must end in .parquet or .csv"),
    ],
)
def test_cli_rejects_bad_arguments(tmp_path: Path, args: list[str], message: str) -> None:
    from nexus_ml.cli.main import app

    base = ["metrics", "fetch", "--prometheus-url", "http://127.0.0.1:1"]
    if "--out" not in args:
        args = [*args, "--out", str(tmp_path / "x.parquet")]
    result = CliRunner().invoke(app, [*base, *args])
    assert result.exit_code == 2, result.output
    assert message in result.output and "Traceback" not in result.output


def test_cli_backfill_of_a_missing_file_is_one_line(tmp_path: Path) -> None:
    from nexus_ml.cli.main import app

    result = CliRunner().invoke(
        app, ["prometheus", "backfill", str(tmp_path / "nope.parquet"), "--tsdb", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "nope.parquet" in result.output and "Traceback" not in result.output


def test_cli_without_prometheus_fetches_from_the_simulator(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from nexus_ml.cli.main import app
    from nexus_ml.settings import get_settings

    monkeypatch.delenv("NEXUS_PROMETHEUS_URL", raising=False)
    monkeypatch.setenv("NEXUS_CONFIG", str(tmp_path / "absent.yaml"))
    get_settings.cache_clear()
    try:
        out = tmp_path / "crm.csv"
        end = "2026-11-02T12:00:00+00:00"
        result = CliRunner().invoke(
            app, ["metrics", "fetch", "-m", "crm", "--since", "2h", "--end", end, "--out", str(out)]
        )
    finally:
        get_settings.cache_clear()
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert len(frame) == 121 and set(frame["module"]) == {"nexus-crm"}
    assert frame["requests_per_min"].notna().all()
    assert "100.0%" in result.output  # the quality table: full coverage
