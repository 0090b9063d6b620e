"""Procrastinate's job tables, functions and triggers (procrastinate 3.10.0).

Installed from the schema file shipped with the pinned procrastinate release. A later
procrastinate upgrade adds its own revision applying the release's migration scripts
(`procrastinate/sql/migrations/*.sql`), never a second `apply_schema`.

Revision ID: 0001
Revises:
Create Date: 2026-11-21
"""

from collections.abc import Sequence
from importlib import resources

from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

PROCRASTINATE_VERSION = "3.10.0"


def upgrade() -> None:
    import procrastinate

    installed = getattr(procrastinate, "__version__", PROCRASTINATE_VERSION)
    if installed != PROCRASTINATE_VERSION:
        raise RuntimeError(
            f"revision 0001 installs procrastinate {PROCRASTINATE_VERSION}'s schema, "
            f"found {installed}: add a revision with that release's migration scripts"
        )
    schema_sql = resources.files("procrastinate.sql").joinpath("schema.sql").read_text()
    # exec_driver_sql would treat % as a placeholder marker.
    op.get_bind().exec_driver_sql(schema_sql.replace("%", "%%"))


def downgrade() -> None:
    op.execute(
        """
        DROP TABLE IF EXISTS procrastinate_events, procrastinate_periodic_defers,
            procrastinate_jobs, procrastinate_workers CASCADE;
        DROP TYPE IF EXISTS procrastinate_job_status, procrastinate_job_event_type CASCADE;
        """
    )
