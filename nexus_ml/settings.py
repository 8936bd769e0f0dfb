"""The one settings object, read at the edges (CLI, service start-up) and passed in.

Values come, in order of precedence, from keyword arguments, environment variables with the
``NEXUS_`` prefix, a YAML settings file (``NEXUS_CONFIG`` or ``./nexus.yaml``) and defaults.
Library code never reads the environment: it receives a :class:`Settings`.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal, TypeVar

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

DEFAULT_STATE_DIR = Path(".nexus")
S = TypeVar("S", bound="Settings")


def _config_file() -> Path:
    return Path(os.environ.get("NEXUS_CONFIG", "nexus.yaml"))


class _YamlFile(YamlConfigSettingsSource):
    """The settings file, read like every other YAML file of ours: no aliases, bounded size."""

    def _read_file(self, file_path: Any) -> dict[str, Any]:
        import yaml

        from nexus_ml import safe_yaml
        from nexus_ml.errors import ConfigError

        path = Path(str(file_path))
        try:
            data = safe_yaml.load_text(safe_yaml.read_text(path))
        except OSError as exc:
            raise ConfigError(
                f"{path}: cannot read settings file ({exc.strerror})", source=str(path)
            ) from exc
        except (yaml.YAMLError, ValueError) as exc:
            raise ConfigError(f"{path}: {safe_yaml.describe(exc)}", source=str(path)) from exc
        if data is None:
            return {}
        if not isinstance(data, dict):
            raise ConfigError(
                f"{path}: a settings file is a mapping of names to values, "
                f"got a {type(data).__name__}",
                source=str(path),
            )
        for key in data:
            if not isinstance(key, str):
                raise ConfigError(
                    f"{path}: setting names are words, got {key!r} ({type(key).__name__})",
                    source=str(path),
                )
        return data


class Settings(BaseSettings):
    """Runtime settings of every nexus-ml job."""

    model_config = SettingsConfigDict(env_prefix="NEXUS_", extra="ignore", frozen=True)

    state_dir: Path = Field(DEFAULT_STATE_DIR, description="Local state: models, audit, MLflow db")
    catalog_path: Path | None = Field(None, description="Module catalog YAML; bundled if unset")
    language: Literal["pt", "en"] = Field("pt", description="Language of operator alerts")

    pg_dsn: SecretStr | None = Field(
        None, description="PostgreSQL DSN (audit, leader lock, migrate)"
    )
    prometheus_url: str | None = Field(None, description="Prometheus base URL; simulator if unset")
    prometheus_timeout_s: float = Field(10.0, gt=0, le=300)
    mlflow_tracking_uri: str | None = Field(None, description="MLflow URI; local sqlite if unset")
    mlflow_experiment: str = Field(
        "nexus-ml", min_length=1, max_length=200, description="MLflow experiment of training runs"
    )
    mlflow_model_prefix: str = Field(
        "",
        max_length=100,
        pattern=r"^[A-Za-z0-9_.-]*$",
        description="Prefix of registered model names (several environments, one registry)",
    )

    log_format: Literal["text", "json"] = Field(
        "text", description="Log lines: key=value text or one JSON object per line"
    )
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO")

    api_token: SecretStr | None = Field(None, description="Bearer token of the decision API")
    service_url: str = Field("http://127.0.0.1:8000", description="Decision service URL")

    telegram_bot_token: SecretStr | None = None
    telegram_chat_id: str | None = None
    telegram_base_url: str = "https://api.telegram.org"
    dashboard_url: str = Field(
        "", description="Dashboard linked from alerts; empty: the service's own /dashboard"
    )
    registry: str = Field(
        "docker.io/nexuserp",
        pattern=r"^[A-Za-z0-9.:_/-]+$",
        description="Registry and namespace of the ERP and nexus-ml images (Docker Hub)",
    )
    crisis_rules_path: Path | None = Field(
        None, description="YAML overriding the bundled crisis-data rules (crisis/rules.yaml)"
    )
    crisis_revenue_per_transaction: float = Field(
        0.0, ge=0, description="Revenue per transaction (R$) for a crisis' financial impact"
    )
    crisis_healthy_min: float = Field(
        15.0, gt=0, le=1440, description="Healthy minutes after which an incident closes"
    )
    crisis_report_url: str = Field(
        "", description="Base URL the Telegram summary links reports under (empty: file path)"
    )
    rollback_smoke_urls: list[str] = Field(
        default_factory=list,
        max_length=50,
        description="URLs a release rollback GETs to validate the system (below HTTP 400)",
    )
    rollback_release_window_s: float = Field(
        1800.0,
        gt=0,
        le=86400,
        description="Modules released this close to a failed one roll back with it",
    )

    @field_validator("log_level", "log_format", mode="before")
    @classmethod
    def _any_case(cls, value: Any, info: ValidationInfo) -> Any:
        # NEXUS_LOG_LEVEL=debug and NEXUS_LOG_FORMAT=JSON mean what they say
        if not isinstance(value, str):
            return value
        return value.upper() if info.field_name == "log_level" else value.lower()

    @model_validator(mode="before")
    @classmethod
    def _dashboard_of_the_service(cls, data: Any) -> Any:
        # default NEXUS_DASHBOARD_URL: the decision service's own page, wherever it runs
        if isinstance(data, dict) and not data.get("dashboard_url"):
            base = str(data.get("service_url") or "http://127.0.0.1:8000").rstrip("/")
            data = {**data, "dashboard_url": f"{base}/dashboard"}
        return data

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        yaml_source = _YamlFile(settings_cls, yaml_file=_config_file())
        return (init_settings, env_settings, yaml_source, file_secret_settings)

    def secret_values(self) -> list[str]:
        """Every secret these settings hold, for :func:`nexus_ml.redact.redact`.

        The tokens and the DSN password, plus the credentials written inside the Prometheus,
        MLflow and Telegram URLs (a URL is not a secret, its user information is).
        """
        from nexus_ml.redact import dsn_password, url_secrets

        values = [
            s.get_secret_value() for s in (self.api_token, self.telegram_bot_token) if s is not None
        ]
        if self.pg_dsn is not None:
            values.append(dsn_password(self.pg_dsn.get_secret_value()) or "")
        for url in (self.prometheus_url, self.mlflow_tracking_uri, self.telegram_base_url):
            values += url_secrets(url)
        return [v for v in values if v]

    @property
    def models_dir(self) -> Path:
        return self.state_dir / "models"

    @property
    def effective_mlflow_uri(self) -> str:
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{(self.state_dir / 'mlflow.db').resolve()}"


def load_settings(cls: type[S], **values: Any) -> S:
    """``cls(**values)`` with every problem as one :class:`~nexus_ml.errors.ConfigError`.

    The message names the variable (``NEXUS_LANGUAGE``), the problem and the value given,
    except for secret fields, whose value is never quoted.

    Raises
    ------
    ConfigError
        A value is invalid, or the settings file cannot be read or parsed.
    """
    from nexus_ml.errors import ConfigError
    from nexus_ml.redact import redact

    try:
        return cls(**values)
    except ValidationError as exc:
        err = exc.errors()[0]
        loc = [str(p) for p in err["loc"]]
        field = ".".join(loc) or "settings"
        name = f"NEXUS_{loc[0].upper()}" if loc else "settings"
        msg = err["msg"].removeprefix("Value error, ")
        info = cls.model_fields.get(loc[0]) if loc else None
        secret = info is not None and "SecretStr" in str(info.annotation)
        given = "" if secret or "input" not in err else f" (got {redact(repr(err['input']))[:200]})"
        raise ConfigError(
            f"settings: {name} ({field}): {msg}{given}", source="settings", field=field
        ) from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The cached settings of this process (the only module-level singleton).

    Raises
    ------
    ConfigError
        As :func:`load_settings`.
    """
    return load_settings(Settings)
