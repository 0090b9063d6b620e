"""The ledger of provider calls (`provider_calls`, app/runs/models.py): a row is opened when a
call may start, holding its reservation against the run's spend cap, and settled with the
call's outcome and cost in the transaction that stores that outcome (or on its own when no
outcome is stored: a retry, an abort). Spend figures are sums over it (app/runs/spend.py)."""

from __future__ import annotations

import asyncio
import enum
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db import Database, Statement
from app.llm import costs
from app.prometheus import SPEND


class Outcome(enum.StrEnum):
    SUCCESS = "SUCCESS"
    FAILED = "FAILED"  # the slot (or summary) failed for good with this call
    ABORTED = "ABORTED"  # cancelled mid-call (cancelRun, deleteRun); the vendor may have billed
    RETRIED = "RETRIED"  # failed, and the job runs again


@dataclass(frozen=True, slots=True)
class Call:
    """An open ledger row: what settling it needs."""

    id: int
    reserved_usd: float
    prices: costs.Prices
    purpose: str = "PROBE"
    provider_id: str = ""


@dataclass(frozen=True, slots=True)
class Usage:
    input_tokens: int
    output_tokens: int


_OPEN = sa.text(
    """
    INSERT INTO provider_calls (run_id, purpose, scenario_id, model_id, sample_index,
                                transcript_id, provider_id, attempt, expires_at, reserved_usd)
    VALUES (:run, :purpose, :scenario, :model, :sample, :transcript, :provider, :attempt,
            clock_timestamp() + make_interval(secs => :ttl), :reserved)
    RETURNING id
    """
)
_SETTLE = sa.text(
    """
    UPDATE provider_calls SET outcome = :outcome, error_code = :code, ended_at = clock_timestamp(),
           input_tokens = :input, output_tokens = :output, cost_usd = :cost,
           estimated = :estimated
    WHERE id = :id AND outcome IS NULL
    """
)


async def open_call(
    session: AsyncSession,
    *,
    run_id: str,
    purpose: str,
    model_id: str,
    provider_id: str,
    attempt: int,
    ttl_seconds: float,
    reserved_usd: float,
    prices: costs.Prices,
    scenario_id: str | None = None,
    sample_index: int | None = None,
    transcript_id: str | None = None,
) -> Call:
    """The call's row, in flight, in the caller's transaction (it exists only if that commits)."""
    params: dict[str, Any] = {
        "run": run_id,
        "purpose": purpose,
        "scenario": scenario_id,
        "model": model_id,
        "sample": sample_index,
        "transcript": transcript_id,
        "provider": provider_id,
        "attempt": attempt,
        "ttl": ttl_seconds,
        "reserved": reserved_usd,
    }
    call_id = (await (await session.connection()).execute(_OPEN, params)).scalar_one()
    return Call(
        id=int(call_id),
        reserved_usd=reserved_usd,
        prices=prices,
        purpose=purpose,
        provider_id=provider_id,
    )


async def settle(
    session: AsyncSession,
    call: Call,
    outcome: Outcome,
    *,
    usage: Usage | None = None,
    error_code: str | None = None,
) -> None:
    """The call's outcome and cost, in the transaction that stores the outcome (see
    `settle_statement`)."""
    statement, cost = settle_statement(call, outcome, usage=usage, error_code=error_code)
    settled = await (await session.connection()).execute(statement.clause, statement.params)
    if settled.rowcount == 1:
        _count_once_committed(session, call, cost)


def settle_statement(
    call: Call, outcome: Outcome, *, usage: Usage | None = None, error_code: str | None = None
) -> tuple[Statement, float]:
    """The statement settling the call, and its cost. Without usage from the vendor the cost
    is the call's reservation, flagged estimated: a spend figure that errs high is the safe
    side of a cap. Once it has committed having settled the row (rowcount 1), `count_spend`."""
    reported = usage is not None and (usage.input_tokens or usage.output_tokens)
    cost = (
        costs.call_cost(usage.input_tokens, usage.output_tokens, call.prices)
        if usage is not None and reported
        else call.reserved_usd
    )
    params = {
        "id": call.id,
        "outcome": outcome.value,
        "code": error_code,
        "input": usage.input_tokens if usage is not None else None,
        "output": usage.output_tokens if usage is not None else None,
        "cost": cost,
        "estimated": not reported,
    }
    return Statement(_SETTLE, params), cost


def count_spend(call: Call, cost: float) -> None:
    """valuerank_spend_usd_total, for a settlement that has committed."""
    SPEND.labels(call.provider_id, call.purpose.lower()).inc(cost)


def _count_once_committed(session: AsyncSession, call: Call, cost: float) -> None:
    """valuerank_spend_usd_total grows only when the settlement commits (a rolled-back one
    was never spent as far as the ledger knows)."""

    def counted(_: Any) -> None:
        count_spend(call, cost)

    sa.event.listen(session.sync_session, "after_commit", counted, once=True)


async def settle_alone(
    db: Database, call: Call, outcome: Outcome, *, error_code: str | None = None
) -> None:
    """Settle in a transaction of its own, shielded: an abort must not cancel its own record."""

    async def write() -> None:
        async with db.transaction() as session:
            await settle(session, call, outcome, error_code=error_code)

    await asyncio.shield(write())
