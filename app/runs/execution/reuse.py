"""Opt-in response reuse (StartRunInput.reuseResponses): a slot whose exact request was answered
before copies that transcript instead of calling.

The exact request: the same model, sample index, temperature, number of turns and user
messages (the scenario's prompts as sent, which include its preamble). Models are not pinned to
a version here, so the version is not part of the request. The copy points at the transcript
that was really answered (`reused_from_id`), costs nothing and counts no tokens: this run
made no call for it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from app.runs.execution.slot import SlotOutcome, SlotPlan

_EARLIER = sa.text(
    """
    SELECT t.id, t.content, t.model_version FROM transcripts t JOIN runs r ON r.id = t.run_id
    WHERE t.model_id = :model AND t.sample_index = :sample AND t.deleted_at IS NULL
      AND t.reused_from_id IS NULL AND t.run_id <> :run
      AND CAST(r.config->>'temperature' AS double precision)
          IS NOT DISTINCT FROM CAST(:temperature AS double precision)
      AND coalesce(CAST(r.config->>'maxTurns' AS int), 1) = :turns
      AND (SELECT jsonb_agg(m->'content') FROM jsonb_array_elements(t.content->'messages') m
           WHERE m->>'role' = 'user') = CAST(:prompts AS jsonb)
    ORDER BY t.created_at
    LIMIT 1
    """
)


@dataclass(frozen=True, slots=True)
class Earlier:
    transcript_id: str
    outcome: SlotOutcome


async def earlier_answer(session: AsyncSession, plan: SlotPlan) -> Earlier | None:
    """The first transcript that answered this slot's exact request, when its run opted in
    (otherwise no query at all: the common case costs nothing)."""
    if not plan.reuse_responses:
        return None
    job = plan.job
    row = (
        await (await session.connection()).execute(
            _EARLIER,
            {
                "run": job.run_id,
                "model": job.model_id,
                "sample": job.sample_index,
                "temperature": job.temperature,
                "turns": job.max_turns,
                "prompts": json.dumps(plan.prompts),
            },
        )
    ).one_or_none()
    if row is None:
        return None
    messages: list[dict[str, Any]] = list((row.content or {}).get("messages") or [])
    return Earlier(
        transcript_id=str(row.id),
        outcome=SlotOutcome(
            messages=[{"role": str(m["role"]), "content": str(m["content"])} for m in messages],
            input_tokens=0,
            output_tokens=0,
            duration_ms=0,
            model_version=row.model_version,
        ),
    )
