"""Per-provider limits that hold across every worker process: `maxParallelRequests` calls in
flight and `requestsPerMinute` calls started per rolling minute.

A call takes a lease row before it starts and finishes it when its outcome is stored. Taking a
lease is one short transaction serialised per provider by an advisory lock, and it reads the
limits from the provider row each time, so `updateLlmProvider` applies to running workers at
once. A worker that dies mid-call leaves its lease open; it stops counting at `expires_at`.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db import Database

# Polling while the provider is at its parallel limit: short, with jitter so that waiting
# jobs in several processes do not wake in lockstep.
_POLL_SECONDS = (0.02, 0.08)

# Its own statement: the counting statement's snapshot must be taken after the lock is held,
# or it would miss the lease the previous holder just committed.
_LOCK = sa.text(
    "SELECT pg_advisory_xact_lock(hashtext('vr-provider-limit'), hashtext(CAST(:p AS text)))"
)
_TAKE = sa.text(
    """
    WITH limits AS (
        SELECT max_parallel_requests AS parallel, requests_per_minute AS rpm
        FROM llm_providers WHERE id = CAST(:p AS text)
    ),
    in_flight AS (
        SELECT count(*) AS n FROM provider_leases
        WHERE provider_id = CAST(:p AS text) AND finished_at IS NULL
          AND expires_at > clock_timestamp()
    ),
    recent AS (
        SELECT coalesce(sum(calls), 0) AS n, min(second) AS oldest FROM provider_starts
        WHERE provider_id = CAST(:p AS text)
          AND second > date_trunc('second', clock_timestamp()) - interval '60 seconds'
    ),
    taken AS (
        INSERT INTO provider_leases (provider_id, run_id, model_id, expires_at)
        SELECT CAST(:p AS text), :run, :model, clock_timestamp() + make_interval(secs => :ttl)
        FROM limits, in_flight, recent
        WHERE in_flight.n < limits.parallel AND recent.n < limits.rpm
        RETURNING id
    ),
    counted AS (
        INSERT INTO provider_starts (provider_id, second, calls)
        SELECT CAST(:p AS text), date_trunc('second', clock_timestamp()), 1 FROM taken
        ON CONFLICT (provider_id, second) DO UPDATE SET calls = provider_starts.calls + 1
    )
    SELECT (SELECT id FROM taken) AS lease_id,
           (SELECT recent.n >= limits.rpm FROM recent, limits) AS rpm_bound,
           (SELECT EXTRACT(EPOCH FROM recent.oldest + interval '61 seconds'
                   - clock_timestamp()) FROM recent) AS rpm_wait
    """
)
_FINISH = sa.text(
    "UPDATE provider_leases SET finished_at = clock_timestamp() "
    "WHERE id = :id AND finished_at IS NULL"
)
_PRUNE = sa.text(
    """
    WITH leases AS (
        DELETE FROM provider_leases
        WHERE started_at < clock_timestamp() - interval '5 minutes'
          AND (finished_at IS NOT NULL OR expires_at < clock_timestamp())
        RETURNING 1)
    , starts AS (
        DELETE FROM provider_starts WHERE second < clock_timestamp() - interval '5 minutes'
        RETURNING 1)
    SELECT (SELECT count(*) FROM leases) + (SELECT count(*) FROM starts)
    """
)


@dataclass(frozen=True, slots=True)
class Lease:
    id: int
    provider_id: str


async def try_take(
    session: AsyncSession,
    provider_id: str,
    ttl_seconds: float,
    *,
    run_id: str | None = None,
    model_id: str | None = None,
) -> Lease | float:
    """A lease, or how long to wait before trying again. In the caller's transaction: the
    lease exists only if it commits."""
    connection = await session.connection()
    await connection.execute(_LOCK, {"p": provider_id})
    row = (
        await connection.execute(
            _TAKE, {"p": provider_id, "ttl": ttl_seconds, "run": run_id, "model": model_id}
        )
    ).one()
    if row.lease_id is not None:
        return Lease(id=int(row.lease_id), provider_id=provider_id)
    if row.rpm_bound and row.rpm_wait is not None:
        return max(0.01, float(row.rpm_wait))
    return random.uniform(*_POLL_SECONDS)


async def finish(session: AsyncSession, lease: Lease) -> None:
    """Inside the transaction that stores the call's outcome."""
    await (await session.connection()).execute(_FINISH, {"id": lease.id})


async def release(db: Database, lease: Lease) -> None:
    """On its own, when no outcome is stored (retry, abort, crash in between)."""
    async with db.transaction() as session:
        await finish(session, lease)


async def prune(db: Database) -> int:
    async with db.transaction() as session:
        pruned = (await (await session.connection()).execute(_PRUNE)).scalar_one()
    return int(pruned)


async def forget_runs(session: AsyncSession, run_ids: list[str]) -> int:
    """Delete the leases taken for these runs (purged runs); the start counts, which hold no
    run, stay until `prune`."""
    stmt = sa.text("DELETE FROM provider_leases WHERE run_id = ANY(CAST(:ids AS text[]))")
    result = await (await session.connection()).execute(stmt, {"ids": run_ids})
    return int(result.rowcount or 0)
