"""transcripts: the live transcripts of a run that wait for their summary, by index.

After each summary commits, one statement asks whether any transcript of its run still waits
(app/runs/state.py: pending_summary), and the last one moves the run to COMPLETED. Without this
index the question read the run's transcripts through (run_id, …) until it met a pending one:
as a run's summaries go in the order its transcripts were stored, each look read past all
those already summarized, so the looks over a run grew with the square of its size (a
100,000-slot run's last summaries would each have read about 100,000 rows; issue 14). The
partial index holds only the pending ones, so the look reads at most one entry.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index(
        "ix_transcripts_pending_summary",
        "transcripts",
        ["run_id"],
        postgresql_where=sa.text("summary_status = 'PENDING' AND deleted_at IS NULL"),
    )


def downgrade() -> None:
    op.drop_index("ix_transcripts_pending_summary", table_name="transcripts")
