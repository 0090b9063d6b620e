"""The queue in GraphQL: `queueStatus`, `pauseQueue` and `resumeQueue`."""

from __future__ import annotations

import strawberry

from app.graphql.context import Info
from app.queue import controls, state


@strawberry.type
class JobTypeStatus:
    type: str
    pending: int
    active: int
    completed: int
    failed: int


@strawberry.type
class QueueTotals:
    pending: int
    active: int
    completed: int
    failed: int


@strawberry.type
class QueueStatus:
    is_running: bool
    is_paused: bool
    job_types: list[JobTypeStatus]
    totals: QueueTotals


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
    @strawberry.field
    async def queue_status(self, info: Info) -> QueueStatus:
        return await _queue_status(info)


@strawberry.type
class QueueMutation:
    @strawberry.mutation
    async def pause_queue(self, info: Info) -> QueueStatus:
        async with info.context.db.transaction() as session:
            await controls.set_paused(session, True)
        return await _queue_status(info)

    @strawberry.mutation
    async def resume_queue(self, info: Info) -> QueueStatus:
        async with info.context.db.transaction() as session:
            await controls.set_paused(session, False)
        return await _queue_status(info)
