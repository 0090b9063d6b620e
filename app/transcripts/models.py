"""Transcript rows: one live transcript per slot, enforced by a partial unique index."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.db import created_at_field, id_field, json_field, timestamp_field

DECISION_CODES = ("1", "2", "3", "4", "5", "other")
SUMMARY_STATUSES = ("PENDING", "SUMMARIZED", "FAILED")


class Transcript(SQLModel, table=True):
    __tablename__ = "transcripts"

    id: str = id_field()
    run_id: str = Field(foreign_key="runs.id")
    scenario_id: str | None = Field(default=None, foreign_key="scenarios.id", index=True)
    model_id: str
    model_version: str | None = None
    sample_index: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    definition_snapshot: dict[str, Any] | None = json_field(nullable=True)
    content: dict[str, Any] = json_field()
    turn_count: int = 0
    token_count: int = 0
    input_tokens: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    output_tokens: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    duration_ms: int = 0
    estimated_cost: float | None = Field(default=None, sa_type=sa.Double)
    # The transcript this one copies (StartRunInput.reuseResponses): no call was made for it.
    reused_from_id: str | None = None
    decision_code: str | None = None
    decision_text: str | None = None
    decision_metadata: dict[str, Any] | None = json_field(nullable=True)
    summary_status: str = Field(
        default="PENDING", sa_column_kwargs={"server_default": "PENDING", "nullable": False}
    )
    summarized_at: datetime | None = timestamp_field()
    summarize_duration_ms: int | None = None
    dimension_values: dict[str, Any] | None = json_field(nullable=True)
    created_at: datetime | None = created_at_field()
    last_accessed_at: datetime | None = timestamp_field()
    content_expires_at: datetime | None = timestamp_field()
    deleted_at: datetime | None = timestamp_field()

    __table_args__ = (
        sa.Index(
            "uq_transcripts_live_slot",
            "run_id",
            "scenario_id",
            "model_id",
            "sample_index",
            unique=True,
            postgresql_where=sa.text("deleted_at IS NULL"),
        ),
        sa.Index("ix_transcripts_run_model_created", "run_id", "model_id", "created_at"),
        # The look after each summary: does any transcript of the run still wait (0014).
        sa.Index(
            "ix_transcripts_pending_summary",
            "run_id",
            postgresql_where=sa.text("summary_status = 'PENDING' AND deleted_at IS NULL"),
        ),
        # The maintenance job's content expiry (runs/lifecycle/retention.py): transcripts whose
        # conversation is still there, undated (null) or by when it expires.
        sa.Index(
            "ix_transcripts_content_expiry",
            "content_expires_at",
            postgresql_where=sa.text("content <> '{}'::jsonb"),
        ),
        sa.CheckConstraint(
            "decision_code IS NULL OR decision_code IN ('1', '2', '3', '4', '5', 'other')",
            name="ck_transcripts_decision_code",
        ),
        sa.CheckConstraint(
            "summary_status IN ('PENDING', 'SUMMARIZED', 'FAILED')",
            name="ck_transcripts_summary_status",
        ),
    )
