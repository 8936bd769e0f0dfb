"""A static HTML snapshot of the dashboard: one file, openable without a server.

The page is the live one with the state embedded, the live parts off (no event stream, no
sign-out) and its scripts and styles inlined, the vendored uPlot with its licence notice.
"""

from __future__ import annotations

from pathlib import Path

from service.core.history import DashboardHistory
from service.dashboard.page import ASSETS, dashboard_html

_INLINE = (
    ('<link rel="stylesheet" href="/dashboard/static/uPlot.min.css">', "vendor/uPlot.min.css"),
    ('<link rel="stylesheet" href="/dashboard/static/dashboard.css">', "static/dashboard.css"),
    ('<script src="/dashboard/static/uPlot.iife.min.js"></script>', "vendor/uPlot.iife.min.js"),
    ('<script src="/dashboard/static/dashboard.js"></script>', "static/dashboard.js"),
)


def _inline(tag: str, asset: str) -> str:
    text = (ASSETS / asset).read_text(encoding="utf-8").replace("</", "<\\/")
    if asset.endswith(".css"):
        return f"<style>\n{text}\n</style>"
    if "uPlot" in asset:
        licence = (ASSETS / "vendor" / "LICENSE.uPlot").read_text(encoding="utf-8")
        text = f"/* uPlot, vendored from npm. {licence.strip()} */\n{text}"
    return f"<script>\n{text}\n</script>"


def snapshot_html(history: DashboardHistory, *, lang: str = "pt", hours: float = 24.0) -> str:
    """The snapshot of ``history`` (its last ``hours``) as one self-contained HTML text."""
    page = dashboard_html(history.state(since=history.clock() - hours * 3600), lang)
    page = page.replace('data-live="1"', 'data-live="0"', 1)
    for tag, asset in _INLINE:
        if tag not in page:
            raise RuntimeError(f"dashboard template has no {tag!r} to inline")
        page = page.replace(tag, _inline(tag, asset), 1)
    return page


def write_snapshot(
    history: DashboardHistory, path: Path, *, lang: str = "pt", hours: float = 24.0
) -> Path:
    """Write the snapshot of ``history`` to ``path`` (its folder is created) and return it."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(snapshot_html(history, lang=lang, hours=hours), encoding="utf-8")
    return path
