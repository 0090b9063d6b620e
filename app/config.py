"""Settings, read once from the environment (and `.env` when present)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # `postgresql://user@host:port/db`. Unset: a private Postgres starts in `data_dir/pg`.
    database_url: str | None = None
    data_dir: Path = Path(".data")
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "info"
    # Browser origins allowed to open the GraphQL websocket (None: any).
    allowed_origins: list[str] | None = None
    # Load the demo catalog (providers, models, one definition) at `serve`.
    seed_demo: bool = True
    # Keep an admin key in `data_dir/admin-api-key` and print it at `serve` (local use).
    local_admin_key: bool = True
    # Apply migrations at startup (tests migrate a template database once instead).
    auto_migrate: bool = True
    max_query_depth: int = Field(default=12, ge=1)
    max_query_tokens: int = Field(default=5000, ge=1)

    @property
    def admin_key_file(self) -> Path:
        return self.data_dir / "admin-api-key"


@lru_cache
def get_settings() -> Settings:
    return Settings()
