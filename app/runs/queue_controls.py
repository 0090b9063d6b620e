"""pauseQueue / resumeQueue: one switch in the database that every worker process reads
before it starts a job, so holding dispatch works across processes."""

from __future__ import annotations

import asyncio

import sqlalchemy as sa

from app.db import Database

DISPATCH = "dispatch"
_POLL_SECONDS = 0.5


async def is_paused(db: Database) -> bool:
    async with db.session() as session:
        paused = (
            await (await session.connection()).execute(
                sa.text("SELECT paused FROM queue_controls WHERE name = :name"), {"name": DISPATCH}
            )
        ).scalar_one_or_none()
    return bool(paused)


async def set_paused(db: Database, paused: bool) -> None:
    async with db.transaction() as session:
        await (await session.connection()).execute(
            sa.text(
                """
                INSERT INTO queue_controls (name, paused) VALUES (:name, :paused)
                ON CONFLICT (name) DO UPDATE SET paused = EXCLUDED.paused, updated_at = now()
                """
            ),
            {"name": DISPATCH, "paused": paused},
        )


async def wait_while_paused(db: Database) -> None:
    """Hold a job that was fetched while dispatch is paused (it keeps its retries)."""
    while await is_paused(db):  # noqa: ASYNC110 - the switch lives in another process's commit
        await asyncio.sleep(_POLL_SECONDS)
