"""Provider and model rows. API keys are never stored here: they come from the environment."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.db import check_in, created_at_field, id_field, json_field, updated_at_field

MODEL_STATUSES = ("ACTIVE", "DEPRECATED")


class LlmProvider(SQLModel, table=True):
    __tablename__ = "llm_providers"

    id: str = id_field()
    name: str = Field(unique=True)
    display_name: str
    max_parallel_requests: int = Field(
        default=10, sa_column_kwargs={"server_default": "10", "nullable": False}
    )
    requests_per_minute: int = Field(
        default=60, sa_column_kwargs={"server_default": "60", "nullable": False}
    )
    is_enabled: bool = Field(
        default=True, sa_column_kwargs={"server_default": sa.true(), "nullable": False}
    )
    # 0: no token limit. Reserved per call before it starts, settled with the reported usage.
    tokens_per_minute: int = Field(
        default=0, sa_column_kwargs={"server_default": "0", "nullable": False}
    )
    # Set when the vendor said the credit is exhausted or the key is bad: no call starts until
    # an admin's resumeLlmProvider clears it (the vendor's message, keys redacted).
    suspended_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    suspended_reason: str | None = None
    created_at: datetime | None = created_at_field()
    updated_at: datetime | None = updated_at_field()

    __table_args__ = (
        sa.CheckConstraint("max_parallel_requests >= 1", name="ck_llm_providers_parallel"),
        sa.CheckConstraint("requests_per_minute >= 1", name="ck_llm_providers_rpm"),
        sa.CheckConstraint("tokens_per_minute >= 0", name="ck_llm_providers_tpm"),
    )


class LlmModel(SQLModel, table=True):
    __tablename__ = "llm_models"

    id: str = id_field()
    provider_id: str = Field(foreign_key="llm_providers.id", index=True)
    model_id: str = Field(index=True)
    display_name: str
    cost_input_per_million: float = Field(sa_type=sa.Double)
    cost_output_per_million: float = Field(sa_type=sa.Double)
    status: str = Field(
        default="ACTIVE", sa_column_kwargs={"server_default": "ACTIVE", "nullable": False}
    )
    is_default: bool = Field(
        default=False, sa_column_kwargs={"server_default": sa.false(), "nullable": False}
    )
    api_config: dict[str, Any] | None = json_field(nullable=True)
    created_at: datetime | None = created_at_field()
    updated_at: datetime | None = updated_at_field()

    __table_args__ = (
        sa.UniqueConstraint("provider_id", "model_id", name="uq_llm_models_provider_model"),
        check_in("status", MODEL_STATUSES, "ck_llm_models_status"),
        sa.CheckConstraint("cost_input_per_million >= 0", name="ck_llm_models_cost_input"),
        sa.CheckConstraint("cost_output_per_million >= 0", name="ck_llm_models_cost_output"),
        # One default model per provider.
        sa.Index(
            "uq_llm_models_one_default",
            "provider_id",
            unique=True,
            postgresql_where=sa.text("is_default"),
        ),
    )


class ProviderLease(SQLModel, table=True):
    """One provider call, held from before the request until its result is stored.

    The rows are the shared state behind the per-provider limits: calls in flight are the
    unfinished, unexpired leases; calls started in the last minute are the recent rows. Every
    worker process takes its leases here, so the limits hold across processes.
    """

    __tablename__ = "provider_leases"

    id: int | None = Field(default=None, primary_key=True, sa_type=sa.BigInteger)
    provider_id: str = Field(foreign_key="llm_providers.id")
    # What the call is for (execution metrics); a lease may also serve no run (summaries).
    run_id: str | None = None
    model_id: str | None = None
    started_at: datetime | None = Field(
        default=None,
        sa_type=sa.DateTime(timezone=True),
        sa_column_kwargs={"server_default": sa.func.clock_timestamp(), "nullable": False},
    )
    finished_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    # A worker killed mid-call never finishes its lease; it stops counting after this.
    expires_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    # Tokens reserved for the call (an estimate), replaced by the reported usage when it ends.
    tokens: int = Field(
        default=0,
        sa_type=sa.BigInteger,
        sa_column_kwargs={"server_default": "0", "nullable": False},
    )

    __table_args__ = (
        sa.Index(
            "ix_provider_leases_open",
            "provider_id",
            postgresql_where=sa.text("finished_at IS NULL"),
        ),
        sa.Index(
            "ix_provider_leases_run_open",
            "run_id",
            postgresql_where=sa.text("finished_at IS NULL"),
        ),
    )


class ProviderStarts(SQLModel, table=True):
    """Calls started per provider per second: the rolling minute behind `requestsPerMinute` is
    the sum of at most 60 rows, however busy the provider is."""

    __tablename__ = "provider_starts"

    provider_id: str = Field(foreign_key="llm_providers.id", primary_key=True)
    second: datetime = Field(sa_type=sa.DateTime(timezone=True), primary_key=True)
    calls: int = Field(default=0, sa_column_kwargs={"server_default": "0", "nullable": False})
    # Tokens of the calls started in that second: reserved, then settled (tokensPerMinute).
    tokens: int = Field(
        default=0,
        sa_type=sa.BigInteger,
        sa_column_kwargs={"server_default": "0", "nullable": False},
    )


class QueueControl(SQLModel, table=True):
    """Switches every worker process reads before starting a job (pauseQueue / resumeQueue)."""

    __tablename__ = "queue_controls"

    name: str = Field(primary_key=True)
    paused: bool = Field(
        default=False, sa_column_kwargs={"server_default": sa.false(), "nullable": False}
    )
    updated_at: datetime | None = updated_at_field()
