"""Settings, read once from the environment (and `.env` when present)."""

from __future__ import annotations

import json
import textwrap
from functools import lru_cache
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_file=".env", extra="ignore", use_attribute_docstrings=True
    )

    database_url: str | None = None
    """`postgresql://user@host:port/db`. Unset: a private Postgres starts in `data_dir/pg`."""
    data_dir: Path = Path(".data")
    """Where `serve` keeps the embedded PostgreSQL (`pg/`) and the local admin key."""
    host: str = "127.0.0.1"
    """The address `serve` listens on (`0.0.0.0` in a container)."""
    port: int = 8000
    """The port `serve` listens on."""
    log_level: str = "info"
    """debug, info, warning or error. At debug, per-job and per-request lines too."""
    log_format: Literal["text", "json"] = "text"
    """`text` (one line per record) or `json` (one object per line, for log collectors)."""
    allowed_origins: list[str] = []
    """Browser origins, besides the server's own, allowed to open the GraphQL websocket and to
    call it over HTTP (CORS), as a JSON list (`["*"]`: any). Clients that send no Origin (not
    browsers) are always allowed."""
    max_subscriptions_per_connection: int = Field(default=20, ge=1)
    """Operations one websocket connection may run at once (subscriptions included)."""
    seed_demo: bool = True
    """Load the demo catalog (providers, models, one definition) at `serve`."""
    local_admin_key: bool = True
    """Keep an admin key in `data_dir/admin-api-key` and print it at `serve` (local use)."""
    auto_migrate: bool = True
    """Apply migrations at startup (tests migrate a template database once instead)."""
    max_query_depth: int = Field(default=12, ge=1)
    """Selection depth one operation may reach, through fragments."""
    max_query_tokens: int = Field(default=5000, ge=1)
    """Tokens one GraphQL document may hold."""
    max_query_cost: int = Field(default=50_000, ge=1)
    """Fields one result may hold: estimated before execution, counted during it."""
    max_request_bytes: int = Field(default=1_048_576, ge=1024)
    """Size of an HTTP body or a websocket message."""

    run_workers: bool = True
    """`serve` runs the workers as a supervised child process (so the demo completes runs with
    one command); false when `valuerank worker` processes run on their own."""
    worker_concurrency: int = Field(default=32, ge=1)
    """Jobs one process runs at once per provider queue; the provider's own limits, shared by
    all processes, are enforced on top (maxParallelRequests, requestsPerMinute)."""
    summary_concurrency: int = Field(default=8, ge=1)
    """Summary jobs one worker process runs at once."""
    worker_db_connections: int = Field(default=10, ge=2)
    """Database connections one worker process may hold for its jobs (each job holds one only
    for its short transactions), besides one LISTEN connection per queue and the queue's own."""
    max_attempts: int = Field(default=4, ge=1)
    """Attempts of a probe or summary before it fails for good."""
    retry_base_seconds: float = Field(default=2.0, ge=0)
    """The first retry's delay (doubling each time) when the provider gave no Retry-After."""
    poll_seconds: float = Field(default=0.5, gt=0)
    """How often an idle worker looks for delayed or retried jobs (new jobs arrive by NOTIFY)."""
    summarizer_model: str = "sim-instant"
    """The model that writes decisionText (through the same adapters). Simulated by default."""
    recovery_cron: str = "* * * * *"
    """When the recovery sweep runs (cron; a 6th field is seconds)."""
    stalled_worker_seconds: float = Field(default=30.0, gt=0)
    """A worker with no heartbeat for this long is dead; its running jobs are retried."""
    deleted_run_retention_days: int | None = Field(default=30, ge=0)
    """The maintenance job deletes for good, with all that belongs to them, runs soft-deleted
    (`deleteRun`) more than this many days ago. Unset: deleted runs are kept."""
    transcript_content_ttl_days: int | None = Field(default=None, ge=0)
    """When set, a transcript's conversation is cleared this many days after it was stored
    (`contentExpiresAt`, filled in by the maintenance job); its decision, tokens, cost and
    timings stay. Unset: conversations are kept."""
    finished_job_retention_hours: int = Field(default=168, ge=1)
    """The maintenance job deletes queue jobs finished (succeeded, failed, cancelled, aborted)
    more than this many hours ago, with Procrastinate's own `delete_old_jobs`."""
    worker_restart_seconds: float = Field(default=1.0, ge=0)
    """`serve` restarts a worker process that died after this long, doubling with each quick
    death."""
    worker_restart_max_seconds: float = Field(default=30.0, ge=0)
    """The longest wait before `serve` restarts a worker process."""
    worker_stable_seconds: float = Field(default=60.0, gt=0)
    """A worker process up this long counts as healthy again: its next death waits the least."""
    worker_metrics_port: int | None = Field(default=None, ge=0, le=65535)
    """A worker process serves /metrics, /healthz and /readyz on this port (at HOST); unset:
    none (one port per process, so give each process on a host its own)."""
    stalled_model_seconds: float = Field(default=180.0, gt=0)
    """A model of a running run with work left and no success for this long is "stalled"."""
    provider_host_allowlist: Annotated[list[str], NoDecode] = []
    """Hosts (`host` or `host:port`, comma-separated) that may receive a provider's API key when
    a model's apiConfig.baseUrl points there. A key otherwise goes only to its provider's own
    base URL (the vendor's, or `<PROVIDER>_BASE_URL`): anyone who may edit a model must not be
    able to send the operator's keys to a host of their choosing."""

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


def settings_table(markdown: bool = False) -> str:
    """Every setting: its environment variable, default and meaning (for `--help` and the
    README's configuration table, which a test keeps equal to this)."""
    rows = []
    for name, field in Settings.model_fields.items():
        default = field.get_default(call_default_factory=True)
        shown = "unset" if default is None else json.dumps(default, default=str)
        meaning = " ".join((field.description or "").split())
        if markdown:
            rows.append(f"| `{name.upper()}` | `{shown}` | {meaning} |")
        else:
            wrapped = textwrap.fill(meaning, 92, initial_indent=" " * 6, subsequent_indent=" " * 6)
            rows.append(f"  {name.upper()} (default {shown})\n{wrapped}")
    if markdown:
        return "\n".join(["| variable | default | meaning |", "|---|---|---|", *rows])
    return "\n".join(rows)


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
