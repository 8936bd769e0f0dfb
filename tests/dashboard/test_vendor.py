"""The vendored uPlot is the npm package the lock file pins, with its licence."""

from __future__ import annotations

import json
import re

from service.dashboard.page import ASSETS

VENDOR = ASSETS / "vendor"


def _locked_version() -> str:
    lock = json.loads((ASSETS / "package-lock.json").read_text(encoding="utf-8"))
    wanted = json.loads((ASSETS / "package.json").read_text(encoding="utf-8"))["dependencies"]
    locked: str = lock["packages"]["node_modules/uplot"]["version"]
    assert wanted["uplot"] == locked, "package.json and package-lock.json disagree"
    return locked


def test_vendored_uplot_matches_the_locked_npm_version() -> None:
    version = _locked_version()
    recorded = json.loads((VENDOR / "uplot.version.json").read_text(encoding="utf-8"))
    assert recorded == {"name": "uplot", "version": version, "license": "MIT"}
    banner = (VENDOR / "uPlot.iife.min.js").read_text(encoding="utf-8").splitlines()[0]
    found = re.search(r"uPlot \(v([0-9.]+)\)", banner)
    assert found and found.group(1) == version, banner
    css = (VENDOR / "uPlot.min.css").read_text(encoding="utf-8")
    assert ".uplot" in css and ".u-over" in css


def test_the_licence_ships_beside_it() -> None:
    licence = (VENDOR / "LICENSE.uPlot").read_text(encoding="utf-8")
    assert licence.startswith("The MIT License") and "Leon Sorokin" in licence


def test_the_page_loads_nothing_from_another_origin() -> None:
    for path in [*(ASSETS / "templates").glob("*.html"), ASSETS / "static" / "dashboard.js"]:
        text = path.read_text(encoding="utf-8")
        assert not re.search(r"""(src|href)=["']?(https?:)?//""", text), path
        assert "cdn" not in text.lower(), path
