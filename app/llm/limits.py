"""Per-provider limits that hold across every worker process: `maxParallelRequests` calls in
flight, `requestsPerMinute` calls and `tokensPerMinute` tokens started per rolling minute, and
no call at all while the provider is suspended.

A call takes a lease row before it starts and finishes it when its outcome is stored. Taking a
lease is one statement serialised per provider by an advisory lock, and it reads the
limits from the provider row each time, so `updateLlmProvider` applies to running workers at
once. A worker that dies mid-call leaves its lease open; it stops counting at `expires_at`.
"""

from __future__ import annotations

import enum
import random
from collections.abc import Sequence
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db import Database, Statement

# The tokens a call reserves before it starts: its prompts at about four characters a token, and
# this allowance per reply (a reply is also re-sent as history with each later turn). Generous on
# purpose: the window's figure is settled down to the reported usage when the call ends.
CHARS_PER_TOKEN = 4
REPLY_ALLOWANCE_TOKENS = 512

# Polling while the provider is at its parallel limit: short, with jitter so that waiting
# jobs in several processes do not wake in lockstep.
_POLL_SECONDS = (0.02, 0.08)

# The provider's advisory lock, then the count and the insert: one function call (migration
# 0010). Outside a transaction the lock is held only while that statement runs.
_TAKE = sa.text(
    """
    SELECT lease_id, suspended, minute_bound, minute_wait
    FROM vr_take_lease(CAST(:p AS text), CAST(:ttl AS double precision), CAST(:run AS text),
                       CAST(:model AS text), CAST(:tokens AS bigint))
    """
)
# Ends the lease; with the reported usage, moves the tokens counted for its start second from
# the reservation to what the call really used. Only for a provider with a tokensPerMinute
# limit: that second's row is shared by every call started in it, and the update holds its
# lock to the end of the outcome's transaction (the top wait of issue 14's profile once the
# provider lock was short). Without a limit nothing reads the figure; one set mid-minute
# meets reservations, which overstate usage (the safe side).
_FINISH = sa.text(
    """
    WITH old AS (SELECT tokens FROM provider_leases WHERE id = :id AND finished_at IS NULL),
    done AS (
        UPDATE provider_leases l SET finished_at = clock_timestamp(),
               tokens = coalesce(CAST(:used AS bigint), l.tokens)
        FROM old WHERE l.id = :id AND l.finished_at IS NULL
        RETURNING l.provider_id, l.started_at, l.tokens - old.tokens AS delta
    )
    UPDATE provider_starts s SET tokens = s.tokens + done.delta FROM done
    WHERE done.delta <> 0 AND s.provider_id = done.provider_id
      AND s.second = date_trunc('second', done.started_at)
      AND EXISTS (SELECT 1 FROM llm_providers p
                  WHERE p.id = done.provider_id AND p.tokens_per_minute > 0)
    """
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


class Suspended(enum.Enum):
    """The provider is suspended (resumeLlmProvider lifts it): no call starts."""

    PROVIDER = "provider"


async def try_take(
    session: AsyncSession,
    provider_id: str,
    ttl_seconds: float,
    *,
    run_id: str | None = None,
    model_id: str | None = None,
    tokens: int = 0,
) -> Lease | float | Suspended:
    """A lease reserving `tokens`, or how long to wait before trying again, or Suspended. In
    the caller's transaction: the lease exists only if it commits, and the provider's lock is
    held until then. From an autocommit session (`Database.autocommit`, the probe's way) the
    lease commits at once and the lock is held only while the statement runs. Reading the
    provider row here, before every call, is what stops every process at once when it is
    suspended."""
    connection = await session.connection()
    row = (
        await connection.execute(
            _TAKE,
            {
                "p": provider_id,
                "ttl": ttl_seconds,
                "run": run_id,
                "model": model_id,
                "tokens": tokens,
            },
        )
    ).one()
    if row.lease_id is not None:
        return Lease(id=int(row.lease_id), provider_id=provider_id)
    if row.suspended:
        return Suspended.PROVIDER
    if row.minute_bound and row.minute_wait is not None:
        return max(0.01, float(row.minute_wait))
    return random.uniform(*_POLL_SECONDS)


async def take(
    db: Database,
    provider_id: str,
    ttl_seconds: float,
    *,
    run_id: str | None = None,
    model_id: str | None = None,
    tokens: int = 0,
) -> Lease | float | Suspended:
    """`try_take` outside a transaction (its lock lasts one statement; the lease commits with
    it). A caller cancelled meanwhile (an aborted job) does not leave the lease behind: the
    statement finishes, and the lease it took is released before the cancellation goes on."""

    async def taking(session: AsyncSession) -> Lease | float | Suspended:
        return await try_take(
            session, provider_id, ttl_seconds, run_id=run_id, model_id=model_id, tokens=tokens
        )

    async def releasing(taken: Lease | float | Suspended) -> None:
        if isinstance(taken, Lease):
            await release(db, taken)

    return await db.autocommit_or_undo(taking, releasing)


def estimate_tokens(
    prompts: Sequence[str], *, reply_allowance: int = REPLY_ALLOWANCE_TOKENS
) -> int:
    """What a conversation of these user turns may use, each turn sending the whole history."""
    history = total = 0
    for prompt in prompts:
        history += len(prompt) // CHARS_PER_TOKEN + 1
        total += history + reply_allowance
        history += reply_allowance
    return total


async def finish(session: AsyncSession, lease: Lease, *, used_tokens: int | None = None) -> None:
    """Inside the transaction that stores the call's outcome; `used_tokens` settles the
    reservation (None keeps it: a failed call's usage is unknown)."""
    statement = finish_statement(lease, used_tokens=used_tokens)
    await (await session.connection()).execute(statement.clause, statement.params)


def finish_statement(lease: Lease, *, used_tokens: int | None = None) -> Statement:
    """`finish` as a statement, for `Database.pipeline`."""
    return Statement(_FINISH, {"id": lease.id, "used": used_tokens})


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
