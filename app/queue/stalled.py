"""Jobs left `doing` by workers that died or lost their database: back to `todo`, through
Procrastinate's own retry function."""

from __future__ import annotations

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession


async def retry_stalled(session: AsyncSession, *, seconds_since_heartbeat: float) -> int:
    """Put back to `todo` the running jobs of workers with no recent heartbeat (killed or
    partitioned processes), as Procrastinate's own stalled-job query defines them."""
    connection = await session.connection()
    result = await connection.execute(
        sa.text(
            """
            WITH stalled AS (
                SELECT j.id FROM procrastinate_jobs j
                LEFT JOIN procrastinate_workers w ON w.id = j.worker_id
                WHERE j.status = 'doing'
                  AND (j.worker_id IS NULL
                       OR w.last_heartbeat < now() - make_interval(secs => :seconds))
                FOR UPDATE OF j SKIP LOCKED
            )
            SELECT procrastinate_retry_job_v2(id, now(), NULL, NULL, NULL) FROM stalled
            """
        ),
        {"seconds": seconds_since_heartbeat},
    )
    return len(result.all())


async def release_worker(session: AsyncSession, worker_id: int) -> int:
    """A worker that stopped without saying so (its database went away mid-shutdown) may leave
    jobs `doing` that nothing runs any more: put them back to `todo` now, rather than after its
    heartbeat goes stale, and forget the worker. Returns how many jobs were retried."""
    connection = await session.connection()
    result = await connection.execute(
        sa.text(
            """
            SELECT procrastinate_retry_job_v2(id, now(), NULL, NULL, NULL)
            FROM procrastinate_jobs WHERE worker_id = :worker AND status = 'doing'
            """
        ),
        {"worker": worker_id},
    )
    retried = len(result.all())
    await connection.execute(
        sa.text("SELECT procrastinate_unregister_worker_v1(:worker)"), {"worker": worker_id}
    )
    return retried
