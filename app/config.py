"""Settings, read once from the environment (and `.env` when present)."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    # `postgresql://user@host:port/db`. Unset: a private Postgres starts in `data_dir/pg`.
    database_url: str | None = None
    data_dir: Path = Path(".data")
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "info"
    # `text` (one line per record) or `json` (one object per line, for log collectors).
    log_format: Literal["text", "json"] = "text"
    # Browser origins, besides the server's own, allowed to open the GraphQL websocket
    # (`["*"]`: any). Clients that send no Origin (not browsers) are always allowed.
    allowed_origins: list[str] = []
    # Operations one websocket connection may run at once (subscriptions included).
    max_subscriptions_per_connection: int = Field(default=20, ge=1)
    # Load the demo catalog (providers, models, one definition) at `serve`.
    seed_demo: bool = True
    # Keep an admin key in `data_dir/admin-api-key` and print it at `serve` (local use).
    local_admin_key: bool = True
    # Apply migrations at startup (tests migrate a template database once instead).
    auto_migrate: bool = True
    # What one request may ask (README, "Limits"): nesting, tokens in the document, fields it
    # could return (estimated before, counted during execution), and the HTTP body's size.
    max_query_depth: int = Field(default=12, ge=1)
    max_query_tokens: int = Field(default=5000, ge=1)
    max_query_cost: int = Field(default=50_000, ge=1)
    max_request_bytes: int = Field(default=1_048_576, ge=1024)

    # Workers. `serve` runs them in-process (so the demo completes runs with one command);
    # `valuerank worker` / `python -m workers` runs them on their own, as many as you like.
    run_workers: bool = True
    # Jobs one process runs at once per provider queue; the provider's own limits, shared by
    # all processes, are enforced on top (maxParallelRequests, requestsPerMinute).
    worker_concurrency: int = Field(default=32, ge=1)
    summary_concurrency: int = Field(default=8, ge=1)
    # Database connections one worker process may hold for its jobs (each job holds one only
    # for its short transactions), besides one LISTEN connection per queue and the queue's own.
    worker_db_connections: int = Field(default=10, ge=2)
    # Attempts of a probe or summary before it fails for good, and the first retry's delay
    # (doubling each time) when the provider gave no Retry-After.
    max_attempts: int = Field(default=4, ge=1)
    retry_base_seconds: float = Field(default=2.0, ge=0)
    # How often an idle worker looks for delayed or retried jobs (new jobs arrive by NOTIFY).
    poll_seconds: float = Field(default=0.5, gt=0)
    # The model that writes decisionText (through the same adapters). Simulated by default.
    summarizer_model: str = "sim-instant"
    # When the recovery sweep runs (cron; a 6th field is seconds).
    recovery_cron: str = "* * * * *"
    # A worker with no heartbeat for this long is dead; its running jobs are retried.
    stalled_worker_seconds: float = Field(default=30.0, gt=0)
    # `serve` restarts a worker process that died: after `worker_restart_seconds`, doubling
    # with each quick death up to `worker_restart_max_seconds`; a process that stayed up for
    # `worker_stable_seconds` counts as healthy again, so its next death waits the least.
    worker_restart_seconds: float = Field(default=1.0, ge=0)
    worker_restart_max_seconds: float = Field(default=30.0, ge=0)
    worker_stable_seconds: float = Field(default=60.0, gt=0)
    # A model of a running run with work left and no success for this long is "stalled".
    stalled_model_seconds: float = Field(default=180.0, gt=0)
    # Hosts (`host` or `host:port`, comma-separated) that may receive a provider's API key when
    # a model's apiConfig.baseUrl points there. A key otherwise goes only to its provider's
    # own base URL (the vendor's, or `<PROVIDER>_BASE_URL`): anyone who may edit a model must
    # not be able to send the operator's keys to a host of their choosing.
    provider_host_allowlist: Annotated[list[str], NoDecode] = []

    @field_validator("provider_host_allowlist", mode="before")
    @classmethod
    def _comma_separated_hosts(cls, value: Any) -> Any:
        entries = value.split(",") if isinstance(value, str) else value
        if not isinstance(entries, list):
            return entries  # pydantic reports the wrong type
        return [host_entry(str(entry)) for entry in entries if str(entry).strip()]

    @property
    def admin_key_file(self) -> Path:
        return self.data_dir / "admin-api-key"


def host_entry(entry: str) -> str:
    """`host` or `host:port`, lower-cased; a URL, a path or credentials are refused (an
    operator who writes `https://gpu-box/v1` would otherwise trust nothing, silently)."""
    cleaned = entry.strip().lower()
    try:
        parts = urlsplit(f"//{cleaned}")
        parts.port  # noqa: B018 - raises ValueError for a port that is not a number
    except ValueError as exc:
        raise ValueError(f"PROVIDER_HOST_ALLOWLIST: {entry!r} is not host or host:port") from exc
    if not parts.hostname or parts.username is not None or parts.path or parts.query:
        raise ValueError(f"PROVIDER_HOST_ALLOWLIST: {entry!r} is not host or host:port")
    return cleaned


@lru_cache
def get_settings() -> Settings:
    return Settings()
