"""Provider leases (limits shared by every worker process) and the queue's pause switch.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-21
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "provider_leases",
        sa.Column("id", sa.BigInteger(), primary_key=True),
        sa.Column("provider_id", sa.String(), sa.ForeignKey("llm_providers.id"), nullable=False),
        sa.Column("run_id", sa.String(), nullable=True),
        sa.Column("model_id", sa.String(), nullable=True),
        sa.Column(
            "started_at",
            sa.DateTime(timezone=True),
            server_default=sa.func.clock_timestamp(),
            nullable=False,
        ),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index(
        "ix_provider_leases_open",
        "provider_leases",
        ["provider_id"],
        postgresql_where=sa.text("finished_at IS NULL"),
    )
    op.create_index(
        "ix_provider_leases_run_open",
        "provider_leases",
        ["run_id"],
        postgresql_where=sa.text("finished_at IS NULL"),
    )
    op.create_table(
        "provider_starts",
        sa.Column("provider_id", sa.String(), sa.ForeignKey("llm_providers.id"), primary_key=True),
        sa.Column("second", sa.DateTime(timezone=True), primary_key=True),
        sa.Column("calls", sa.Integer(), server_default="0", nullable=False),
    )
    op.create_table(
        "queue_controls",
        sa.Column("name", sa.String(), primary_key=True),
        sa.Column("paused", sa.Boolean(), server_default=sa.false(), nullable=False),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), server_default=sa.func.now(), nullable=False
        ),
    )


def downgrade() -> None:
    op.drop_table("queue_controls")
    op.drop_table("provider_starts")
    op.drop_table("provider_leases")
