"""The run's advance under concurrency: twenty probes storing their outcomes side by side
(under the shared advance lock) and each advancing once it has committed."""

from __future__ import annotations

import asyncio

from app.db import Database
from app.llm.costs import Prices
from app.runs import state
from app.runs.execution import outcome
from app.runs.execution.slot import SlotJob, SlotOutcome, SlotPlan
from tests.factories import make_definition, make_run
from tests.workers import scalar

SLOTS = 20


def plan(run_id: str, scenario_id: str, sample: int, model: str = "sim-steady") -> SlotPlan:
    job = SlotJob(run_id, scenario_id, model, sample, temperature=None, max_turns=1)
    return SlotPlan(job, "p", "simulated", {}, Prices(1.0, 2.0), ["q"], None)


OUTCOME = SlotOutcome(
    messages=[{"role": "user", "content": "q"}, {"role": "assistant", "content": "Rating: 2"}],
    input_tokens=10,
    output_tokens=5,
    duration_ms=3,
    model_version="sim",
)


async def finish_all_at_once(url: str, plans: list[SlotPlan], succeed: bool) -> None:
    """Each in its own transaction on its own connection, all open before any commits."""
    db = Database(url, pool_size=len(plans), max_overflow=0)
    gate = asyncio.Barrier(len(plans))

    async def finish(slot: SlotPlan) -> None:
        async with db.transaction() as session:
            await session.connection()  # the transaction begins here, not at the first write
            await gate.wait()  # every transaction open before any commits
            if succeed:
                await outcome.store_success(session, slot, OUTCOME, attempts=0)
            else:
                await outcome.store_failure(
                    session,
                    slot.job,
                    error_code="AUTH",
                    error_message="no",
                    attempts=0,
                )
        # As a probe does once its outcome has committed.
        await state.advance_after_outcome(db, slot.job.run_id, job_id=None)

    try:
        await asyncio.gather(*(finish(p) for p in plans))
    finally:
        await db.dispose()


async def test_twenty_probes_finishing_at_once_advance_the_run_exactly_once(
    db: Database, database_url: str
) -> None:
    definition = await make_definition(db)
    run = await make_run(db, definition, status="RUNNING", total_slots=SLOTS)
    scenario = str(
        await scalar(
            db, "SELECT id FROM scenarios WHERE definition_id = :d LIMIT 1", d=definition.id
        )
    )
    plans = [plan(run.id, scenario, i) for i in range(SLOTS)]
    await finish_all_at_once(database_url, plans, succeed=True)
    assert await scalar(db, "SELECT status FROM runs WHERE id = :r", r=run.id) == "SUMMARIZING"
    assert await scalar(db, "SELECT count(*) FROM transcripts WHERE run_id = :r", r=run.id) == SLOTS
    summaries = await scalar(
        db,
        "SELECT count(*) FROM procrastinate_jobs WHERE task_name = 'summarize_transcript' "
        "AND args->>'runId' = :r",
        r=run.id,
    )
    assert summaries == SLOTS  # each summary queued once


async def test_a_duplicate_delivery_stores_nothing_twice(db: Database, database_url: str) -> None:
    definition = await make_definition(db)
    run = await make_run(db, definition, status="RUNNING", total_slots=2)
    scenario = str(
        await scalar(
            db, "SELECT id FROM scenarios WHERE definition_id = :d LIMIT 1", d=definition.id
        )
    )
    same = plan(run.id, scenario, 0)
    await finish_all_at_once(database_url, [same, same], succeed=True)
    assert await scalar(db, "SELECT count(*) FROM transcripts WHERE run_id = :r", r=run.id) == 1
    assert await scalar(db, "SELECT count(*) FROM probe_results WHERE run_id = :r", r=run.id) == 1
    assert await scalar(db, "SELECT status FROM runs WHERE id = :r", r=run.id) == "RUNNING"


async def test_all_slots_failing_at_once_fail_the_run_once(db: Database, database_url: str) -> None:
    definition = await make_definition(db)
    run = await make_run(db, definition, status="RUNNING", total_slots=SLOTS)
    scenario = str(
        await scalar(
            db, "SELECT id FROM scenarios WHERE definition_id = :d LIMIT 1", d=definition.id
        )
    )
    await finish_all_at_once(
        database_url, [plan(run.id, scenario, i) for i in range(SLOTS)], succeed=False
    )
    assert await scalar(db, "SELECT status FROM runs WHERE id = :r", r=run.id) == "FAILED"
    assert await scalar(db, "SELECT completed_at IS NOT NULL FROM runs WHERE id = :r", r=run.id)
