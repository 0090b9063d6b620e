"""pauseQueue / resumeQueue: one switch in the database that every worker process reads
before it starts a job, so holding dispatch works across processes."""

from __future__ import annotations

import asyncio
import time

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db import Database

DISPATCH = "dispatch"
_POLL_SECONDS = 0.5
# A worker reads the switch at most this often (a pause reaches every process within it).
_FRESH_SECONDS = 0.5


async def is_paused(db: Database) -> bool:
    async with db.session() as session:
        paused = (
            await (await session.connection()).execute(
                sa.text("SELECT paused FROM queue_controls WHERE name = :name"), {"name": DISPATCH}
            )
        ).scalar_one_or_none()
    return bool(paused)


async def set_paused(session: AsyncSession, paused: bool) -> None:
    await (await session.connection()).execute(
        sa.text(
            """
            INSERT INTO queue_controls (name, paused) VALUES (:name, :paused)
            ON CONFLICT (name) DO UPDATE SET paused = EXCLUDED.paused, updated_at = now()
            """
        ),
        {"name": DISPATCH, "paused": paused},
    )


class DispatchSwitch:
    """One worker process's view of the switch (held by its runtime): read at most every
    `_FRESH_SECONDS`, however many jobs ask."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._seen: tuple[float, bool] | None = None

    async def paused(self) -> bool:
        now = time.monotonic()
        if self._seen is None or now - self._seen[0] > _FRESH_SECONDS:
            self._seen = (now, await is_paused(self.db))
        return self._seen[1]

    async def wait_while_paused(self) -> None:
        """Hold a job that was fetched while dispatch is paused (it keeps its retries)."""
        while await self.paused():  # noqa: ASYNC110 - the switch lives in another process's commit
            await asyncio.sleep(_POLL_SECONDS)
