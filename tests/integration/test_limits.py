"""The provider limiter against PostgreSQL: parallel and per-minute limits, live changes."""

from __future__ import annotations

import asyncio

import pytest
import sqlalchemy as sa

from app.db import Database
from app.llm import limits, suspension
from app.seed import load_demo


async def take(
    db: Database, provider_id: str, ttl_seconds: float
) -> limits.Lease | float | limits.Suspended:
    """A lease in its own transaction, as a probe takes one."""
    async with db.transaction() as session:
        return await limits.try_take(session, provider_id, ttl_seconds)


async def provider(db: Database, parallel: int, rpm: int) -> str:
    async with db.transaction() as session:
        await load_demo(session)
        connection = await session.connection()
        await connection.execute(
            sa.text(
                "UPDATE llm_providers SET max_parallel_requests = :p, requests_per_minute = :r "
                "WHERE name = 'openai'"
            ),
            {"p": parallel, "r": rpm},
        )
        found = await connection.execute(
            sa.text("SELECT id FROM llm_providers WHERE name = 'openai'")
        )
        return str(found.scalar_one())


async def test_parallel_limit_counts_open_leases_only(db: Database) -> None:
    openai = await provider(db, parallel=2, rpm=1000)
    first = await take(db, openai, 60)
    second = await take(db, openai, 60)
    assert isinstance(first, limits.Lease) and isinstance(second, limits.Lease)
    third = await take(db, openai, 60)
    assert isinstance(third, float) and third < 1  # at the limit: poll again shortly
    await limits.release(db, first)
    assert isinstance(await take(db, openai, 60), limits.Lease)


async def test_an_expired_lease_of_a_dead_worker_stops_counting(db: Database) -> None:
    openai = await provider(db, parallel=1, rpm=1000)
    assert isinstance(await take(db, openai, 0.01), limits.Lease)
    async with db.transaction() as session:
        await (await session.connection()).execute(sa.text("SELECT pg_sleep(0.05)"))
    assert isinstance(await take(db, openai, 60), limits.Lease)


async def test_requests_per_minute_bounds_starts_and_says_how_long_to_wait(db: Database) -> None:
    openai = await provider(db, parallel=100, rpm=3)
    for _ in range(3):
        lease = await take(db, openai, 60)
        assert isinstance(lease, limits.Lease)
        await limits.release(db, lease)  # finished calls still count towards the minute
    wait = await take(db, openai, 60)
    assert isinstance(wait, float) and 55 < wait <= 61
    async with db.transaction() as session:
        await (await session.connection()).execute(
            sa.text("UPDATE llm_providers SET requests_per_minute = 4 WHERE id = :p"), {"p": openai}
        )
    assert isinstance(await take(db, openai, 60), limits.Lease)  # applies at once


async def test_a_suspended_provider_starts_no_call_until_lifted(db: Database) -> None:
    openai = await provider(db, parallel=5, rpm=1000)
    async with db.transaction() as session:
        await (await session.connection()).execute(
            sa.text("UPDATE llm_providers SET suspended_at = now() WHERE id = :p"), {"p": openai}
        )
    assert await take(db, openai, 60) is limits.Suspended.PROVIDER
    async with db.transaction() as session:
        assert await suspension.lift(session, openai)
    assert isinstance(await take(db, openai, 60), limits.Lease)


async def test_tokens_per_minute_reserve_then_settle(db: Database) -> None:
    openai = await provider(db, parallel=10, rpm=1000)
    async with db.transaction() as session:
        await (await session.connection()).execute(
            sa.text("UPDATE llm_providers SET tokens_per_minute = 1000 WHERE id = :p"),
            {"p": openai},
        )

    async def reserve(tokens: int) -> limits.Lease | float | limits.Suspended:
        async with db.transaction() as session:
            return await limits.try_take(session, openai, 60, tokens=tokens)

    first = await reserve(600)
    second = await reserve(600)  # under the limit when it starts: it may overshoot by one call
    assert isinstance(first, limits.Lease) and isinstance(second, limits.Lease)
    refused = await reserve(1)
    assert isinstance(refused, float) and refused > 1  # the minute must roll: a long wait
    # Settled with the reported usage: the window holds 100 + 600 tokens, room again.
    async with db.transaction() as session:
        await limits.finish(session, first, used_tokens=100)
    assert isinstance(await reserve(1), limits.Lease)


def test_the_estimate_counts_the_history_each_turn_resends() -> None:
    assert limits.estimate_tokens(["x" * 400], reply_allowance=10) == 101 + 10
    # Turn 2 sends turn 1, its reply and the follow-up again.
    assert limits.estimate_tokens(["x" * 400, "y" * 40], reply_allowance=10) == 111 + 111 + 11 + 10


async def test_a_caller_cancelled_while_taking_a_lease_leaves_none_open(db: Database) -> None:
    """`limits.take` commits the lease in its own statement (outside a transaction): a job
    aborted meanwhile must release it, or it would hold a parallel slot until it expires."""
    openai = await provider(db, parallel=1, rpm=1000)
    # Hold the provider's lock elsewhere, so the statement reaches the server and waits there.
    async with db.transaction() as holder:
        await (await holder.connection()).execute(
            sa.text("SELECT pg_advisory_xact_lock(hashtext('vr-provider-limit'), hashtext(:p))"),
            {"p": openai},
        )
        taking = asyncio.ensure_future(limits.take(db, openai, 600))
        await wait_for_lock_waiter(db)
        taking.cancel()
        await asyncio.sleep(0)  # the cancellation reaches the caller while its statement waits
    # The lock is free: the statement completes, and the cancelled caller releases its lease.
    with pytest.raises(asyncio.CancelledError):
        await taking
    async with db.session() as session:
        still_open = (
            await (await session.connection()).execute(
                sa.text("SELECT count(*) FROM provider_leases WHERE finished_at IS NULL")
            )
        ).scalar_one()
    assert still_open == 0
    # The provider's one parallel slot is free for the next call.
    assert isinstance(await limits.take(db, openai, 600), limits.Lease)


async def wait_for_lock_waiter(db: Database) -> None:
    """Until a session of this database waits for an advisory lock (a condition, no clock)."""
    while True:
        async with db.session() as session:
            waiting = (
                await (await session.connection()).execute(
                    sa.text(
                        "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a "
                        "ON a.pid = l.pid WHERE l.locktype = 'advisory' AND NOT l.granted "
                        "AND a.datname = current_database()"
                    )
                )
            ).scalar_one()
        if waiting:
            return
        await asyncio.sleep(0.01)
