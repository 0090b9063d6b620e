"""The run's state machine after it starts (BEHAVIOUR.md, "State machine"): RUNNING →
SUMMARIZING | FAILED once every slot is terminal, SUMMARIZING → COMPLETED once every summary
is. The admin's transitions (pause, resume, cancel, delete) are in lifecycle/control.py.

The run's advisory lock (`vr-run-advance`) is taken in two modes. An outcome is stored under
it shared, so outcomes of one run do not wait for each other, while a transition (pause,
cancel, delete, the advance itself) takes it exclusive and so sees every outcome committed
before it, and none after (a cancelled run is frozen). Once its outcome has committed, a probe
looks (without the lock) whether any other probe job of the run is still open; the last one to
commit sees none, and advances under the exclusive lock. Of twenty probes finishing at once,
at least the last to commit moves the run on, and the compare-and-set lets only one succeed.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from app import pubsub
from app.db import Database, Statement
from app.queue import jobs as queue
from app.queue import state as queue_state


async def _execute(session: AsyncSession, sql: str, params: dict[str, Any]) -> Any:
    return await (await session.connection()).execute(sa.text(sql), params)


async def lock_run(session: AsyncSession, run_id: str) -> None:
    """Serialise the advance checks of one run (held to the end of the transaction)."""
    await _execute(session, _advance_lock_sql("pg_advisory_xact_lock"), {"run": run_id})


def _advance_lock_sql(mode: str) -> str:
    return f"SELECT {mode}(hashtext('vr-run-advance'), hashtext(CAST(:run AS text)))"


_LOCK_SHARED = sa.text(_advance_lock_sql("pg_advisory_xact_lock_shared"))


def lock_shared_statement(run_id: str) -> Statement:
    """`lock_run_shared` as a statement, for `Database.pipeline`: the statements after it in
    its transaction read with snapshots taken once it is held."""
    return Statement(_LOCK_SHARED, {"run": run_id})


async def lock_run_shared(session: AsyncSession, run_id: str) -> None:
    """The run's advance lock, shared: outcomes and gates of one run go side by side, and a
    transition (which takes it exclusive) waits for those in progress."""
    await _execute(session, _advance_lock_sql("pg_advisory_xact_lock_shared"), {"run": run_id})


async def advance_after_outcome(db: Database, run_id: str, *, job_id: int | None) -> str | None:
    """Once an outcome has committed: when no other probe job of the run is open, advance
    under the exclusive lock. The look is a single statement outside a transaction, so it
    sees every outcome committed before it; a crash before it is made up by recovery."""
    async with db.autocommit() as session:
        if await queue_state.has_open_probe_job(session, run_id, other_than=job_id):
            return None
    async with db.transaction() as session:
        return await advance(session, run_id, job_id=job_id)


async def advance(session: AsyncSession, run_id: str, *, job_id: int | None = None) -> str | None:
    """Move a RUNNING run on when every slot is terminal: to SUMMARIZING (queueing one summary
    per transcript in this transaction) or to FAILED when no slot succeeded; to PAUSED
    (PROVIDER_SUSPENDED) when the only open slots are on suspended providers. Returns the new
    status, or None when the run stays as it is.

    Cheap while slots are open: it stops at the first live probe job (other than the caller's)
    whose slot has no result, and only counts results when there is none.
    """
    await lock_run(session, run_id)
    if await queue_state.has_open_probe_job(session, run_id, other_than=job_id):
        return None
    row = (
        await _execute(
            session,
            """
            SELECT r.total_slots, r.status,
                   (SELECT count(*) FROM probe_results p WHERE p.run_id = r.id) AS finished,
                   (SELECT count(*) FROM probe_results p
                    WHERE p.run_id = r.id AND p.status = 'SUCCESS') AS succeeded
            FROM runs r WHERE r.id = :run
            """,
            {"run": run_id},
        )
    ).one_or_none()
    if row is not None and row.finished < row.total_slots and row.status in ("PENDING", "RUNNING"):
        return await _pause_if_suspended(session, run_id)
    if row is None or row.status != "RUNNING" or row.finished < row.total_slots:
        return None
    target = "SUMMARIZING" if row.succeeded > 0 else "FAILED"
    moved = (
        await _execute(
            session,
            """
            UPDATE runs SET status = CAST(:target AS text), updated_at = now(),
                   completed_at = CASE WHEN CAST(:target AS text) = 'FAILED' THEN now()
                                       ELSE completed_at END
            WHERE id = :run AND status = 'RUNNING'
            RETURNING id
            """,
            {"run": run_id, "target": target},
        )
    ).one_or_none()
    if moved is None:
        return None
    if target == "SUMMARIZING":
        await queue_summaries(session, run_id)
    await pubsub.publish(session, run_id, "status", status=target)
    return target


async def _pause_if_suspended(session: AsyncSession, run_id: str) -> str | None:
    """Open slots, none of them with a job that will call: when a model of the run is on a
    suspended provider, that is why, and the run waits PAUSED for resumeLlmProvider."""
    paused = (
        await _execute(
            session,
            """
            UPDATE runs r SET status = 'PAUSED', pause_reason = 'PROVIDER_SUSPENDED',
                   updated_at = now()
            WHERE r.id = :run AND r.status IN ('PENDING', 'RUNNING')
              AND EXISTS (
                SELECT 1 FROM llm_models m JOIN llm_providers p ON p.id = m.provider_id
                WHERE p.suspended_at IS NOT NULL
                  AND m.model_id IN (SELECT jsonb_array_elements_text(r.config->'models')))
            RETURNING id
            """,
            {"run": run_id},
        )
    ).one_or_none()
    if paused is None:
        return None
    # Its queued jobs would only meet the suspension; resuming re-queues the open slots.
    await queue.cancel_queued(session, run_id, queue.PROBE_TASK)
    await pubsub.publish(session, run_id, "status", status="PAUSED")
    return "PAUSED"


async def queue_summaries(session: AsyncSession, run_id: str) -> int:
    ids = (
        (
            await _execute(
                session,
                """
                SELECT id FROM transcripts
                WHERE run_id = :run AND deleted_at IS NULL AND summary_status = 'PENDING'
                """,
                {"run": run_id},
            )
        )
        .scalars()
        .all()
    )
    return await queue.defer_summaries(session, run_id=run_id, transcript_ids=list(ids))


_PENDING_SUMMARY = sa.text(
    """
    SELECT 1 FROM transcripts
    WHERE run_id = :run AND deleted_at IS NULL AND summary_status = 'PENDING'
    LIMIT 1
    """
)


def pending_summary(run_id: str, _jobs: object = ()) -> Statement:
    """Returns a row while a live transcript of the run waits for its summary: a summary's
    look once its decision has committed (app/runs/execution/commit.py). The last one to
    commit sees none and finishes the run (`finish_summaries`)."""
    return Statement(_PENDING_SUMMARY, {"run": run_id})


async def finish_summaries(session: AsyncSession, run_id: str) -> bool:
    """SUMMARIZING → COMPLETED once no live transcript of the run waits for its summary."""
    await lock_run(session, run_id)
    moved = (
        await _execute(
            session,
            """
            UPDATE runs SET status = 'COMPLETED', completed_at = now(), updated_at = now()
            WHERE id = :run AND status = 'SUMMARIZING'
              AND NOT EXISTS (
                SELECT 1 FROM transcripts t
                WHERE t.run_id = :run AND t.deleted_at IS NULL AND t.summary_status = 'PENDING')
            RETURNING id
            """,
            {"run": run_id},
        )
    ).one_or_none()
    if moved is not None:
        await pubsub.publish(session, run_id, "status", status="COMPLETED")
    return moved is not None
