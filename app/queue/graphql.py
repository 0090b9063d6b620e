"""The queue in GraphQL: `queueStatus`, `pauseQueue` and `resumeQueue`."""

from __future__ import annotations

import strawberry

from app.graphql.context import Info
from app.queue import controls, state


@strawberry.type
class JobTypeStatus:
    """Jobs of one task in the queue, by state."""

    type: str
    """The task's name."""
    pending: int
    """Jobs waiting to run."""
    active: int
    """Jobs running now."""
    completed: int
    """Jobs that succeeded."""
    failed: int
    """Jobs that failed."""


@strawberry.type
class QueueTotals:
    """Jobs of every task, by state."""

    pending: int
    """Jobs waiting to run."""
    active: int
    """Jobs running now."""
    completed: int
    """Jobs that succeeded."""
    failed: int
    """Jobs that failed."""


@strawberry.type
class QueueStatus:
    """The job queue across every worker process."""

    is_running: bool
    """Whether some worker has sent a heartbeat recently."""
    is_paused: bool
    """Whether dispatch is paused (pauseQueue) for every worker."""
    job_types: list[JobTypeStatus]
    """Per task, by name."""
    totals: QueueTotals
    """Over every task."""


async def _queue_status(info: Info) -> QueueStatus:
    async with info.context.reader.use() as session:
        found = await state.queue_state(
            session, heartbeat_seconds=info.context.settings.stalled_worker_seconds
        )
    types = [
        JobTypeStatus(
            type=t.type, pending=t.pending, active=t.active, completed=t.completed, failed=t.failed
        )
        for t in found.job_types
    ]
    return QueueStatus(
        is_running=found.is_running,
        is_paused=found.is_paused,
        job_types=types,
        totals=QueueTotals(
            pending=sum(t.pending for t in types),
            active=sum(t.active for t in types),
            completed=sum(t.completed for t in types),
            failed=sum(t.failed for t in types),
        ),
    )


@strawberry.type
class QueueQuery:
    """Queries on the job queue."""

    @strawberry.field
    async def queue_status(self, info: Info) -> QueueStatus:
        """The job queue now: workers, pause, jobs by state."""
        return await _queue_status(info)


@strawberry.type
class QueueMutation:
    """Mutations on the job queue (ADMIN)."""

    @strawberry.mutation
    async def pause_queue(self, info: Info) -> QueueStatus:
        """Hold all dispatch, across every worker process; running calls finish. ADMIN."""
        async with info.context.db.transaction() as session:
            await controls.set_paused(session, True)
        return await _queue_status(info)

    @strawberry.mutation
    async def resume_queue(self, info: Info) -> QueueStatus:
        """Release dispatch held by pauseQueue. ADMIN."""
        async with info.context.db.transaction() as session:
            await controls.set_paused(session, False)
        return await _queue_status(info)
