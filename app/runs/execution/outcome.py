"""Storing a probe's outcome. Each outcome is one transaction: the transcript (at most one per
slot, by the unique live slot index), the probe result, the provider lease's end, the call's
ledger row and the progress event commit together (a success's own rows in one function call,
`vr_store_success`); once it has, the caller advances the run
(`state.advance_after_outcome`).

A cancelled (or deleted) run is frozen: its outcomes are not stored. The check runs under
the run's advance lock, held shared (outcomes do not wait for each other); cancelRun and
deleteRun take it exclusive, so an outcome either commits before the cancel does or sees it."""

from __future__ import annotations

import json
from typing import Any

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from app import pubsub
from app.db import Statement, new_id
from app.llm import costs
from app.runs import state
from app.runs.execution.slot import SlotJob, SlotOutcome, SlotPlan

# A call in flight when its run paused still finishes and is stored; one answered after a
# cancel is in the ledger only. vr_store_success (migration 0012) checks the same statuses.
STORING_STATUSES = ("RUNNING", "PAUSED")


async def _execute(session: AsyncSession, sql: str, params: dict[str, Any]) -> Any:
    return await (await session.connection()).execute(sa.text(sql), params)


_STORE_SUCCESS = sa.text(
    """
    SELECT vr_store_success(
        CAST(:run AS text), CAST(:scenario AS text), CAST(:model AS text),
        CAST(:sample AS integer), CAST(:id AS text), CAST(:version AS text),
        CAST(:content AS jsonb), CAST(:turns AS integer), CAST(:input AS integer),
        CAST(:output AS integer), CAST(:duration AS integer),
        CAST(:cost AS double precision), CAST(:dimensions AS jsonb),
        CAST(:reused_from AS text), CAST(:retries AS integer), CAST(:result_id AS text))
    """
)


async def store_success(
    session: AsyncSession,
    plan: SlotPlan,
    outcome: SlotOutcome,
    *,
    attempts: int,
    reused_from: str | None = None,
) -> str | None:
    """The transcript and the SUCCESS result (`success_statement`), in the caller's
    transaction; the caller advances the run once this has committed."""
    statement = success_statement(plan, outcome, attempts=attempts, reused_from=reused_from)
    stored = await (await session.connection()).execute(statement.clause, statement.params)
    transcript_id = stored.scalar_one()
    return None if transcript_id is None else str(transcript_id)


def success_statement(
    plan: SlotPlan, outcome: SlotOutcome, *, attempts: int, reused_from: str | None = None
) -> Statement:
    """`vr_store_success` (migration 0012: the shared lock, the frozen-run check, both rows
    and the event in one statement). It returns the transcript's id, or null for a duplicate
    or a run that no longer takes outcomes. With `reused_from`, a copy of that earlier
    transcript: no call was made, so it costs nothing."""
    job = plan.job
    cost = (
        0.0
        if reused_from is not None
        else costs.call_cost(outcome.input_tokens, outcome.output_tokens, plan.prices)
    )
    return Statement(
        _STORE_SUCCESS,
        {
            "run": job.run_id,
            "scenario": job.scenario_id,
            "model": job.model_id,
            "sample": job.sample_index,
            "id": new_id(),
            "version": outcome.model_version,
            "content": json.dumps({"messages": outcome.messages}),
            "turns": sum(1 for m in outcome.messages if m["role"] == "assistant"),
            "input": outcome.input_tokens,
            "output": outcome.output_tokens,
            "duration": outcome.duration_ms,
            "cost": cost,
            "dimensions": json.dumps(plan.dimension_values),
            "reused_from": reused_from,
            "retries": attempts,
            "result_id": new_id(),
        },
    )


async def accepts(session: AsyncSession, run_id: str) -> bool:
    """Whether the run still takes outcomes: live and neither cancelled nor ended. Takes the
    run's advance lock, shared (the cancel's transaction holds it exclusive), before reading
    its status."""
    await state.lock_run_shared(session, run_id)
    row = (
        await _execute(
            session,
            "SELECT status, deleted_at IS NULL AS live FROM runs WHERE id = :run",
            {"run": run_id},
        )
    ).one_or_none()
    return row is not None and row.live and row.status in STORING_STATUSES


async def store_failure(
    session: AsyncSession,
    job: SlotJob,
    *,
    error_code: str,
    error_message: str,
    attempts: int,
    duration_ms: int | None = None,
) -> None:
    """The slot's FAILED result (unless it already succeeded); the caller advances the run
    once this has committed."""
    if not await accepts(session, job.run_id):
        return
    await _upsert_result(
        session,
        job,
        status="FAILED",
        transcript_id=None,
        error_code=error_code,
        error_message=error_message[:2000],
        attempts=attempts,
        input_tokens=None,
        output_tokens=None,
        duration_ms=duration_ms,
    )
    await pubsub.publish(session, job.run_id, "slot", modelId=job.model_id, outcome="FAILED")


async def _upsert_result(
    session: AsyncSession,
    job: SlotJob,
    *,
    status: str,
    transcript_id: str | None,
    error_code: str | None,
    error_message: str | None,
    attempts: int,
    input_tokens: int | None,
    output_tokens: int | None,
    duration_ms: int | None,
) -> None:
    await _execute(
        session,
        """
        INSERT INTO probe_results (
            id, run_id, scenario_id, model_id, sample_index, status, transcript_id,
            error_code, error_message, retry_count, input_tokens, output_tokens, duration_ms,
            completed_at)
        VALUES (:id, :run, :scenario, :model, :sample, :status, :transcript, :code, :message,
                :retries, :input, :output, :duration, now())
        ON CONFLICT ON CONSTRAINT uq_probe_results_slot DO UPDATE SET
            status = EXCLUDED.status, transcript_id = EXCLUDED.transcript_id,
            error_code = EXCLUDED.error_code, error_message = EXCLUDED.error_message,
            retry_count = EXCLUDED.retry_count, input_tokens = EXCLUDED.input_tokens,
            output_tokens = EXCLUDED.output_tokens, duration_ms = EXCLUDED.duration_ms,
            completed_at = EXCLUDED.completed_at
        WHERE probe_results.status <> 'SUCCESS'
        """,
        {
            "id": new_id(),
            "run": job.run_id,
            "scenario": job.scenario_id,
            "model": job.model_id,
            "sample": job.sample_index,
            "status": status,
            "transcript": transcript_id,
            "code": error_code,
            "message": error_message,
            "retries": attempts,
            "input": input_tokens,
            "output": output_tokens,
            "duration": duration_ms,
        },
    )
