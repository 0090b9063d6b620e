"""Retention: hard-deleting runs with everything that belongs to them (`purgeRuns`, and the
maintenance purge of runs soft-deleted long ago), and expiring transcripts' conversations.

A purge never touches an active run: the runs to delete are re-read, locked and re-checked in
each batch's own transaction, so a run restarted since it was chosen is spared. One transaction
per batch of `BATCH` runs keeps locks short and lets a large purge make progress.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from app import pubsub
from app.db import Database
from app.errors import ValidationFailed
from app.llm import limits
from app.queue import jobs as queue
from app.runs import service
from app.runs.models import (
    ACTIVE_STATUSES,
    TERMINAL_STATUSES,
    ProbeResult,
    Run,
    RunScenarioSelection,
    RunTag,
)
from app.transcripts.models import Transcript

BATCH = 100
# What belongs to a run, children first (probe results point at transcripts).
DEPENDENTS: tuple[Any, ...] = (ProbeResult, RunTag, RunScenarioSelection, Transcript)


@dataclass(frozen=True, slots=True)
class PurgeCriteria:
    where: service.RunFilter
    older_than: datetime | None = None
    keep_latest: int | None = None
    statuses: tuple[str, ...] | None = None


@dataclass(frozen=True, slots=True)
class PurgeReport:
    run_ids: list[str]

    @property
    def count(self) -> int:
        return len(self.run_ids)


def validate(criteria: PurgeCriteria) -> tuple[str, ...]:
    """The statuses to purge; ValidationFailed when the criteria would purge too much."""
    if criteria.older_than is None and criteria.keep_latest is None:
        raise ValidationFailed("purgeRuns needs olderThan or keepLatest (or both)")
    if criteria.keep_latest is not None and criteria.keep_latest < 0:
        raise ValidationFailed(f"keepLatest must be 0 or more, got {criteria.keep_latest}")
    statuses = TERMINAL_STATUSES if criteria.statuses is None else criteria.statuses
    for status in statuses:
        if status not in TERMINAL_STATUSES:
            raise ValidationFailed(
                f"Invalid status: {status}. purgeRuns deletes finished runs only: "
                f"statuses must be among {', '.join(TERMINAL_STATUSES)}"
            )
    return statuses


async def purgeable(session: AsyncSession, criteria: PurgeCriteria) -> list[str]:
    """The ids a purge with these criteria deletes, oldest first: finished runs matching the
    filters, past the newest `keep_latest` of them and created before `older_than`."""
    statuses = validate(criteria)
    rank = sa.func.row_number().over(order_by=(col(Run.created_at).desc(), col(Run.id).desc()))
    ranked = criteria.where.apply(
        sa.select(col(Run.id), col(Run.created_at), rank.label("rank"))
    ).where(col(Run.status).in_(statuses))
    sub = ranked.subquery()
    stmt = sa.select(sub.c.id)
    if criteria.keep_latest is not None:
        stmt = stmt.where(sub.c.rank > criteria.keep_latest)
    if criteria.older_than is not None:
        stmt = stmt.where(sub.c.created_at < criteria.older_than)
    result = await (await session.connection()).execute(stmt.order_by(sub.c.rank.desc()))
    return [str(run_id) for run_id in result.scalars()]


async def purge_runs(db: Database, criteria: PurgeCriteria, *, dry_run: bool) -> PurgeReport:
    """`purgeRuns`: the matching runs, deleted in batches unless `dry_run`."""
    async with db.session() as session:
        run_ids = await purgeable(session, criteria)
    if dry_run:
        return PurgeReport(run_ids)
    return PurgeReport(await delete_in_batches(db, run_ids))


async def delete_in_batches(db: Database, run_ids: Sequence[str]) -> list[str]:
    """Delete the runs, `BATCH` per transaction; return those deleted (active ones are not)."""
    deleted: list[str] = []
    for start in range(0, len(run_ids), BATCH):
        async with db.transaction() as session:
            deleted += await delete_runs(session, list(run_ids[start : start + BATCH]))
    return deleted


async def delete_runs(session: AsyncSession, run_ids: list[str]) -> list[str]:
    """Hard-delete those of `run_ids` that are not active, with their transcripts, probe
    results, selections, tags, provider leases and queued jobs; return their ids."""
    connection = await session.connection()
    locked = (
        sa.select(col(Run.id))
        .where(col(Run.id).in_(run_ids), col(Run.status).not_in(ACTIVE_STATUSES))
        .order_by(col(Run.id))
        .with_for_update()
    )
    ids = [str(i) for i in (await connection.execute(locked)).scalars()]
    if not ids:
        return []
    await queue.delete_jobs_of_runs(session, ids)
    await limits.forget_runs(session, ids)
    for table in DEPENDENTS:
        await connection.execute(sa.delete(table).where(col(table.run_id).in_(ids)))
    await connection.execute(sa.delete(Run).where(col(Run.id).in_(ids)))
    for run_id in ids:
        # Watchers (runsChanged, a run's feed) learn it is gone, as after deleteRun.
        await pubsub.publish(session, run_id, "deleted")
    return ids


# Maintenance ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Policy:
    """What the maintenance job keeps: None keeps forever (the settings of the same names)."""

    deleted_run_retention_days: int | None = None
    transcript_content_ttl_days: int | None = None


@dataclass(frozen=True, slots=True)
class RetentionReport:
    purged_runs: int = 0
    expiry_set: int = 0
    content_cleared: int = 0


# Rows changed per transaction by the content expiry: short transactions, steady progress.
EXPIRY_BATCH = 5000
_SET_EXPIRY = sa.text(
    """
    UPDATE transcripts SET content_expires_at = created_at + make_interval(days => :days)
    WHERE id IN (SELECT id FROM transcripts
                 WHERE content_expires_at IS NULL AND content <> '{}'::jsonb LIMIT :batch)
    """
)
# The conversation goes; the decision, tokens, cost and timings stay. `{}` marks it cleared.
# Both statements say `content <> '{}'` so that they read ix_transcripts_content_expiry.
_CLEAR_CONTENT = sa.text(
    """
    UPDATE transcripts SET content = '{}'::jsonb
    WHERE id IN (SELECT id FROM transcripts
                 WHERE content_expires_at <= now() AND content <> '{}'::jsonb LIMIT :batch)
    """
)


async def apply_policy(db: Database, policy: Policy) -> RetentionReport:
    """The maintenance job's retention: purge runs soft-deleted long enough ago, then date and
    clear transcripts' conversations when a TTL is set."""
    purged = expiry_set = cleared = 0
    if policy.deleted_run_retention_days is not None:
        purged = await purge_deleted(db, older_than_days=policy.deleted_run_retention_days)
    if policy.transcript_content_ttl_days is not None:
        days = policy.transcript_content_ttl_days
        expiry_set = await _in_batches(db, _SET_EXPIRY, {"days": days})
        cleared = await _in_batches(db, _CLEAR_CONTENT, {})
    return RetentionReport(purged, expiry_set, cleared)


async def purge_deleted(db: Database, *, older_than_days: int) -> int:
    """Hard-delete the runs soft-deleted more than `older_than_days` days ago."""
    stmt = sa.select(col(Run.id)).where(
        col(Run.deleted_at) < sa.func.now() - sa.func.make_interval(0, 0, 0, older_than_days)
    )
    async with db.session() as session:
        ids = [str(i) for i in (await (await session.connection()).execute(stmt)).scalars()]
    return len(await delete_in_batches(db, ids))


async def _in_batches(db: Database, statement: sa.TextClause, params: dict[str, Any]) -> int:
    total = 0
    while True:
        async with db.transaction() as session:
            result = await (await session.connection()).execute(
                statement, {**params, "batch": EXPIRY_BATCH}
            )
        changed = int(result.rowcount or 0)
        total += changed
        if changed < EXPIRY_BATCH:
            return total
