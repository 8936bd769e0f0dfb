"""The static snapshot opens from a file, with no server and no request to anywhere."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from service.dashboard.snapshot import write_snapshot
from tests.dashboard.fixture_history import build_history, module_names, utc_minute

pytestmark = pytest.mark.slow


def test_snapshot_renders_offline(browser: Any, tmp_path: Path, screenshots: Path) -> None:
    names = module_names(4, keep=("nexus-crm",))
    history = build_history(names, end=utc_minute(), minutes=720, markers_per_module=4)
    path = write_snapshot(history, tmp_path / "snapshot" / "dashboard.html", lang="en")
    context = browser.new_context(viewport={"width": 1600, "height": 900})
    page = context.new_page()
    requests: list[str] = []
    errors: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    page.on("pageerror", lambda e: errors.append(str(e)))
    try:
        page.goto(path.as_uri())
        page.wait_for_function("window.__nexusDash && window.__nexusDash.complete", timeout=20_000)
        assert sorted(page.evaluate("window.__nexusDash.modules()")) == sorted(names)
        for name in names:
            series = page.evaluate("(n) => window.__nexusDash.series(n)", name)
            assert series["actual"] == 720 and series["bands"] == 1
            shown = page.evaluate("(n) => window.__nexusDash.visibleMarkers(n)", name)
            assert shown == len(history.markers(name))
        assert "snapshot" in page.inner_text("#live")
        assert page.locator("#logout").count() == 0  # nothing live in a file
        page.screenshot(path=str(screenshots / "snapshot-en.png"))
    finally:
        context.close()
    assert errors == []
    assert requests == [path.as_uri()]  # scripts, styles and data are all inside the file
