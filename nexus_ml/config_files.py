"""YAML configuration files read and validated the same way everywhere: the safe loader
(no aliases, bounded size), then a pydantic model, with one-line errors naming the file, the
field path and the bad value."""

from __future__ import annotations

from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from nexus_ml import safe_yaml
from nexus_ml.errors import ConfigError

M = TypeVar("M", bound=BaseModel)


def read_yaml(path: Path, what: str) -> Any:
    """The parsed document of ``path`` (``what`` names it in errors: "rules", "plans")."""
    try:
        return safe_yaml.load_text(safe_yaml.read_text(path))
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read {what} ({exc.strerror})", source=str(path)) from exc
    except (yaml.YAMLError, ValueError) as exc:
        raise ConfigError(f"{path}: {safe_yaml.describe(exc)}", source=str(path)) from exc


def validated(model: type[M], data: Any, source: Path) -> M:
    """``data`` as ``model``; the first problem as a ConfigError with its field path."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        err = exc.errors()[0]
        field = ".".join(str(p) for p in err["loc"])
        msg = str(err["msg"]).removeprefix("Value error, ")
        value = err.get("input")
        shown = value if not isinstance(value, dict) or len(str(value)) < 200 else "{...}"
        where = f"{field}: " if field else ""
        raise ConfigError(
            f"{source}: {where}{msg} (got {shown!r})",
            source=str(source),
            field=field,
            value=value,
        ) from exc
