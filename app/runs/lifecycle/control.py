"""Run transitions: pause, resume, cancel, delete, rename, and the summarization controls.

Every transition is a compare-and-set `UPDATE ... WHERE status IN (...)`: under concurrency
one caller wins and the other gets a RUN_STATE_ERROR naming the state it lost to. Job changes
happen in the same transaction as the status change.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from app import pubsub
from app.errors import NotFound, RunStateError
from app.llm import service as llm
from app.queue import jobs as queue
from app.runs import budget, state
from app.runs.lifecycle import start
from app.runs.models import Run
from app.transcripts.models import Transcript

PAUSABLE = ("PENDING", "RUNNING")
CANCELLABLE = ("PENDING", "RUNNING", "PAUSED")
RESTARTABLE = ("COMPLETED", "FAILED", "CANCELLED")


async def _require_live(session: AsyncSession, run_id: str) -> Run:
    stmt = select(Run).where(Run.id == run_id, col(Run.deleted_at).is_(None))
    run: Run | None = (await session.exec(stmt)).first()
    if run is None:
        raise NotFound.of("Run", run_id)
    return run


async def require_run(session: AsyncSession, run_id: str) -> Run:
    """The live run, or NotFound."""
    return await _require_live(session, run_id)


async def _transition(
    session: AsyncSession, run_id: str, verb: str, allowed: tuple[str, ...], **values: Any
) -> Run:
    """Move a live run from one of `allowed` to new values, or refuse with its current state.
    A person's transition clears the server's pause reason unless `values` set one."""
    values.setdefault("pause_reason", None)
    # The advance lock first, as outcomes take it before touching the run: a transition then
    # never waits for an outcome that waits for it (and a cancel freezes the run's outcomes).
    await state.lock_run(session, run_id)
    stmt = (
        sa.update(Run)
        .where(col(Run.id) == run_id, col(Run.deleted_at).is_(None), col(Run.status).in_(allowed))
        .values(updated_at=sa.func.now(), **values)
        .returning(col(Run.id))
    )
    connection = await session.connection()
    if (await connection.execute(stmt)).first() is None:
        current = await _require_live(session, run_id)
        raise RunStateError(f"Cannot {verb} run in {current.status} state")
    run = await _fresh(session, run_id)
    await pubsub.publish(session, run_id, "status", status=run.status)
    return run


async def _fresh(session: AsyncSession, run_id: str) -> Run:
    stmt = select(Run).where(Run.id == run_id).execution_options(populate_existing=True)
    return (await session.exec(stmt)).one()


async def pause_run(session: AsyncSession, run_id: str) -> Run:
    """PENDING|RUNNING → PAUSED; queued probes are cancelled (no retry is spent)."""
    run = await _transition(session, run_id, "pause", PAUSABLE, status="PAUSED")
    await queue.cancel_queued(session, run_id, queue.PROBE_TASK)
    return run


async def resume_run(session: AsyncSession, run_id: str) -> Run:
    """PAUSED → RUNNING (PENDING if no probe had started); re-queue exactly the open slots."""
    current = await _require_live(session, run_id)
    await budget.require_headroom(
        session, run_id, current.max_budget_usd, current.config.get("models") or []
    )
    resumed = sa.case((col(Run.started_at).is_(None), "PENDING"), else_="RUNNING")
    run = await _transition(session, run_id, "resume", ("PAUSED",), status=resumed)
    # Every slot finished while paused: nothing will run to advance it, so advance now.
    requeued = await requeue_open_slots(session, run)
    if requeued == 0 and await state.advance(session, run.id):
        await session.refresh(run)
    return run


async def requeue_open_slots(session: AsyncSession, run: Run) -> int:
    """Queue every slot of the run with no terminal result and no live job, with its config."""
    config = run.config
    providers: dict[str, str] = {}
    for model_id, _, provider, _ in await llm.catalog_entries(session, config["models"]):
        providers.setdefault(model_id, provider)
    return await queue.defer_slots(
        session,
        run_id=run.id,
        models=[(m, providers[m]) for m in config["models"] if m in providers],
        samples=run.samples_per_scenario,
        priority=run.priority,
        config={"temperature": config.get("temperature"), "maxTurns": config.get("maxTurns", 1)},
        only_open=True,
    )


async def cancel_run(session: AsyncSession, run_id: str) -> Run:
    """PENDING|RUNNING|PAUSED → CANCELLED: queued jobs cancelled, running ones aborted. Under
    the run's advance lock: once this commits, no outcome is stored (execution/outcome.py)."""
    run = await _transition(
        session, run_id, "cancel", CANCELLABLE, status="CANCELLED", completed_at=sa.func.now()
    )
    await queue.cancel_queued(session, run_id)
    await queue.abort_running(session, run_id)
    return run


async def delete_run(session: AsyncSession, run_id: str) -> bool:
    """Soft delete; an active run is stopped first (its jobs cancelled or aborted)."""
    await state.lock_run(session, run_id)  # as cancel_run: freezes the run's outcomes
    run = await _require_live(session, run_id)
    if run.status in CANCELLABLE or run.status == "SUMMARIZING":
        await _transition(
            session,
            run_id,
            "delete",
            (*CANCELLABLE, "SUMMARIZING"),
            status="CANCELLED",
            completed_at=sa.func.now(),
        )
        await queue.cancel_queued(session, run_id)
        await queue.abort_running(session, run_id)
    connection = await session.connection()
    await connection.execute(
        sa.update(Run)
        .where(col(Run.id) == run_id)
        .values(deleted_at=sa.func.now(), updated_at=sa.func.now())
    )
    await pubsub.publish(session, run_id, "deleted")
    return True


async def rename_run(session: AsyncSession, run_id: str, name: str | None) -> Run:
    cleaned = start.run_name(name)
    await _require_live(session, run_id)
    connection = await session.connection()
    await connection.execute(
        sa.update(Run).where(col(Run.id) == run_id).values(name=cleaned, updated_at=sa.func.now())
    )
    return await _fresh(session, run_id)


async def set_budget(session: AsyncSession, run_id: str, cap: float | None) -> Run:
    """Raise, lower or (None) remove the run's spend cap; it applies to the next call. A cap
    needs every model of the run priced; the pre-run estimates are taken if the run has none."""
    start.validate_budget(cap)
    run = await _require_live(session, run_id)
    models: list[str] = list(run.config.get("models") or [])
    config = dict(run.config, maxBudgetUsd=cap)
    if cap is not None:
        await budget.refuse_unpriced(session, models)
        if "budgetEstimates" not in config:
            scenarios = await start.selection_size(session, run_id)
            config["budgetEstimates"] = await budget.pre_run_estimates(session, models, scenarios)
    connection = await session.connection()
    await connection.execute(
        sa.update(Run)
        .where(col(Run.id) == run_id)
        .values(max_budget_usd=cap, config=config, updated_at=sa.func.now())
    )
    await pubsub.publish(session, run_id, "budget", cap=cap)
    return await _fresh(session, run_id)


@dataclass(slots=True)
class SummaryChange:
    run: Run
    count: int


async def cancel_summarization(session: AsyncSession, run_id: str) -> SummaryChange:
    """SUMMARIZING → COMPLETED; queued summaries are cancelled."""
    run = await _transition(
        session,
        run_id,
        "cancel summarization",
        ("SUMMARIZING",),
        status="COMPLETED",
        completed_at=sa.func.now(),
    )
    cancelled = await queue.cancel_queued(session, run_id, queue.SUMMARIZE_TASK)
    return SummaryChange(run=run, count=cancelled)


async def restart_summarization(
    session: AsyncSession, run_id: str, *, force: bool = False
) -> SummaryChange:
    """From COMPLETED|FAILED|CANCELLED: queue summaries for unsummarized transcripts (all with
    `force`); with none to queue nothing changes."""
    run = await _require_live(session, run_id)
    if run.status not in RESTARTABLE:
        raise RunStateError(f"Cannot restart summarization run in {run.status} state")
    stmt = select(Transcript.id).where(
        Transcript.run_id == run_id, col(Transcript.deleted_at).is_(None)
    )
    if not force:
        stmt = stmt.where(Transcript.summary_status != "SUMMARIZED")
    ids = list((await session.exec(stmt.order_by(col(Transcript.created_at)))).all())
    if not ids:
        return SummaryChange(run=run, count=0)
    run = await _transition(
        session,
        run_id,
        "restart summarization",
        RESTARTABLE,
        status="SUMMARIZING",
        completed_at=None,
    )
    connection = await session.connection()
    await connection.execute(
        sa.update(Transcript).where(col(Transcript.id).in_(ids)).values(summary_status="PENDING")
    )
    queued = await queue.defer_summaries(session, run_id=run_id, transcript_ids=ids)
    return SummaryChange(run=run, count=queued)
