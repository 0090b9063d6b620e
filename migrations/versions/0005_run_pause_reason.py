"""Why the server paused a run (a budget spent, a provider suspended); null for a person's pause.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("runs", sa.Column("pause_reason", sa.String(), nullable=True))
    op.create_check_constraint(
        "ck_runs_pause_reason",
        "runs",
        "pause_reason IN ('BUDGET_EXHAUSTED', 'PROVIDER_SUSPENDED')",
    )


def downgrade() -> None:
    op.drop_constraint("ck_runs_pause_reason", "runs")
    op.drop_column("runs", "pause_reason")
