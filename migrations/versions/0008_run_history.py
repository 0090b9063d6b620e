"""Run history: an append-only status log written by a trigger, re-run links, provenance.

Every change of `runs.status` (and the insert) writes one `run_events` row from a trigger, so
that status changes made by any code path (workers, recovery, the spend cap, provider
suspension) are logged without that code's cooperation. Who and why come from
transaction-local settings the edges set (`valuerank.actor`, `valuerank.reason`), defaulting
to "worker"; a pause carrying `pause_reason` BUDGET_EXHAUSTED is the budget's.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-02
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_RECORD = """
CREATE FUNCTION record_run_event() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
  who text := coalesce(nullif(current_setting('valuerank.actor', true), ''), 'worker');
  why text := nullif(current_setting('valuerank.reason', true), '');
BEGIN
  IF TG_OP = 'UPDATE' AND NEW.status IS NOT DISTINCT FROM OLD.status THEN
    RETURN NEW;
  END IF;
  IF NEW.status = 'PAUSED' AND NEW.pause_reason IS NOT NULL THEN
    why := coalesce(why, NEW.pause_reason);
    IF NEW.pause_reason = 'BUDGET_EXHAUSTED' THEN
      who := 'budget';
    END IF;
  END IF;
  INSERT INTO run_events (run_id, status, previous_status, reason, actor, at)
  VALUES (NEW.id, NEW.status, CASE WHEN TG_OP = 'UPDATE' THEN OLD.status END, why, who,
          clock_timestamp());
  RETURN NEW;
END $$
"""
_APPEND_ONLY = """
CREATE FUNCTION refuse_run_event_update() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
  RAISE EXCEPTION 'run_events is append-only';
END $$
"""


def upgrade() -> None:
    op.create_table(
        "run_events",
        sa.Column("id", sa.BigInteger(), sa.Identity(), primary_key=True),
        sa.Column(
            "run_id",
            sa.String(),
            sa.ForeignKey("runs.id", ondelete="CASCADE"),
            nullable=False,
        ),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("previous_status", sa.String(), nullable=True),
        sa.Column("reason", sa.String(), nullable=True),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_run_events_run_id", "run_events", ["run_id", "id"])
    op.add_column("runs", sa.Column("parent_run_id", sa.String(), nullable=True))
    op.create_foreign_key(
        "fk_runs_parent_run_id", "runs", "runs", ["parent_run_id"], ["id"], ondelete="SET NULL"
    )
    op.create_index("ix_runs_parent_run_id", "runs", ["parent_run_id"])
    op.add_column("runs", sa.Column("provenance", postgresql.JSONB(), nullable=True))
    op.execute(_RECORD)
    op.execute(
        "CREATE TRIGGER runs_status_event AFTER INSERT OR UPDATE OF status ON runs "
        "FOR EACH ROW EXECUTE FUNCTION record_run_event()"
    )
    op.execute(_APPEND_ONLY)
    op.execute(
        "CREATE TRIGGER run_events_append_only BEFORE UPDATE ON run_events "
        "FOR EACH ROW EXECUTE FUNCTION refuse_run_event_update()"
    )
    # Runs that exist already get their current status as a first event, by "migration".
    op.execute(
        "INSERT INTO run_events (run_id, status, actor, reason, at) "
        "SELECT id, status, 'migration', 'status before the event log', "
        "coalesce(updated_at, created_at, now()) FROM runs"
    )


def downgrade() -> None:
    op.execute("DROP TRIGGER run_events_append_only ON run_events")
    op.execute("DROP FUNCTION refuse_run_event_update()")
    op.execute("DROP TRIGGER runs_status_event ON runs")
    op.execute("DROP FUNCTION record_run_event()")
    op.drop_column("runs", "provenance")
    op.drop_index("ix_runs_parent_run_id", "runs")
    op.drop_constraint("fk_runs_parent_run_id", "runs", type_="foreignkey")
    op.drop_column("runs", "parent_run_id")
    op.drop_index("ix_run_events_run_id", "run_events")
    op.drop_table("run_events")
