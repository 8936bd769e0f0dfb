"""``nexus-ml incident`` end to end on a simulated history; bad input → exit 2, one line."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from nexus_ml.cli.main import app
from nexus_ml.settings import get_settings
from nexus_ml.sim import MemoryLeak
from tests.crisis.conftest import at, history

LEAK = MemoryLeak(module="crm", start=at(13), duration=timedelta(hours=6), magnitude=0.4)
LEAK_ID = "20260309T1300Z-crm-memory-leak"


@pytest.fixture(autouse=True)
def _state(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("NEXUS_STATE_DIR", str(tmp_path / "state"))
    for name in ("NEXUS_PROMETHEUS_URL", "NEXUS_PG_DSN", "NEXUS_CATALOG_PATH"):
        monkeypatch.delenv(name, raising=False)
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "history.parquet"
    history(LEAK).to_parquet(path, index=False)
    return path


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["incident", *args])
    return result.exit_code, result.stdout, result.stderr


def collect_leak(source: Path, *extra: str) -> tuple[int, str, str]:
    return invoke("collect", "--module", "crm", "--type", "MEMORY_LEAK", "--start",
                  "2026-03-09T13:00", "--end", "2026-03-09T19:00", "--source", str(source),
                  *extra)  # fmt: skip


def test_collect_list_report_purge(source: Path, tmp_path: Path) -> None:
    code, out, err = collect_leak(source)
    assert code == 0, err
    assert f"collected {LEAK_ID}" in out
    folder = tmp_path / "state" / "incidents" / LEAK_ID
    assert (folder / "manifest.json").is_file() and (folder / "metrics.parquet").is_file()

    code, out, _ = invoke("list")
    assert code == 0 and "1 incident(s)" in out and "MEMORY_LE" in out

    code, out, err = invoke("report", LEAK_ID)
    assert code == 0, err
    text = (folder / "report.pt.md").read_text()
    assert "## Causa provável" in text and "Vazamento de memória" in text
    assert (folder / "report.pt.png").read_bytes()[:4] == b"\x89PNG"

    out_md = tmp_path / "out" / "report.md"
    code, _, err = invoke("report", LEAK_ID, "--lang", "en", "--out", str(out_md))
    assert code == 0, err
    assert "## Probable cause" in out_md.read_text() and "![Key metrics](report.png)" in (
        out_md.read_text()
    )
    assert (out_md.parent / "report.png").is_file()

    # The incident ended in March 2026 and is kept 60 days: the wall clock is past that.
    code, out, _ = invoke("purge", "--dry-run")
    assert code == 0 and f"would delete 1 incident(s): {LEAK_ID}" in out and folder.exists()
    code, out, _ = invoke("purge")
    assert code == 0 and f"deleted 1 incident(s): {LEAK_ID}" in out and not folder.exists()


def test_open_incident_is_not_purged_until_closed(source: Path) -> None:
    code, _, err = invoke("collect", "-m", "crm", "-t", "memory_leak", "--start",
                          "2026-03-09T13:00", "--source", str(source))  # fmt: skip
    assert code == 0, err
    code, out, _ = invoke("purge")
    assert code == 0 and "deleted 0 incident(s)" in out
    code, out, _ = invoke("close", LEAK_ID, "--at", "2026-03-09T19:00")
    assert code == 0 and "expires 2026-05-08 19:00" in out
    code, out, _ = invoke("purge")
    assert f"deleted 1 incident(s): {LEAK_ID}" in out


def one_line(err: str) -> str:
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, err
    assert "Traceback" not in err
    return lines[0]


@pytest.mark.parametrize(
    ("args", "quoted"),
    [
        (["collect", "-m", "crm", "-t", "LEAKY", "--source", "{src}"], "'LEAKY'"),
        (["collect", "-m", "billing", "-t", "CRASH", "--source", "{src}"], "'billing'"),
        (["collect", "-m", "crm", "-t", "CRASH", "--start", "yesterday", "--source", "{src}"],
         "'yesterday'"),
        (["collect", "-m", "crm", "-t", "CRASH", "--since", "two hours", "--source", "{src}"],
         "'two hours'"),
        (["collect", "-m", "crm", "-t", "CRASH", "--source", "{tmp}/nope.parquet"],
         "nope.parquet"),
        (["collect", "-m", "crm", "-t", "CRASH"], "NEXUS_PROMETHEUS_URL"),
        (["collect", "-m", "crm", "-t", "CRASH", "--source", "{src}", "--plans", "{tmp}/x.yaml"],
         "x.yaml"),
        (["report", "nope"], "'nope'"),
        (["report", "../../etc"], "'../../etc'"),
        (["report", LEAK_ID, "--lang", "fr"], "'fr'"),
        (["close", "nope"], "'nope'"),
    ],
)  # fmt: skip
def test_bad_input_exits_2_with_one_line(
    source: Path, tmp_path: Path, args: list[str], quoted: str
) -> None:
    args = [a.format(src=source, tmp=tmp_path) for a in args]
    code, _, err = invoke(*args)
    assert code == 2
    line = one_line(err)
    assert line.startswith("error:") and quoted in line


def test_no_data_in_the_window_exits_3(source: Path) -> None:
    code, _, err = invoke("collect", "-m", "crm", "-t", "CRASH", "--start", "2025-01-01T00:00",
                          "--end", "2025-01-01T01:00", "--source", str(source))  # fmt: skip
    assert code == 3 and "no metrics for nexus-crm" in one_line(err)


def test_collect_from_the_real_prometheus(
    prometheus_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The Prometheus path end to end: a window long before any scrape holds no data (exit 3),
    and a dead server is one line, not a traceback."""
    monkeypatch.setenv("NEXUS_PROMETHEUS_URL", prometheus_url)
    get_settings.cache_clear()
    code, _, err = invoke("collect", "-m", "crm", "-t", "UI_BUG", "--start", "2020-01-06T10:00",
                          "--end", "2020-01-06T10:30")  # fmt: skip
    assert code == 3 and "no metrics for nexus-crm" in one_line(err)
    assert "2020-01-06T09:30" in err  # the UI_BUG window: 30 min before the start

    monkeypatch.setenv("NEXUS_PROMETHEUS_URL", "http://127.0.0.1:1")
    monkeypatch.setenv("NEXUS_PROMETHEUS_TIMEOUT_S", "2")
    get_settings.cache_clear()
    code, _, err = invoke("collect", "-m", "crm", "-t", "UI_BUG", "--since", "10m")
    assert code == 3 and "127.0.0.1:1" in one_line(err)


def test_report_language_defaults_to_the_settings(
    source: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert collect_leak(source)[0] == 0
    monkeypatch.setenv("NEXUS_LANGUAGE", "en")
    get_settings.cache_clear()
    code, _, err = invoke("report", LEAK_ID)
    assert code == 0, err
    folder = tmp_path / "state" / "incidents" / LEAK_ID
    assert "## Probable cause" in (folder / "report.en.md").read_text()
