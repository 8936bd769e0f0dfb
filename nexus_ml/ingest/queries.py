"""The query catalog: which PromQL expression yields each metric-frame field.

Every metric field needs an expression; the replica count (``replicas``, the optional frame
column the scaling strategy folds in) may have one.

The catalog is YAML (bundled ``queries.yaml``, overridable by a path). Templates take the
module regular expression as ``{modules}``, optionally the look-back window ``{window}`` (one
step minus a millisecond, so a missing sample is not replaced by an older one), and, for
counter-reset checks, the fetch span as ``{range}``. They are filled by plain substitution, so
PromQL's own braces need no escaping.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml

from nexus_ml import safe_yaml
from nexus_ml.domain.metrics import METRIC_FIELDS, REPLICAS
from nexus_ml.errors import ConfigError

BUNDLED_QUERIES = Path(__file__).with_name("queries.yaml")
_REGEX_SPECIAL = frozenset("\\.+*?()|[]{}^$")


def modules_regex(modules: Sequence[str]) -> str:
    """A PromQL regex matching exactly ``modules`` (metacharacters escaped).

    PromQL regex matchers are fully anchored, so ``a|b`` matches only ``a`` or ``b``. Backslashes
    are doubled because the result goes inside a double-quoted PromQL string.
    """

    def escape(c: str) -> str:
        if c not in _REGEX_SPECIAL:
            return c
        return "\\\\" + ("\\\\" if c == "\\" else c)  # regex escape, then string escape

    return "|".join("".join(escape(c) for c in m) for m in modules)


def promql_duration(delta: timedelta) -> str:
    """A PromQL duration literal for ``delta`` (whole seconds, at least ``1s``)."""
    return f"{max(1, int(delta.total_seconds()))}s"


@dataclass(frozen=True)
class QueryCatalog:
    """Field → PromQL template, plus counter selectors whose resets the quality report counts."""

    fields: Mapping[str, str]
    counter_resets: tuple[str, ...] = ()
    source: str = "query catalog"

    @property
    def extra(self) -> tuple[str, ...]:
        """The optional columns this catalog has an expression for (the replica count)."""
        return (REPLICAS,) if REPLICAS in self.fields else ()

    def query(
        self, field: str, modules: Sequence[str], step: timedelta = timedelta(minutes=1)
    ) -> str:
        """The PromQL for ``field`` over ``modules`` at a grid ``step``.

        Raises
        ------
        ConfigError
            When the catalog has no expression for ``field``.
        """
        try:
            template = self.fields[field]
        except KeyError:
            raise ConfigError(
                f"{self.source}: no query for field {field!r}", source=self.source, field=field
            ) from None
        window = f"{max(1, int(step.total_seconds() * 1000) - 1)}ms"
        return template.replace("{modules}", modules_regex(modules)).replace("{window}", window)

    def reset_queries(self, modules: Sequence[str], window: timedelta) -> list[str]:
        regex, duration = modules_regex(modules), promql_duration(window)
        return [
            t.replace("{modules}", regex).replace("{range}", duration) for t in self.counter_resets
        ]


def load_query_catalog(path: Path | None = None) -> QueryCatalog:
    """Read the query catalog at ``path`` (the bundled one when ``None``).

    Raises
    ------
    ConfigError
        When the file cannot be read or parsed, a metric field has no query, a field is unknown,
        or a template lacks the ``{modules}`` parameter; the message names the file and field.
    """
    path = path or BUNDLED_QUERIES
    source = str(path)
    try:
        data: Any = safe_yaml.load_text(safe_yaml.read_text(path))
    except OSError as exc:
        raise ConfigError(
            f"{path}: cannot read query catalog ({exc.strerror})", source=source
        ) from exc
    except (yaml.YAMLError, ValueError) as exc:  # aliases refused, too large, not UTF-8
        raise ConfigError(
            f"{path}: query catalog is {safe_yaml.describe(exc)}", source=source
        ) from exc
    if not isinstance(data, dict) or not isinstance(data.get("fields"), dict):
        raise ConfigError(f"{path}: query catalog needs a 'fields' mapping", source=source)
    fields: dict[str, Any] = data["fields"]
    unknown = sorted(set(fields) - {*METRIC_FIELDS, REPLICAS})
    if unknown:
        raise ConfigError(
            f"{path}: fields.{unknown[0]}: unknown field {unknown[0]!r}; known: "
            f"{', '.join(METRIC_FIELDS)} and, optionally, {REPLICAS}",
            source=source,
            field=f"fields.{unknown[0]}",
            value=unknown[0],
        )
    optional = (REPLICAS,) if REPLICAS in fields else ()
    for name in (*METRIC_FIELDS, *optional):
        template = fields.get(name)
        if not isinstance(template, str) or "{modules}" not in template:
            raise ConfigError(
                f"{path}: fields.{name}: expected a PromQL template containing {{modules}}, "
                f"got {template!r}",
                source=source,
                field=f"fields.{name}",
                value=template,
            )
    resets = data.get("counter_resets") or []
    if not isinstance(resets, list) or not all(isinstance(r, str) for r in resets):
        raise ConfigError(
            f"{path}: counter_resets: expected a list of PromQL templates, got {resets!r}",
            source=source,
            field="counter_resets",
            value=resets,
        )
    return QueryCatalog(
        fields={name: fields[name] for name in (*METRIC_FIELDS, *optional)},
        counter_resets=tuple(resets),
        source=source,
    )
