"""YAML for configuration files: the safe loader without aliases, and a size cap.

A 393-byte document of nested aliases ("billion laughs") expands to hundreds of megabytes in
``yaml.safe_load``. None of our files (catalog, database map, collection plans, query
catalog, settings) needs aliases, so the loader refuses them outright instead of guessing a
safe expansion budget; a file above ``MAX_BYTES`` is refused before it is parsed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from yaml.composer import ComposerError
from yaml.events import AliasEvent
from yaml.nodes import Node

MAX_BYTES = 4 * 1024 * 1024


class NoAliasLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that raises on the first alias (``*name``)."""

    def compose_node(self, parent: Node | None, index: int) -> Node | None:
        if self.check_event(AliasEvent):
            event = self.peek_event()  # type: ignore[no-untyped-call]
            raise ComposerError(
                None, None, "YAML aliases (*name) are not allowed in this file", event.start_mark
            )
        return super().compose_node(parent, index)


def load_text(text: str) -> Any:
    """Parse one YAML document with :class:`NoAliasLoader` (raises ``yaml.YAMLError``)."""
    return yaml.load(text, Loader=NoAliasLoader)  # a SafeLoader subclass


def read_text(path: Path) -> str:
    """The UTF-8 text of ``path``, refusing files above :data:`MAX_BYTES`.

    Raises
    ------
    OSError
        The file cannot be read.
    ValueError
        The file is too large (``FileTooLarge``) or not UTF-8 (``UnicodeDecodeError``).
    """
    with path.open("rb") as handle:
        data = handle.read(MAX_BYTES + 1)
    if len(data) > MAX_BYTES:
        raise FileTooLarge(f"larger than {MAX_BYTES // (1024 * 1024)} MiB")
    return data.decode("utf-8")


class FileTooLarge(ValueError):
    """A configuration file above :data:`MAX_BYTES`."""


def describe(exc: yaml.YAMLError | ValueError) -> str:
    """One line about a YAML or decoding error: what and where (line), never the content."""
    if isinstance(exc, UnicodeDecodeError):
        return f"not UTF-8 text (byte 0x{exc.object[exc.start]:02x} at offset {exc.start})"
    if isinstance(exc, FileTooLarge):
        return str(exc)
    mark = getattr(exc, "problem_mark", None)
    problem = getattr(exc, "problem", None)
    where = f" at line {mark.line + 1}" if mark is not None else ""
    return f"not valid YAML{where}" + (f" ({problem})" if problem else "")
