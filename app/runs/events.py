"""A run's status log (`run_events`, written by a trigger) and the stages derived from it.

The trigger (migration 0008) logs every change of `runs.status`, whichever code makes it.
Edges say who acts and why with `act_as`, transaction-local settings the trigger reads; a
change made without them is the worker's.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.runs.models import TERMINAL_STATUSES, RunEvent

WORKER = "worker"
RECOVERY = "recovery"
BUDGET = "budget"
# What ends a stage: the statuses that follow probing, and those that follow summarizing.
_AFTER_PROBING = ("SUMMARIZING", *TERMINAL_STATUSES)


async def act_as(session: AsyncSession, actor: str, reason: str | None = None) -> None:
    """Name who makes this transaction's status changes (and why), for the status log."""
    connection = await session.connection()
    await connection.execute(
        sa.text(
            "SELECT set_config('valuerank.actor', :actor, true), "
            "set_config('valuerank.reason', :reason, true)"
        ),
        {"actor": actor, "reason": reason or ""},
    )


async def events_by_run(session: AsyncSession, run_ids: Sequence[str]) -> dict[str, list[RunEvent]]:
    """Every run's events, oldest first, in one statement."""
    stmt = (
        select(RunEvent)
        .where(col(RunEvent.run_id).in_(run_ids))
        .order_by(col(RunEvent.run_id), col(RunEvent.id))
    )
    grouped: dict[str, list[RunEvent]] = defaultdict(list)
    for row in (await session.exec(stmt)).all():
        grouped[row.run_id].append(row)
    return {r: grouped.get(r, []) for r in run_ids}


@dataclass(frozen=True, slots=True)
class Stage:
    name: str
    # PENDING (not begun), RUNNING or PAUSED (under way), or how it ended: COMPLETED, FAILED,
    # CANCELLED.
    status: str
    started_at: datetime | None
    ended_at: datetime | None

    @property
    def seconds(self) -> float | None:
        if self.started_at is None or self.ended_at is None:
            return None
        return (self.ended_at - self.started_at).total_seconds()


def stages(events: Sequence[RunEvent]) -> list[Stage]:
    """PROBING (first RUNNING until summarizing or an end) and SUMMARIZING (first SUMMARIZING
    until an end), from the log alone; a stage's seconds are wall time, pauses included."""
    return [
        _stage("PROBING", events, begins=("RUNNING",), ends=_AFTER_PROBING),
        _stage("SUMMARIZING", events, begins=("SUMMARIZING",), ends=TERMINAL_STATUSES),
    ]


def _stage(
    name: str, events: Sequence[RunEvent], *, begins: tuple[str, ...], ends: tuple[str, ...]
) -> Stage:
    start = next((i for i, e in enumerate(events) if e.status in begins), None)
    if start is None:
        return Stage(name, "PENDING", None, None)
    later = events[start + 1 :]
    end = next((e for e in later if e.status in ends), None)
    if end is None:
        current = later[-1].status if later else events[start].status
        return Stage(name, current, events[start].at, None)
    # Probing that led to summarizing completed; otherwise the stage ended as the run did.
    status = "COMPLETED" if end.status == "SUMMARIZING" else end.status
    return Stage(name, status, events[start].at, end.at)
