"""The ledger of provider calls: one row per call attempt of a run (probe or summary), its
reservation against the run's spend cap while in flight, its cost once settled.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "provider_calls",
        sa.Column("id", sa.BigInteger(), primary_key=True, autoincrement=True),
        sa.Column(
            "run_id", sa.String(), sa.ForeignKey("runs.id", ondelete="CASCADE"), nullable=False
        ),
        sa.Column("purpose", sa.String(), nullable=False),
        sa.Column("scenario_id", sa.String(), nullable=True),
        sa.Column("model_id", sa.String(), nullable=False),
        sa.Column("sample_index", sa.Integer(), nullable=True),
        sa.Column("transcript_id", sa.String(), nullable=True),
        sa.Column("provider_id", sa.String(), nullable=False),
        sa.Column("attempt", sa.Integer(), server_default="0", nullable=False),
        sa.Column(
            "started_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.clock_timestamp(),
            nullable=False,
        ),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("outcome", sa.String(), nullable=True),
        sa.Column("error_code", sa.String(), nullable=True),
        sa.Column("input_tokens", sa.Integer(), nullable=True),
        sa.Column("output_tokens", sa.Integer(), nullable=True),
        sa.Column("reserved_usd", sa.Double(), server_default="0", nullable=False),
        sa.Column("cost_usd", sa.Double(), nullable=True),
        sa.Column("estimated", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.CheckConstraint("purpose IN ('PROBE', 'SUMMARY')", name="ck_provider_calls_purpose"),
        sa.CheckConstraint(
            "outcome IN ('SUCCESS', 'FAILED', 'ABORTED', 'RETRIED')",
            name="ck_provider_calls_outcome",
        ),
    )
    op.create_index("ix_provider_calls_run_model", "provider_calls", ["run_id", "model_id"])
    op.create_index(
        "ix_provider_calls_in_flight",
        "provider_calls",
        ["run_id"],
        postgresql_where=sa.text("outcome IS NULL"),
    )


def downgrade() -> None:
    op.drop_table("provider_calls")
