"""Find a run's queued and running jobs without scanning the queue (pause, cancel, resume).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-21
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Named procrastinate_* so autogenerate leaves it alone with the rest of the queue's objects.
    op.execute(
        "CREATE INDEX procrastinate_jobs_vr_run_id_idx ON procrastinate_jobs ((args->>'runId')) "
        "WHERE status IN ('todo', 'doing')"
    )


def downgrade() -> None:
    op.execute("DROP INDEX IF EXISTS procrastinate_jobs_vr_run_id_idx")
