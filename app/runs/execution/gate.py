"""The gate every probe passes right before calling its provider (BEHAVIOUR.md, "Pause")."""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from app import pubsub
from app.runs.execution.slot import SlotJob

GATE_STATUSES = ("PENDING", "RUNNING")


async def _execute(session: AsyncSession, sql: str, params: dict[str, Any]) -> Any:
    return await (await session.connection()).execute(sa.text(sql), params)


async def open_gate(session: AsyncSession, job: SlotJob) -> bool:
    """The gate every probe passes right before calling the provider.

    It reads the run `FOR SHARE`, so a pause or cancel committing at this moment is either
    seen (the probe gives up quietly) or waits for this probe to start. It also moves the run
    PENDING → RUNNING at its first probe, and skips a slot that already has a result. It
    runs in the caller's transaction, the one that takes the provider lease.
    """
    # The update first: taking the exclusive row lock before the share lock avoids the
    # share → exclusive upgrade that deadlocks two concurrent first probes.
    started = (
        await _execute(
            session,
            """
            UPDATE runs SET status = 'RUNNING', started_at = now(), updated_at = now()
            WHERE id = :run AND status = 'PENDING' AND deleted_at IS NULL
            RETURNING id
            """,
            {"run": job.run_id},
        )
    ).one_or_none()
    row = (
        await _execute(
            session,
            """
            SELECT r.status, r.deleted_at IS NULL AS live,
                   EXISTS (SELECT 1 FROM probe_results p
                           WHERE p.run_id = r.id AND p.scenario_id = :scenario
                             AND p.model_id = :model AND p.sample_index = :sample) AS done
            FROM runs r WHERE r.id = :run FOR SHARE OF r
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
    if started is not None:
        await pubsub.publish(session, job.run_id, "status", status="RUNNING")
    return True
