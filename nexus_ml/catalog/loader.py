"""Load and validate the catalog; errors name the file, the field and the bad value."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml
from pydantic import ValidationError

from nexus_ml import safe_yaml
from nexus_ml.catalog.schema import Catalog
from nexus_ml.errors import ConfigError

BUNDLED_CATALOG = Path(__file__).with_name("modules.yaml")


def _field_path(loc: tuple[int | str, ...]) -> str:
    return ".".join(str(part) for part in loc)


def _value_at(data: Any, loc: tuple[int | str, ...]) -> Any:
    for part in loc:
        try:
            data = data[part]
        except (KeyError, IndexError, TypeError):
            return None
    return data


def load_catalog(path: Path | None = None) -> Catalog:
    """Read the catalog at ``path`` (the bundled one when ``None``).

    Raises
    ------
    ConfigError
        When the file is missing, is not YAML, or fails validation; the message is one line
        naming the file, the field path and the bad value.
    """
    path = path or BUNDLED_CATALOG
    try:
        # no aliases: a few hundred bytes of nested aliases expand to gigabytes
        data = safe_yaml.load_text(safe_yaml.read_text(path))
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot read catalog ({exc.strerror})", source=str(path)
        ) from exc
    except (yaml.YAMLError, ValueError) as exc:
        raise ConfigError(f"{path}: {safe_yaml.describe(exc)}", source=str(path)) from exc
    try:
        return Catalog.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = tuple(err["loc"])
        field = _field_path(loc) or "(root)"
        value = _value_at(data, loc) if loc else data
        msg = err["msg"]
        if msg.startswith("Value error, "):
            msg = msg.removeprefix("Value error, ")
        if not loc:  # a cross-field check: its message already names the field path
            raise ConfigError(f"{path}: {msg}", source=str(path)) from exc
        raise ConfigError(
            f"{path}: {field}: {msg} (got {value!r})", source=str(path), field=field, value=value
        ) from exc
