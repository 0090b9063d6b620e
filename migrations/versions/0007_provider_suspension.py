"""Provider suspension (credit exhausted, bad key), a tokens-per-minute limit shared by every
process, and opt-in response reuse.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0007"
down_revision: str | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column(
        "llm_providers", sa.Column("suspended_at", sa.DateTime(timezone=True), nullable=True)
    )
    op.add_column("llm_providers", sa.Column("suspended_reason", sa.String(), nullable=True))
    op.add_column(
        "llm_providers",
        sa.Column("tokens_per_minute", sa.Integer(), server_default="0", nullable=False),
    )
    op.create_check_constraint("ck_llm_providers_tpm", "llm_providers", "tokens_per_minute >= 0")
    op.add_column(
        "provider_leases",
        sa.Column("tokens", sa.BigInteger(), server_default="0", nullable=False),
    )
    op.add_column(
        "provider_starts",
        sa.Column("tokens", sa.BigInteger(), server_default="0", nullable=False),
    )
    op.add_column(
        "runs",
        sa.Column("reuse_responses", sa.Boolean(), server_default=sa.false(), nullable=False),
    )
    op.add_column("transcripts", sa.Column("reused_from_id", sa.String(), nullable=True))


def downgrade() -> None:
    op.drop_column("transcripts", "reused_from_id")
    op.drop_column("runs", "reuse_responses")
    op.drop_column("provider_starts", "tokens")
    op.drop_column("provider_leases", "tokens")
    op.drop_constraint("ck_llm_providers_tpm", "llm_providers")
    op.drop_column("llm_providers", "tokens_per_minute")
    op.drop_column("llm_providers", "suspended_reason")
    op.drop_column("llm_providers", "suspended_at")
