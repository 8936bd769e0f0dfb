"""The judge's configuration: which metrics, which direction is bad, how much change is allowed.

A YAML file (``--config judge.yaml``) overrides :data:`DEFAULT_CONFIG`::

    alpha: 0.05
    pass_score: 75
    marginal_score: 50
    metrics:
      - name: latency_ms
        direction: increase        # increase | decrease | either is bad
        allowed_effect: 0.10       # +10 % of the baseline median is tolerated
        critical: true
        must_have_data: true
        on_missing: inconclusive   # or fail
      - name: error_rate
        kind: proportion
        numerator: errors
        denominator: requests
        allowed_effect: 0.005      # half a percentage point
        critical: true

A continuous metric's ``metric`` may be a glob (``call_latency_ms:*``): each matching sample
metric is judged as its own result.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from nexus_ml.errors import ConfigError

_NAME_PATTERN = r"^[A-Za-z0-9_.:*?\[\]{}=/-]+$"
_NAME = Field(min_length=1, max_length=120, pattern=_NAME_PATTERN)
_OPTIONAL_NAME = Field(None, min_length=1, max_length=120, pattern=_NAME_PATTERN)


class MetricCheck(BaseModel):
    """How one metric of the candidate is compared with the baseline.

    Attributes
    ----------
    name
        Name of the result (and, for a continuous metric, the sample metric by default).
    kind
        ``continuous``: Mann–Whitney U with a Hodges–Lehmann shift (latency-like values);
        ``proportion``: a two-proportion z test on ``numerator / denominator`` sums.
    metric
        Sample metric(s) of a continuous check, a glob allowed (default: ``name``).
    numerator, denominator
        Sample metrics of a proportion (e.g. ``errors`` over ``requests``).
    direction
        Which change is bad: ``increase``, ``decrease`` or ``either``.
    allowed_effect
        Tolerated change in the bad direction: relative to the baseline median for continuous
        metrics (0.1 = 10 %, the default), absolute difference of rates for proportions
        (default 0.005 = half a percentage point).
    allowed_abs
        Continuous only: a shift smaller than this (metric units) is never a failure.
    critical
        A failure fails the release whatever the score.
    must_have_data
        Without enough data on both sides the release cannot pass: ``on_missing`` says
        whether that makes it Inconclusive or Failed.
    weight
        Share of the score.
    min_samples
        Fewest finite samples per side for a comparison.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = _NAME
    kind: Literal["continuous", "proportion"] = "continuous"
    metric: str | None = _OPTIONAL_NAME
    numerator: str | None = _OPTIONAL_NAME
    denominator: str | None = _OPTIONAL_NAME
    direction: Literal["increase", "decrease", "either"] = "increase"
    allowed_effect: float = Field(0.1, ge=0, le=100, allow_inf_nan=False)
    allowed_abs: float = Field(0.0, ge=0, allow_inf_nan=False)
    critical: bool = False
    must_have_data: bool = False
    on_missing: Literal["inconclusive", "fail"] = "inconclusive"
    weight: float = Field(1.0, gt=0, le=1000, allow_inf_nan=False)
    min_samples: int = Field(3, ge=1, le=100_000)

    @model_validator(mode="before")
    @classmethod
    def _default_band_of_kind(cls, data: Any) -> Any:
        # 10 % of a latency, but half a point of an error rate: the same number cannot serve both
        if isinstance(data, dict) and "allowed_effect" not in data:
            proportion = data.get("kind") == "proportion"
            data = {**data, "allowed_effect": 0.005 if proportion else 0.1}
        return data

    @model_validator(mode="after")
    def _fields_of_kind(self) -> MetricCheck:
        if self.kind == "proportion":
            if not self.numerator or not self.denominator:
                raise ValueError("a proportion needs both numerator and denominator")
            if self.metric is not None:
                raise ValueError("metric is for continuous checks; a proportion uses numerator")
            if self.allowed_effect > 1:
                raise ValueError(
                    f"a proportion's allowed_effect is a difference of rates in [0, 1], "
                    f"got {self.allowed_effect}"
                )
        elif self.numerator or self.denominator:
            raise ValueError("numerator/denominator are for kind: proportion")
        return self

    @property
    def sample_metric(self) -> str:
        """The sample metric (or glob) a continuous check reads."""
        return self.metric or self.name


class JudgeConfig(BaseModel):
    """Every metric check plus the score thresholds (Kayenta's pass and marginal).

    A weighted score at or above ``pass_score`` is Successful, below ``marginal_score`` Failed,
    in between Inconclusive; a failed critical metric fails the release with score 0.
    """

    model_config = ConfigDict(extra="forbid", frozen=True)

    alpha: float = Field(0.05, gt=0, le=0.5, description="Significance level of every test")
    pass_score: float = Field(75.0, ge=0, le=100)
    marginal_score: float = Field(50.0, ge=0, le=100)
    metrics: list[MetricCheck] = Field(min_length=1, max_length=200)

    @model_validator(mode="after")
    def _consistent(self) -> JudgeConfig:
        if self.marginal_score > self.pass_score:
            raise ValueError(
                f"marginal_score ({self.marginal_score}) must not exceed "
                f"pass_score ({self.pass_score})"
            )
        names = [m.name for m in self.metrics]
        duplicates = sorted({n for n in names if names.count(n) > 1})
        if duplicates:
            raise ValueError(f"metric names must be unique, repeated: {', '.join(duplicates)}")
        return self


DEFAULT_CONFIG = JudgeConfig(
    metrics=[
        MetricCheck(
            name="latency_ms",
            allowed_effect=0.10,
            allowed_abs=1.0,
            critical=True,
            must_have_data=True,
            weight=2.0,
        ),
        MetricCheck(
            name="error_rate",
            kind="proportion",
            numerator="errors",
            denominator="requests",
            allowed_effect=0.005,
            critical=True,
            must_have_data=True,
            weight=2.0,
        ),
        # A slower dependency call is a contract regression even when the module's own latency
        # hides it, so each edge is critical; 2 ms absolute keeps sub-millisecond jitter out.
        MetricCheck(
            name="call_latency_ms",
            metric="call_latency_ms:*",
            allowed_effect=0.5,
            allowed_abs=2.0,
            critical=True,
        ),
    ]
)


def _field_path(loc: tuple[int | str, ...]) -> str:
    path = ""
    for part in loc:
        path += f"[{part}]" if isinstance(part, int) else (f".{part}" if path else str(part))
    return path


def config_from_dict(data: object, *, source: str = "<config>") -> JudgeConfig:
    """Validate a parsed config; the first error names the field path and the bad value."""
    if not isinstance(data, dict):
        raise ConfigError(
            f"{source}: expected a mapping with a 'metrics' list, got {type(data).__name__}",
            source=source,
        )
    try:
        return JudgeConfig.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        path = _field_path(tuple(first["loc"]))
        value = first.get("input")
        shown = "" if isinstance(value, dict | list) else f" (got {value!r})"
        raise ConfigError(
            f"{source}: {path or 'config'}: {first['msg']}{shown}",
            source=source,
            field=path,
            value=None if isinstance(value, dict | list) else value,
        ) from None


def load_judge_config(path: Path | None) -> JudgeConfig:
    """The config in ``path`` (YAML), or :data:`DEFAULT_CONFIG` when ``None``.

    Raises
    ------
    ConfigError
        Unreadable file, bad YAML, or an invalid field (file, field path and value).
    """
    if path is None:
        return DEFAULT_CONFIG
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read ({exc.strerror})", source=str(path)) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML ({exc})", source=str(path)) from None
    return config_from_dict(data, source=str(path))
