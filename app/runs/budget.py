"""A run's spend cap (`maxBudgetUsd`), held while the run executes, over every call: probes
and summaries.

Before a call starts it reserves its expected cost: the run's observed average for that
model and purpose (over its latest 50 successful calls, so it costs the same late in a long
run), else (a probe) the pre-run estimate stored at start
(`config.budgetEstimates`), else a bound from the prices and the most tokens a call is
expected to take. The call may start only
when spent + reserved + its own reservation stays within the cap. The decision is taken
under a per-run advisory lock in the transaction that opens the call's ledger row, so it
holds however many calls are in flight in however many worker processes: the next decision
sees every reservation committed before it.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from app import pubsub
from app.errors import RunStateError, ValidationFailed
from app.llm import costs
from app.queue import jobs as queue
from app.runs import spend

# The bound for a model with no observation and no estimate: per turn, the fallback input
# of a turn times the turns so far (the whole history is sent), and this many output tokens
# (the Anthropic adapter's max_tokens, the largest cap we send).
BOUND_OUTPUT_TOKENS = 1024

# Its own statement: the sums below must be read after the lock is held, or they would miss
# the reservation the previous holder just committed.
_LOCK = sa.text(
    "SELECT pg_advisory_xact_lock(hashtext('vr-run-budget'), hashtext(CAST(:run AS text)))"
)
_STANDING = sa.text(
    """
    SELECT coalesce(sum(cost_usd) FILTER (WHERE outcome IS NOT NULL), 0) AS spent,
           coalesce(sum(reserved_usd) FILTER (
               WHERE outcome IS NULL AND expires_at > clock_timestamp()), 0) AS reserved
    FROM provider_calls WHERE run_id = :run
    """
)
_EXPECTED = sa.text(
    """
    SELECT r.max_budget_usd AS cap, coalesce(
        (SELECT avg(recent.cost_usd) FROM (
            SELECT cost_usd FROM provider_calls
            WHERE run_id = :run AND model_id = :model AND purpose = CAST(:purpose AS text)
              AND outcome = 'SUCCESS' AND NOT estimated
            ORDER BY id DESC LIMIT 50) recent),
        CASE WHEN CAST(:purpose AS text) = 'PROBE' THEN CAST(
            r.config->'budgetEstimates'->>CAST(:model AS text) AS double precision) END
    ) AS expected
    FROM runs r WHERE r.id = :run
    """
)


class Verdict(enum.Enum):
    """Whether a call may start under the run's cap."""

    ADMIT = "admit"
    WAIT = "wait"  # calls in flight hold the room it needs until they settle
    EXHAUSTED = "exhausted"  # even with them settled there is no room: the run pauses


@dataclass(frozen=True, slots=True)
class Standing:
    """A run's spend against its cap at one moment."""

    cap: float | None
    spent: float
    reserved: float

    def admits(self, reservation: float) -> bool:
        return self.cap is None or self.spent + self.reserved + reservation <= self.cap

    def admits_once_settled(self, reservation: float) -> bool:
        """Whether the call could start if the calls in flight cost nothing more than spent:
        if not, waiting for them is pointless and the run pauses."""
        return self.cap is None or self.spent + reservation <= self.cap

    def verdict(self, reservation: float) -> Verdict:
        if self.admits(reservation):
            return Verdict.ADMIT
        # Pause only when settling every call in flight could not make room for this one.
        if self.reserved > 0 and self.admits_once_settled(reservation):
            return Verdict.WAIT
        return Verdict.EXHAUSTED


async def _execute(session: AsyncSession, sql: sa.TextClause, params: dict[str, Any]) -> Any:
    return await (await session.connection()).execute(sql, params)


def bound(prices: costs.Prices, turns: int) -> float:
    """The most a call of `turns` turns is expected to cost, with nothing observed."""
    input_tokens = spend.FALLBACK_INPUT_TOKENS * turns * (turns + 1) / 2
    return costs.call_cost(input_tokens, BOUND_OUTPUT_TOKENS * turns, prices)


@dataclass(frozen=True, slots=True)
class Quote:
    """A run's cap and what a probe of one model is expected to cost in it."""

    cap: float | None
    expected: float


async def quote(
    session: AsyncSession, run_id: str, model_id: str, fallback: float, purpose: str = "PROBE"
) -> Quote:
    """The run's cap and a call's reservation: the observed average of the run's calls of
    this model and purpose, a probe's pre-run estimate, else `fallback` (a bound)."""
    params = {"run": run_id, "model": model_id, "purpose": purpose}
    row = (await _execute(session, _EXPECTED, params)).one()
    expected = float(row.expected) if row.expected is not None else fallback
    return Quote(cap=None if row.cap is None else float(row.cap), expected=expected)


async def standing(session: AsyncSession, run_id: str, cap: float | None) -> Standing:
    """Spent and reserved now; takes the run's budget lock when it has a cap."""
    if cap is None:
        return Standing(cap=None, spent=0.0, reserved=0.0)
    await _execute(session, _LOCK, {"run": run_id})
    row = (await _execute(session, _STANDING, {"run": run_id})).one()
    return Standing(cap=cap, spent=float(row.spent), reserved=float(row.reserved))


async def pause_exhausted(session: AsyncSession, run_id: str, standing: Standing) -> bool:
    """PENDING|RUNNING|SUMMARIZING → PAUSED with BUDGET_EXHAUSTED: queued jobs are cancelled
    (no retry is spent), calls in flight finish and are stored; resuming re-queues the open
    slots, then the summaries still pending. False when the run had moved on."""
    moved = (
        await _execute(
            session,
            sa.text(
                """
                UPDATE runs SET status = 'PAUSED', pause_reason = 'BUDGET_EXHAUSTED',
                       updated_at = now()
                WHERE id = :run AND status IN ('PENDING', 'RUNNING', 'SUMMARIZING')
                  AND deleted_at IS NULL
                RETURNING id
                """
            ),
            {"run": run_id},
        )
    ).one_or_none()
    if moved is None:
        return False
    await queue.cancel_queued(session, run_id)
    await pubsub.publish(
        session,
        run_id,
        "status",
        status="PAUSED",
        pauseReason="BUDGET_EXHAUSTED",
        spent=standing.spent,
        cap=standing.cap,
    )
    return True


async def require_headroom(
    session: AsyncSession, run_id: str, cap: float | None, models: Sequence[str]
) -> None:
    """Refuse to resume a run whose cap leaves no room for one more call of any model."""
    if cap is None:
        return
    now = await standing(session, run_id, cap)
    # A model with nothing to go on reserves nothing here.
    cheapest = min([(await quote(session, run_id, m, 0.0)).expected for m in models] or [0.0])
    if not now.admits(cheapest):
        raise RunStateError(
            f"Cannot resume run: its budget is spent (${now.spent:.6f} spent of maxBudgetUsd "
            f"${cap:.6f}); raise maxBudgetUsd with updateRun first"
        )


async def refuse_unpriced(session: AsyncSession, models: Sequence[str]) -> None:
    """A cap needs prices: refuse when a model of the run has none (both prices 0)."""
    rows = await _execute(
        session,
        sa.text(
            """
            SELECT wanted.model_id FROM unnest(CAST(:models AS text[]))
                WITH ORDINALITY AS wanted(model_id, position)
            WHERE NOT EXISTS (
                SELECT 1 FROM llm_models m WHERE m.model_id = wanted.model_id
                  AND m.status = 'ACTIVE'
                  AND (m.cost_input_per_million > 0 OR m.cost_output_per_million > 0))
            ORDER BY wanted.position
            """
        ),
        {"models": list(models)},
    )
    unpriced = [str(m) for m in rows.scalars().all()]
    if unpriced:
        raise ValidationFailed(f"maxBudgetUsd needs prices: {', '.join(unpriced)} have none")


async def pre_run_estimates(
    session: AsyncSession, models: Sequence[str], scenario_count: int
) -> dict[str, float]:
    """Per model, the pre-run estimate of one probe's cost (what a reservation falls back on)."""
    found = await spend.estimate(session, scenario_count=scenario_count, models=models, samples=1)
    return {m.model_id: m.total_cost / max(1, m.probes) for m in found.per_model}
