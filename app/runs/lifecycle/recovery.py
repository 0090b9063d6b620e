"""Recovery (BEHAVIOUR.md): retry the jobs of dead workers, re-queue slots that have neither
a result nor a live job (with the run's own config), queue missing summaries, and advance runs
whose work is all done. Run every minute by the workers (`maintain`, with lease pruning), and
on demand by `recoverRun` / `triggerRecovery`."""

from __future__ import annotations

import logging
from dataclasses import dataclass

from sqlmodel import col, select

from app.db import Database
from app.errors import NotFound
from app.llm import limits
from app.queue import stalled
from app.runs import events, state
from app.runs.lifecycle import control, retention
from app.runs.models import Run

log = logging.getLogger(__name__)

SWEPT_STATUSES = ("PENDING", "RUNNING", "SUMMARIZING")


@dataclass(frozen=True, slots=True)
class RunRecovery:
    run_id: str
    action: str  # REQUEUED, ADVANCED, SUMMARIES_QUEUED, NONE
    requeued: int


@dataclass(frozen=True, slots=True)
class SweepReport:
    detected: int
    recovered: int
    errors: int


async def recover_run(db: Database, run_id: str) -> RunRecovery:
    async with db.transaction() as session:
        # The advance lock before the row lock, as every transaction taking both does: an
        # outcome holds the advance lock while its inserts check the run's row.
        await state.lock_run(session, run_id)
        # Whatever status this moves the run to is recovery's, in the run's status log.
        await events.act_as(session, events.RECOVERY, "recovery")
        run = (
            await session.exec(
                select(Run).where(Run.id == run_id, col(Run.deleted_at).is_(None)).with_for_update()
            )
        ).first()
        if run is None:
            raise NotFound(f"Run not found: {run_id}")
        if run.status in ("PENDING", "RUNNING"):
            requeued = await control.requeue_open_slots(session, run)
            if requeued:
                return RunRecovery(run_id, "REQUEUED", requeued)
            moved = await state.advance(session, run_id)
            return RunRecovery(run_id, "ADVANCED" if moved else "NONE", 0)
        if run.status == "SUMMARIZING":
            queued = await state.queue_summaries(session, run_id)
            finished = await state.finish_summaries(session, run_id)
            action = "ADVANCED" if finished else "SUMMARIES_QUEUED" if queued else "NONE"
            return RunRecovery(run_id, action, queued)
        return RunRecovery(run_id, "NONE", 0)


async def sweep(db: Database, *, seconds_since_heartbeat: float) -> SweepReport:
    async with db.transaction() as session:
        await stalled.retry_stalled(session, seconds_since_heartbeat=seconds_since_heartbeat)
        run_ids = (
            await session.exec(
                select(Run.id).where(
                    col(Run.status).in_(SWEPT_STATUSES), col(Run.deleted_at).is_(None)
                )
            )
        ).all()
    detected = recovered = errors = 0
    for run_id in run_ids:
        try:
            outcome = await recover_run(db, run_id)
        except Exception:
            errors += 1
            log.exception("recovery of run %s failed", run_id)
            continue
        if outcome.action != "NONE":
            detected += 1
            recovered += 1
    return SweepReport(detected=detected, recovered=recovered, errors=errors)


async def maintain(
    db: Database,
    *,
    seconds_since_heartbeat: float,
    policy: retention.Policy | None = None,
) -> SweepReport:
    """The periodic maintenance: the recovery sweep, pruning the provider leases and start
    counts too old to matter to any limit, then the retention `policy` (retention.py)."""
    report = await sweep(db, seconds_since_heartbeat=seconds_since_heartbeat)
    pruned = await limits.prune(db)
    if report.detected or report.errors:
        log.info("recovery: %s (pruned %d leases)", report, pruned)
    kept = await retention.apply_policy(db, policy or retention.Policy())
    if kept != retention.RetentionReport():
        log.info("retention: %s", kept)
    return report
