"""resumeLlmProvider's run side: lift a provider's suspension and let its runs go on.

Runs the server paused for the suspension (pause_reason PROVIDER_SUSPENDED) resume, unless
another of their providers is still suspended; a run a person paused stays paused. Runs still
going re-queue the open slots whose jobs ended without a call while the provider was suspended.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app.llm import service as llm
from app.llm import suspension
from app.llm.models import LlmProvider
from app.runs.lifecycle import control
from app.runs.models import Run

# Runs with a model on the provider: PAUSED ones only when the server paused them for a
# suspension and none of their providers is suspended any more.
_AFFECTED = """
    SELECT r.id FROM runs r
    WHERE r.deleted_at IS NULL
      AND EXISTS (SELECT 1 FROM llm_models m
                  WHERE m.provider_id = :p
                    AND m.model_id IN (SELECT jsonb_array_elements_text(r.config->'models')))
      AND (r.status IN ('PENDING', 'RUNNING')
           OR (r.status = 'PAUSED' AND r.pause_reason = 'PROVIDER_SUSPENDED'
               AND NOT EXISTS (
                 SELECT 1 FROM llm_models m JOIN llm_providers s ON s.id = m.provider_id
                 WHERE s.suspended_at IS NOT NULL
                   AND m.model_id IN (SELECT jsonb_array_elements_text(r.config->'models')))))
    ORDER BY r.created_at
"""


async def resume_provider(session: AsyncSession, provider_id: str) -> LlmProvider:
    """Lift the suspension (no-op when there is none) and resume or re-queue its runs."""
    provider = await llm.require_provider(session, provider_id)
    await suspension.lift(session, provider.id)
    connection = await session.connection()
    run_ids = (await connection.execute(sa.text(_AFFECTED), {"p": provider.id})).scalars().all()
    for run_id in run_ids:
        await _go_on(session, str(run_id))
    await session.refresh(provider)
    return provider


async def _go_on(session: AsyncSession, run_id: str) -> Any:
    run = (await session.exec(select(Run).where(col(Run.id) == run_id))).one()
    if run.status == "PAUSED":
        return await control.resume_run(session, run_id)
    return await control.requeue_open_slots(session, run)
