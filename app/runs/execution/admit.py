"""A probe's gate and its reservation under the run's cap: one call of `vr_probe_admit`
(migration 0011), made outside a transaction so its locks last one statement.

What the function does is what `gate.open_gate` and `budget.standing` do in a transaction
(their rules are the same: the gate's statuses, `Standing.admits`); what to do with a refusal
stays here: wait for calls in flight, or pause the run.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db import Database
from app.runs import budget, ledger
from app.runs.execution.slot import SlotPlan

_ADMIT = sa.text(
    """
    SELECT gate_open, call_id, cap, expected, spent, reserved
    FROM vr_probe_admit(CAST(:run AS text), CAST(:scenario AS text), CAST(:model AS text),
                        CAST(:sample AS integer), CAST(:provider AS text),
                        CAST(:attempt AS integer), CAST(:ttl AS double precision),
                        CAST(:fallback AS double precision))
    """
)


@dataclass(frozen=True, slots=True)
class Admission:
    """The gate's answer and, past it, the call's open ledger row or the cap's refusal."""

    gate_open: bool
    call: ledger.Call | None = None
    refused: budget.Standing | None = None
    expected: float = 0.0


async def admit_outside_transaction(
    db: Database, plan: SlotPlan, attempts: int, ttl: float
) -> Admission:
    """`admit` in an autocommit session. A caller cancelled meanwhile (an aborted job) leaves
    no open ledger row behind: the statement finishes and a row it opened is settled
    ABORTED (no call was made, so it costs nothing) before the cancellation goes on."""

    async def admitting(session: AsyncSession) -> Admission:
        return await admit(session, plan, attempts, ttl)

    async def settling(admitted: Admission) -> None:
        if admitted.call is not None:
            unmade = dataclasses.replace(admitted.call, reserved_usd=0.0)
            await ledger.settle_alone(db, unmade, ledger.Outcome.ABORTED)

    return await db.autocommit_or_undo(admitting, settling)


async def admit(session: AsyncSession, plan: SlotPlan, attempts: int, ttl: float) -> Admission:
    """In an autocommit session (`Database.autocommit`): the row exists once this returns."""
    job = plan.job
    row = (
        await (await session.connection()).execute(
            _ADMIT,
            {
                "run": job.run_id,
                "scenario": job.scenario_id,
                "model": job.model_id,
                "sample": job.sample_index,
                "provider": plan.provider_id,
                "attempt": attempts,
                "ttl": ttl,
                "fallback": budget.bound(plan.prices, len(plan.prompts)),
            },
        )
    ).one()
    if not row.gate_open:
        return Admission(gate_open=False)
    if row.call_id is None:
        standing = budget.Standing(cap=row.cap, spent=row.spent, reserved=row.reserved)
        return Admission(gate_open=True, refused=standing, expected=row.expected)
    call = ledger.Call(
        id=int(row.call_id),
        reserved_usd=float(row.expected),
        prices=plan.prices,
        purpose="PROBE",
        provider_id=plan.provider_id,
    )
    return Admission(gate_open=True, call=call, expected=row.expected)
