"""The periodic `maintenance` task, every minute: recovery sweep, provider-lease pruning,
retention (runs deleted long ago, expired conversations) and finished jobs."""

from __future__ import annotations

import procrastinate
from procrastinate.job_context import JobContext

from app.config import Settings
from app.runs.lifecycle import recovery, retention
from workers.runtime import runtime_of

MAINTENANCE_TASK = "maintenance"
MAINTENANCE_QUEUE = "maintenance"


async def maintenance(context: JobContext, timestamp: int) -> str:
    runtime = runtime_of(context)
    settings = runtime.settings
    report = await recovery.maintain(
        runtime.db,
        seconds_since_heartbeat=settings.stalled_worker_seconds,
        policy=policy_of(settings),
    )
    # The queue library's own clean-up, not a DELETE of ours: it knows its tables and events.
    await context.app.job_manager.delete_old_jobs(
        nb_hours=settings.finished_job_retention_hours,
        include_failed=True,
        include_cancelled=True,
        include_aborted=True,
    )
    return f"{report}"


def policy_of(settings: Settings) -> retention.Policy:
    return retention.Policy(
        deleted_run_retention_days=settings.deleted_run_retention_days,
        transcript_content_ttl_days=settings.transcript_content_ttl_days,
    )


def register(app: procrastinate.App, *, cron: str) -> None:
    task = app.task(name=MAINTENANCE_TASK, queue=MAINTENANCE_QUEUE, pass_context=True)(maintenance)
    app.periodic(cron=cron, periodic_id="recovery")(task)
