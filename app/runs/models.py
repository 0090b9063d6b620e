"""Run, its scenario selections, its probe results (one row per finished slot) and its tags."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from app.db import (
    check_in,
    created_at_field,
    id_field,
    json_field,
    timestamp_field,
    updated_at_field,
)

RUN_STATUSES = (
    "PENDING",
    "RUNNING",
    "PAUSED",
    "SUMMARIZING",
    "COMPLETED",
    "FAILED",
    "CANCELLED",
)
ACTIVE_STATUSES = ("PENDING", "RUNNING", "PAUSED", "SUMMARIZING")
TERMINAL_STATUSES = ("COMPLETED", "FAILED", "CANCELLED")
RUN_CATEGORIES = ("PILOT", "PRODUCTION", "REPLICATION", "VALIDATION", "UNKNOWN_LEGACY")
PRIORITIES = ("LOW", "NORMAL", "HIGH")
PROBE_STATUSES = ("SUCCESS", "FAILED")
# Why the server paused a run by itself; a pause a person asked for has none.
PAUSE_REASONS = ("BUDGET_EXHAUSTED", "PROVIDER_SUSPENDED")


class Run(SQLModel, table=True):
    __tablename__ = "runs"

    id: str = id_field()
    name: str | None = None
    definition_id: str = Field(foreign_key="definitions.id")
    definition_version: int | None = None
    experiment_id: str | None = Field(default=None, foreign_key="experiments.id", index=True)
    status: str = Field(
        default="PENDING", sa_column_kwargs={"server_default": "PENDING", "nullable": False}
    )
    run_category: str = Field(
        default="UNKNOWN_LEGACY",
        sa_column_kwargs={"server_default": "UNKNOWN_LEGACY", "nullable": False},
    )
    priority: str = Field(
        default="NORMAL", sa_column_kwargs={"server_default": "NORMAL", "nullable": False}
    )
    config: dict[str, Any] = json_field(server_default="{}")
    # Fixed at start: models × scenarios × samples. Completed/failed are derived, never stored.
    total_slots: int = Field(default=0, sa_column_kwargs={"server_default": "0", "nullable": False})
    samples_per_scenario: int = Field(
        default=1, sa_column_kwargs={"server_default": "1", "nullable": False}
    )
    max_budget_usd: float | None = Field(default=None, sa_type=sa.Double)
    # Set with status PAUSED when the server paused the run (PAUSE_REASONS); cleared on resume.
    pause_reason: str | None = None
    # The run this one re-runs (rerunRun); the source is never changed by its re-runs.
    parent_run_id: str | None = Field(
        default=None, foreign_key="runs.id", ondelete="SET NULL", index=True
    )
    # What ran and where, fixed at start (runs/provenance.py); never updated afterwards.
    provenance: dict[str, Any] | None = json_field(nullable=True)
    # Opt-in: a slot whose exact request was answered before copies that transcript (no call).
    reuse_responses: bool = Field(
        default=False, sa_column_kwargs={"server_default": sa.false(), "nullable": False}
    )
    started_at: datetime | None = timestamp_field()
    completed_at: datetime | None = timestamp_field()
    created_at: datetime | None = created_at_field()
    updated_at: datetime | None = updated_at_field()
    last_accessed_at: datetime | None = timestamp_field()
    deleted_at: datetime | None = timestamp_field()

    __table_args__ = (
        check_in("status", RUN_STATUSES, "ck_runs_status"),
        check_in("run_category", RUN_CATEGORIES, "ck_runs_category"),
        check_in("priority", PRIORITIES, "ck_runs_priority"),
        sa.CheckConstraint(
            "pause_reason IN ('BUDGET_EXHAUSTED', 'PROVIDER_SUSPENDED')",
            name="ck_runs_pause_reason",
        ),
        sa.CheckConstraint("total_slots >= 0", name="ck_runs_total_slots"),
        sa.CheckConstraint(
            "samples_per_scenario BETWEEN 1 AND 100", name="ck_runs_samples_per_scenario"
        ),
        # The run list: live runs, newest first, optionally by definition / status.
        sa.Index(
            "ix_runs_live_created",
            sa.text("created_at DESC"),
            sa.text("id DESC"),
            postgresql_where=sa.text("deleted_at IS NULL"),
        ),
        sa.Index("ix_runs_definition_created", "definition_id", sa.text("created_at DESC")),
        sa.Index("ix_runs_status", "status"),
    )


class RunScenarioSelection(SQLModel, table=True):
    __tablename__ = "run_scenario_selections"

    id: str = id_field()
    run_id: str = Field(foreign_key="runs.id")
    scenario_id: str = Field(foreign_key="scenarios.id", index=True)
    created_at: datetime | None = created_at_field()

    __table_args__ = (
        sa.UniqueConstraint("run_id", "scenario_id", name="uq_run_scenario_selections_slot"),
    )


class ProbeResult(SQLModel, table=True):
    """The terminal outcome of one slot (run, scenario, model, sample). A slot with no row is open."""

    __tablename__ = "probe_results"

    id: str = id_field()
    run_id: str = Field(foreign_key="runs.id")
    scenario_id: str = Field(foreign_key="scenarios.id")
    model_id: str
    sample_index: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    status: str
    transcript_id: str | None = Field(default=None, foreign_key="transcripts.id")
    error_code: str | None = None
    error_message: str | None = None
    retry_count: int = Field(default=0, sa_column_kwargs={"server_default": "0", "nullable": False})
    input_tokens: int | None = None
    output_tokens: int | None = None
    duration_ms: int | None = None
    queued_at: datetime | None = timestamp_field()
    queue_wait_ms: int | None = None
    created_at: datetime | None = created_at_field()
    completed_at: datetime | None = timestamp_field()

    __table_args__ = (
        # The one index that starts with run_id (migration 0013 says why).
        sa.UniqueConstraint(
            "run_id",
            "scenario_id",
            "model_id",
            "sample_index",
            name="uq_probe_results_slot",
            postgresql_include=["status"],
        ),
        check_in("status", PROBE_STATUSES, "ck_probe_results_status"),
    )


class RunTag(SQLModel, table=True):
    __tablename__ = "run_tags"

    run_id: str = Field(foreign_key="runs.id", primary_key=True)
    tag_id: str = Field(foreign_key="tags.id", primary_key=True, index=True)


class RunEvent(SQLModel, table=True):
    """One status change of a run. Written only by the `runs_status_event` trigger
    (migration 0008), so every code path is logged; updates are refused (append-only)."""

    __tablename__ = "run_events"

    id: int | None = Field(
        default=None, sa_column=sa.Column(sa.BigInteger, sa.Identity(), primary_key=True)
    )
    run_id: str = Field(foreign_key="runs.id", ondelete="CASCADE")
    status: str
    previous_status: str | None = None
    reason: str | None = None
    # An API key's name, "worker", "recovery", "budget" (or "migration" for pre-log runs).
    actor: str
    at: datetime = Field(sa_type=sa.DateTime(timezone=True))

    __table_args__ = (sa.Index("ix_run_events_run_id", "run_id", "id"),)


CALL_PURPOSES = ("PROBE", "SUMMARY")
CALL_OUTCOMES = ("SUCCESS", "FAILED", "ABORTED", "RETRIED")


class ProviderCall(SQLModel, table=True):
    """The ledger: one row per provider call attempt of a run, probe or summary.

    A row is inserted when the call is allowed to start (outcome null: in flight, its
    `reserved_usd` held against the run's cap until `expires_at`) and settled in the
    transaction that stores the call's outcome, with the cost at the prices of that moment.
    Every spend figure of a run is a sum over these rows (app/runs/spend.py).
    """

    __tablename__ = "provider_calls"

    id: int | None = Field(default=None, primary_key=True, sa_type=sa.BigInteger)
    run_id: str = Field(foreign_key="runs.id", ondelete="CASCADE")
    purpose: str
    scenario_id: str | None = None
    model_id: str
    sample_index: int | None = None
    transcript_id: str | None = None  # the summarized transcript, for a SUMMARY call
    provider_id: str
    attempt: int = Field(default=0, sa_column_kwargs={"server_default": "0", "nullable": False})
    started_at: datetime | None = Field(
        default=None,
        sa_type=sa.DateTime(timezone=True),
        sa_column_kwargs={"server_default": sa.func.clock_timestamp(), "nullable": False},
    )
    ended_at: datetime | None = Field(default=None, sa_type=sa.DateTime(timezone=True))
    # A worker killed mid-call never settles its row; its reservation stops counting then.
    expires_at: datetime = Field(sa_type=sa.DateTime(timezone=True))
    outcome: str | None = None
    error_code: str | None = None
    input_tokens: int | None = None
    output_tokens: int | None = None
    reserved_usd: float = Field(
        default=0.0, sa_type=sa.Double, sa_column_kwargs={"server_default": "0", "nullable": False}
    )
    cost_usd: float | None = Field(default=None, sa_type=sa.Double)
    # True when the vendor reported no usage and the cost is the call's expected cost.
    estimated: bool = Field(
        default=False, sa_column_kwargs={"server_default": sa.false(), "nullable": False}
    )

    __table_args__ = (
        check_in("purpose", CALL_PURPOSES, "ck_provider_calls_purpose"),
        check_in("outcome", CALL_OUTCOMES, "ck_provider_calls_outcome"),
        sa.Index("ix_provider_calls_run_model", "run_id", "model_id"),
        sa.Index(
            "ix_provider_calls_in_flight", "run_id", postgresql_where=sa.text("outcome IS NULL")
        ),
        # The observed average of a model's latest successful calls (app/runs/budget.py).
        sa.Index(
            "ix_provider_calls_observed",
            "run_id",
            "model_id",
            "purpose",
            "id",
            postgresql_where=sa.text("outcome = 'SUCCESS' AND NOT estimated"),
        ),
    )
