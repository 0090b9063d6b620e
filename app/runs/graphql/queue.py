"""Queue status as GraphQL types."""

from __future__ import annotations

from typing import TYPE_CHECKING

import strawberry

from app.graphql.context import Info
from app.runs import metrics

if TYPE_CHECKING:
    pass


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


async def read_queue_status(info: Info) -> QueueStatus:
    async with info.context.reader.use() as session:
        state = await metrics.queue_state(
            session, heartbeat_seconds=info.context.settings.stalled_worker_seconds
        )
    types = [
        JobTypeStatus(
            type=t.type, pending=t.pending, active=t.active, completed=t.completed, failed=t.failed
        )
        for t in state.job_types
    ]
    return QueueStatus(
        is_running=state.is_running,
        is_paused=state.is_paused,
        job_types=types,
        totals=QueueTotals(
            pending=sum(t.pending for t in types),
            active=sum(t.active for t in types),
            completed=sum(t.completed for t in types),
            failed=sum(t.failed for t in types),
        ),
    )
