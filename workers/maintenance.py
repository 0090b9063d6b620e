"""The periodic `maintenance` task: recovery sweep and provider-lease pruning, every minute."""

from __future__ import annotations

import procrastinate
from procrastinate.job_context import JobContext

from app.runs.lifecycle import recovery
from workers.runtime import runtime_of

MAINTENANCE_TASK = "maintenance"
MAINTENANCE_QUEUE = "maintenance"


async def maintenance(context: JobContext, timestamp: int) -> str:
    runtime = runtime_of(context)
    report = await recovery.maintain(
        runtime.db, seconds_since_heartbeat=runtime.settings.stalled_worker_seconds
    )
    return f"{report}"


def register(app: procrastinate.App, *, cron: str) -> None:
    task = app.task(name=MAINTENANCE_TASK, queue=MAINTENANCE_QUEUE, pass_context=True)(maintenance)
    app.periodic(cron=cron, periodic_id="recovery")(task)
