"""Executing a run's slots: the gate before a probe, storing its outcome, and the run's
compare-and-set advance (BEHAVIOUR.md, "Probe job" and "State machine").

Each outcome is one transaction: the transcript (at most one per slot, by the unique live slot
index), the probe result, the provider lease's end, the run's advance and the progress
notification commit together. The advance takes the run's advisory lock first, so of twenty
probes finishing at once exactly one sees every slot terminal and moves the run on.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection

from app.db import new_id
from app.queue import jobs as queue
from app.queue import state as queue_state

GATE_STATUSES = ("PENDING", "RUNNING")
PROGRESS_CHANNEL = "vr_run_progress"


@dataclass(frozen=True, slots=True)
class SlotJob:
    """A probe job's arguments (see `queue.defer_slots`)."""

    run_id: str
    scenario_id: str
    model_id: str
    sample_index: int
    temperature: float | None
    max_turns: int

    @classmethod
    def from_args(cls, args: dict[str, Any]) -> SlotJob:
        config = args.get("config") or {}
        return cls(
            run_id=args["runId"],
            scenario_id=args["scenarioId"],
            model_id=args["modelId"],
            sample_index=int(args["sampleIndex"]),
            temperature=config.get("temperature"),
            max_turns=max(1, int(config.get("maxTurns") or 1)),
        )

    @property
    def seed(self) -> str:
        return f"{self.run_id}:{self.scenario_id}:{self.model_id}:{self.sample_index}"


@dataclass(frozen=True, slots=True)
class SlotPlan:
    """What a probe needs besides the provider call itself."""

    job: SlotJob
    provider_id: str
    provider_name: str
    api_config: dict[str, Any]
    cost_input_per_million: float
    cost_output_per_million: float
    prompts: list[str]  # turn 1 (preamble + prompt), then the follow-ups
    dimension_values: dict[str, Any] | None


@dataclass(frozen=True, slots=True)
class SlotOutcome:
    messages: list[dict[str, str]]
    input_tokens: int
    output_tokens: int
    duration_ms: int
    model_version: str | None


async def _execute(connection: AsyncConnection, sql: str, params: dict[str, Any]) -> Any:
    return await connection.execute(sa.text(sql), params)


async def plan_slot(
    connection: AsyncConnection, job: SlotJob, provider_name: str
) -> SlotPlan | None:
    """Read the model, its provider and the scenario (None when any has gone)."""
    row = (
        await _execute(
            connection,
            """
            SELECT p.id AS provider_id, p.name AS provider_name, m.api_config,
                   m.cost_input_per_million, m.cost_output_per_million, s.content
            FROM llm_models m JOIN llm_providers p ON p.id = m.provider_id
            JOIN scenarios s ON s.id = :scenario
            WHERE m.model_id = :model AND p.name = :provider
            """,
            {"model": job.model_id, "provider": provider_name, "scenario": job.scenario_id},
        )
    ).one_or_none()
    if row is None:
        return None
    content = row.content or {}
    return SlotPlan(
        job=job,
        provider_id=row.provider_id,
        provider_name=row.provider_name,
        api_config=dict(row.api_config or {}),
        cost_input_per_million=float(row.cost_input_per_million),
        cost_output_per_million=float(row.cost_output_per_million),
        prompts=conversation_prompts(content, job.max_turns),
        dimension_values=content.get("dimension_values"),
    )


def conversation_prompts(content: dict[str, Any], max_turns: int) -> list[str]:
    """Turn 1 is `preamble + "\\n\\n" + prompt` (just the prompt without a preamble); each
    follow-up is one more turn; at most `max_turns` turns."""
    preamble = content.get("preamble")
    prompt = str(content.get("prompt", ""))
    first = f"{preamble}\n\n{prompt}" if preamble else prompt
    followups = [str(f.get("prompt", "")) for f in content.get("followups") or []]
    return [first, *followups][:max_turns]


async def open_gate(connection: AsyncConnection, job: SlotJob) -> bool:
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
            connection,
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
            connection,
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
        await notify(connection, job.run_id, "status", status="RUNNING")
    return True


async def store_success(
    connection: AsyncConnection,
    plan: SlotPlan,
    outcome: SlotOutcome,
    *,
    job_id: int | None,
    attempts: int,
) -> str | None:
    """The transcript, the SUCCESS result and the run's advance; None for a duplicate."""
    job = plan.job
    cost = (
        outcome.input_tokens * plan.cost_input_per_million / 1e6
        + outcome.output_tokens * plan.cost_output_per_million / 1e6
    )
    transcript_id = (
        await _execute(
            connection,
            """
            INSERT INTO transcripts (
                id, run_id, scenario_id, model_id, model_version, sample_index,
                definition_snapshot, content, turn_count, token_count, input_tokens,
                output_tokens, duration_ms, estimated_cost, dimension_values, summary_status)
            SELECT :id, r.id, :scenario, :model, :version, :sample,
                   r.config->'definitionSnapshot', CAST(:content AS jsonb), :turns, :tokens,
                   :input, :output, :duration, :cost, CAST(:dimensions AS jsonb), 'PENDING'
            FROM runs r WHERE r.id = :run
            ON CONFLICT (run_id, scenario_id, model_id, sample_index)
                WHERE deleted_at IS NULL DO NOTHING
            RETURNING id
            """,
            {
                "id": new_id(),
                "run": job.run_id,
                "scenario": job.scenario_id,
                "model": job.model_id,
                "version": outcome.model_version,
                "sample": job.sample_index,
                "content": json.dumps({"messages": outcome.messages}),
                "turns": sum(1 for m in outcome.messages if m["role"] == "assistant"),
                "tokens": outcome.input_tokens + outcome.output_tokens,
                "input": outcome.input_tokens,
                "output": outcome.output_tokens,
                "duration": outcome.duration_ms,
                "cost": cost,
                "dimensions": json.dumps(plan.dimension_values),
            },
        )
    ).scalar_one_or_none()
    if transcript_id is None:
        return None  # another delivery of this slot already stored its transcript
    await _upsert_result(
        connection,
        job,
        status="SUCCESS",
        transcript_id=transcript_id,
        error_code=None,
        error_message=None,
        attempts=attempts,
        input_tokens=outcome.input_tokens,
        output_tokens=outcome.output_tokens,
        duration_ms=outcome.duration_ms,
    )
    await notify(
        connection,
        job.run_id,
        "slot",
        modelId=job.model_id,
        outcome="SUCCESS",
        transcriptId=str(transcript_id),
    )
    await advance(connection, job.run_id, job_id=job_id)
    return str(transcript_id)


async def store_failure(
    connection: AsyncConnection,
    job: SlotJob,
    *,
    error_code: str,
    error_message: str,
    job_id: int | None,
    attempts: int,
    duration_ms: int | None = None,
) -> None:
    """The slot's FAILED result (unless it already succeeded) and the run's advance."""
    await _upsert_result(
        connection,
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
    await notify(connection, job.run_id, "slot", modelId=job.model_id, outcome="FAILED")
    await advance(connection, job.run_id, job_id=job_id)


async def _upsert_result(
    connection: AsyncConnection,
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
        connection,
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


async def lock_run(connection: AsyncConnection, run_id: str) -> None:
    """Serialise the advance checks of one run (held to the end of the transaction)."""
    await _execute(
        connection,
        "SELECT pg_advisory_xact_lock(hashtext('vr-run-advance'), hashtext(CAST(:run AS text)))",
        {"run": run_id},
    )


async def advance(
    connection: AsyncConnection, run_id: str, *, job_id: int | None = None
) -> str | None:
    """Move a RUNNING run on when every slot is terminal: to SUMMARIZING (queueing one summary
    per transcript in this transaction) or to FAILED when no slot succeeded. Returns the new
    status, or None when the run stays as it is.

    Cheap while slots are open: it stops at the first live probe job (other than the caller's)
    whose slot has no result, and only counts results when there is none.
    """
    await lock_run(connection, run_id)
    if await queue_state.has_open_probe_job(connection, run_id, other_than=job_id):
        return None
    row = (
        await _execute(
            connection,
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
    if row is None or row.status != "RUNNING" or row.finished < row.total_slots:
        return None
    target = "SUMMARIZING" if row.succeeded > 0 else "FAILED"
    moved = (
        await _execute(
            connection,
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
        await queue_summaries(connection, run_id)
    await notify(connection, run_id, "status", status=target)
    return target


async def queue_summaries(connection: AsyncConnection, run_id: str) -> int:
    ids = (
        (
            await _execute(
                connection,
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
    return await queue.defer_summaries_on(connection, run_id=run_id, transcript_ids=list(ids))


async def finish_summaries(connection: AsyncConnection, run_id: str) -> bool:
    """SUMMARIZING → COMPLETED once no live transcript of the run waits for its summary."""
    await lock_run(connection, run_id)
    moved = (
        await _execute(
            connection,
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
        await notify(connection, run_id, "status", status="COMPLETED")
    return moved is not None


async def notify(connection: AsyncConnection, run_id: str, event: str, **fields: Any) -> None:
    """A progress event, delivered to listeners when this transaction commits. Ids and
    counts only (NOTIFY's payload limit is 8000 bytes)."""
    payload = json.dumps({"runId": run_id, "event": event, **fields}, separators=(",", ":"))
    await _execute(
        connection,
        "SELECT pg_notify(:channel, :payload)",
        {"channel": PROGRESS_CHANNEL, "payload": payload},
    )
