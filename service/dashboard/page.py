"""The dashboard's HTML: templates filled with the language and the state as embedded JSON."""

from __future__ import annotations

from html import escape
from pathlib import Path
from string import Template
from typing import Any

import orjson

ASSETS = Path(__file__).resolve().parent
_UNSAFE = ((b"<", b"\\u003c"), ("\u2028".encode(), b"\\u2028"), ("\u2029".encode(), b"\\u2029"))


def state_json(state: dict[str, Any]) -> bytes:
    """``state`` as compact JSON that is safe inside ``<script type="application/json">``.

    orjson, because a day of 30 modules is ~2 MB of numbers: the standard library takes
    about ten times longer, and that time is the page's first render.
    """
    text = orjson.dumps(state)
    # "<" only occurs inside strings, where \u003c means the same: no "</script>" can close
    # the element early; the two line separators are escaped for older JSON parsers
    for raw, escaped in _UNSAFE:
        text = text.replace(raw, escaped)
    return text


def render_template(name: str, *, raw: dict[str, str] | None = None, **values: str) -> str:
    """The template ``name`` with ``values`` HTML-escaped and ``raw`` inserted as they are."""
    text = (ASSETS / "templates" / name).read_text(encoding="utf-8")
    filled = {k: escape(v, quote=True) for k, v in values.items()}
    return Template(text).substitute({**filled, **(raw or {})})


def dashboard_html(state: dict[str, Any], lang: str) -> str:
    """The live page with ``state`` embedded (``lang``: ``pt`` or ``en``)."""
    return render_template("index.html", raw={"state": state_json(state).decode()}, lang=lang)
