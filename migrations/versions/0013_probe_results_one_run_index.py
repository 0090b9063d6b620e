"""probe_results: one index that starts with run_id. The slot's unique key now carries `status`
(INCLUDE), and `ix_probe_results_run_status_model` is gone.

After every probe's commit, the advance check asks whether each open job's slot already has
a result. With both indexes starting with run_id, PostgreSQL, lacking statistics for the rows
of a run just started (always so on a new database, and until autovacuum's next ANALYZE),
priced them alike and took the smaller, (run_id, status, model_id): each lookup then read
every result of the run's model and filtered on scenario and sample (auto_explain on
bench/probes: 418 rows removed per lookup, 47 lookups, 13 ms per check; issue 14), so the
check grew with the run. With one such index, the lookup is the unique key's. The counts by
status and model per run read the same index without the heap (status is included).

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-02
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SLOT = "run_id, scenario_id, model_id, sample_index"


def upgrade() -> None:
    op.execute("ALTER TABLE probe_results DROP CONSTRAINT uq_probe_results_slot")
    op.execute(
        f"ALTER TABLE probe_results ADD CONSTRAINT uq_probe_results_slot UNIQUE ({SLOT}) "
        "INCLUDE (status)"
    )
    op.drop_index("ix_probe_results_run_status_model", table_name="probe_results")


def downgrade() -> None:
    op.create_index(
        "ix_probe_results_run_status_model", "probe_results", ["run_id", "status", "model_id"]
    )
    op.execute("ALTER TABLE probe_results DROP CONSTRAINT uq_probe_results_slot")
    op.execute(f"ALTER TABLE probe_results ADD CONSTRAINT uq_probe_results_slot UNIQUE ({SLOT})")
