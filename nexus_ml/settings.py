"""The one settings object, read at the edges (CLI, service start-up) and passed in.

Values come, in order of precedence, from keyword arguments, environment variables with the
``NEXUS_`` prefix, a YAML settings file (``NEXUS_CONFIG`` or ``./nexus.yaml``) and defaults.
Library code never reads the environment: it receives a :class:`Settings`.
"""

from __future__ import annotations

import os
from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

DEFAULT_STATE_DIR = Path(".nexus")


def _config_file() -> Path:
    return Path(os.environ.get("NEXUS_CONFIG", "nexus.yaml"))


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

    api_token: SecretStr | None = Field(None, description="Bearer token of the decision API")
    service_url: str = Field("http://127.0.0.1:8000", description="Decision service URL")

    telegram_bot_token: SecretStr | None = None
    telegram_chat_id: str | None = None
    telegram_base_url: str = "https://api.telegram.org"
    dashboard_url: str = "http://127.0.0.1:3000/d/nexus"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        yaml_source = YamlConfigSettingsSource(settings_cls, yaml_file=_config_file())
        return (init_settings, env_settings, yaml_source, file_secret_settings)

    @property
    def models_dir(self) -> Path:
        return self.state_dir / "models"

    @property
    def effective_mlflow_uri(self) -> str:
        if self.mlflow_tracking_uri:
            return self.mlflow_tracking_uri
        return f"sqlite:///{(self.state_dir / 'mlflow.db').resolve()}"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The cached settings of this process (the only module-level singleton)."""
    return Settings()
