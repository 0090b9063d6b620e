"""The gate every probe passes right before calling its provider (BEHAVIOUR.md, "Pause")."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from app import pubsub
from app.runs import state
from app.runs.execution.slot import SlotJob

GATE_STATUSES = ("PENDING", "RUNNING")


async def _execute(session: AsyncSession, sql: str, params: dict[str, Any]) -> Any:
    return await (await session.connection()).execute(sa.text(sql), params)


async def open_gate(session: AsyncSession, job: SlotJob) -> bool:
    """The gate every probe passes right before calling the provider.

    It holds the run's advance lock shared (app/runs/state.py) while it reads the run, so a
    pause or cancel (which take it exclusive) committing at this moment is either seen (the
    probe gives up quietly) or waits for this probe to start. It also moves the run PENDING →
    RUNNING at its first probe, and skips a slot that already has a result. It runs in the
    caller's transaction, the one that reserves the call's cost.

    An advisory lock rather than the run row `FOR SHARE`: hundreds of probes share-locking one
    row make PostgreSQL build a multixact of every holder for each new one.
    """
    await state.lock_run_shared(session, job.run_id)
    # Read after the lock (its own statement, its own snapshot). A first probe's start is in
    # the same statement: its SELECT sees the row as it was (PENDING), which the gate admits.
    row = (
        await _execute(
            session,
            """
            WITH started AS (
                UPDATE runs SET status = 'RUNNING', started_at = now(), updated_at = now()
                WHERE id = :run AND status = 'PENDING' AND deleted_at IS NULL
                RETURNING id)
            SELECT r.status, r.deleted_at IS NULL AS live,
                   EXISTS (SELECT 1 FROM probe_results p
                           WHERE p.run_id = r.id AND p.scenario_id = :scenario
                             AND p.model_id = :model AND p.sample_index = :sample) AS done,
                   EXISTS (SELECT 1 FROM started) AS started
            FROM runs r WHERE r.id = :run
            """,
            {
                "run": job.run_id,
                "scenario": job.scenario_id,
                "model": job.model_id,
                "sample": job.sample_index,
            },
        )
    ).one_or_none()
    if row is None or not row.live or row.status not in GATE_STATUSES or row.done:
        return False
    if row.started:
        await pubsub.publish(session, job.run_id, "status", status="RUNNING")
    return True
