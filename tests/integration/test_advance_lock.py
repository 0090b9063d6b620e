"""The run's advance lock in its two modes: gates and outcomes hold it shared and do not wait
for each other; a transition (pause, cancel, delete, the advance) holds it exclusive, so it
waits for every gate and outcome in progress and each later one waits for it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import psycopg
import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db import Database
from app.runs import state

RUN = "run-under-lock"
Lock = Callable[[AsyncSession, str], Awaitable[None]]


async def waits(db: Database, lock: Lock) -> bool:
    """Whether taking `lock` waits (it gives up after a short lock_timeout)."""
    async with db.transaction() as session:
        connection = await session.connection()
        await connection.execute(sa.text("SET LOCAL lock_timeout = '300ms'"))
        try:
            await lock(session, RUN)
        except sa.exc.OperationalError as error:
            assert isinstance(error.orig, psycopg.errors.LockNotAvailable)
            return True
    return False


async def test_a_transition_waits_for_the_gates_and_outcomes_in_progress(db: Database) -> None:
    holders = [db.new_session() for _ in range(3)]
    try:
        for session in holders:
            await session.begin()
            await state.lock_run_shared(session, RUN)
        assert not await waits(db, state.lock_run_shared)
        assert await waits(db, state.lock_run)
    finally:
        for session in holders:
            await session.close()
    assert not await waits(db, state.lock_run)


async def test_a_gate_or_outcome_waits_for_a_transition(db: Database) -> None:
    async with db.transaction() as session:
        await state.lock_run(session, RUN)
        assert await waits(db, state.lock_run_shared)
    assert not await waits(db, state.lock_run_shared)
