"""The maintenance job's content expiry finds its transcripts by index: those whose
conversation is still there, by `content_expires_at` (null: not dated yet).

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0009"
down_revision: str | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_transcripts_content_expiry",
        "transcripts",
        ["content_expires_at"],
        postgresql_where=sa.text("content <> '{}'::jsonb"),
    )


def downgrade() -> None:
    op.drop_index("ix_transcripts_content_expiry", table_name="transcripts")
