"""One probe: wait for room under the provider's limits, pass the gate, hold the conversation,
store the outcome. The worker's task is a thin wrapper around `run_probe`."""

from __future__ import annotations

import asyncio
import enum
import logging
import random
import time
from dataclasses import dataclass

from app.config import Settings
from app.db import Database
from app.llm import limits, suspension
from app.llm.providers import adapter_for, target_for
from app.llm.providers.base import ChatRequest, Message, ProviderError, Target
from app.llm.retry import RetryLater
from app.queue import state as queue_state
from app.queue.controls import DispatchSwitch
from app.runs import budget, ledger, state
from app.runs.execution import admit, commit, gate, outcome, reuse, slot
from app.runs.execution.slot import SlotJob, SlotOutcome, SlotPlan

log = logging.getLogger(__name__)

# Waiting for calls in flight to settle before the cap has room: jittered, as for a lease.
_BUDGET_POLL_SECONDS = (0.02, 0.1)


class NoCall(enum.StrEnum):
    """Why a probe stops before calling its provider."""

    MISSING = "missing"  # the model, its provider or the scenario has gone: the slot fails
    SKIPPED = "skipped"  # the gate is closed (paused or cancelled run, or a finished slot)
    BUDGET = "budget"  # the run's cap leaves no room for this call: the run pauses, slot open
    SUSPENDED = "suspended"  # the provider is suspended: the slot stays open, no retry spent


@dataclass(frozen=True, slots=True)
class _Started:
    plan: SlotPlan
    target: Target
    lease: limits.Lease
    call: ledger.Call


@dataclass(frozen=True, slots=True)
class _Reused:
    """The run opted into reuse and this exact request was answered before: no call."""

    plan: SlotPlan
    earlier: reuse.Earlier


@dataclass(frozen=True, slots=True)
class _Leased:
    """A plan, its target and a lease taken (committed) under the provider's limits."""

    plan: SlotPlan
    target: Target
    lease: limits.Lease
    ttl: float


async def _lease(
    db: Database, settings: Settings, job: SlotJob, provider_name: str
) -> _Leased | _Reused | ProviderError | float | NoCall:
    """Read the plan and take a lease, outside a transaction: the provider's lock is held
    only while the lease's one statement runs, so starts of a provider do not queue behind
    each other's transactions (`limits.take`)."""
    async with db.autocommit() as session:
        plan = await slot.plan_slot(session, job, provider_name)
        if plan is None:
            return NoCall.MISSING
        earlier = await reuse.earlier_answer(session, plan)
        if earlier is not None:
            return _Reused(plan, earlier)
        try:
            target = target_for(
                plan.provider_name,
                job.model_id,
                plan.api_config,
                trusted_hosts=settings.provider_host_allowlist,
            )
        except ProviderError as refused:
            return refused  # no call, so no lease
    ttl = target.lease_seconds
    taken = await limits.take(
        db,
        plan.provider_id,
        ttl_seconds=ttl,
        run_id=job.run_id,
        model_id=job.model_id,
        tokens=limits.estimate_tokens(plan.prompts),
    )
    if taken is limits.Suspended.PROVIDER:
        return NoCall.SUSPENDED
    if not isinstance(taken, limits.Lease):
        return taken
    return _Leased(plan, target, taken, ttl)


async def _start(
    db: Database, settings: Settings, job: SlotJob, provider_name: str, attempts: int
) -> _Started | _Reused | ProviderError | float | NoCall:
    """Take a lease under the provider's limits, then one statement: pass the gate and
    reserve the call's cost under the run's cap (a lease that cannot be used is released).
    Returns what to run (or an earlier answer to reuse), or seconds to wait for room, or why
    the probe stops here (a ProviderError: the target itself is refused, and the slot fails
    without a call)."""
    leased = await _lease(db, settings, job, provider_name)
    if isinstance(leased, ProviderError):
        # The gate still decides whether the slot is ours to fail (a paused or cancelled
        # run, or a slot that already has its result).
        async with db.transaction() as session:
            return leased if await gate.open_gate(session, job) else NoCall.SKIPPED
    if not isinstance(leased, _Leased):
        return leased
    used = False
    try:
        admitted = await admit.admit_outside_transaction(db, leased.plan, attempts, leased.ttl)
        if not admitted.gate_open:
            return NoCall.SKIPPED
        if admitted.call is None:
            assert admitted.refused is not None
            # Pause only when settling every call in flight could not make room for this one
            # (ADMIT here is a rounding hair's difference from the database's sum: try again).
            if admitted.refused.verdict(admitted.expected) is not budget.Verdict.EXHAUSTED:
                return random.uniform(*_BUDGET_POLL_SECONDS)
            async with db.transaction() as session:
                await budget.pause_exhausted(session, job.run_id, admitted.refused)
            return NoCall.BUDGET
        used = True
        return _Started(leased.plan, leased.target, leased.lease, admitted.call)
    finally:
        if not used:
            await asyncio.shield(limits.release(db, leased.lease))


async def run_probe(
    db: Database,
    settings: Settings,
    job: SlotJob,
    *,
    provider_name: str,
    job_id: int | None,
    attempts: int,
    dispatch: DispatchSwitch,
) -> str:
    """Probe one slot; returns what happened (for logs and tests). Raises RetryLater."""
    while True:
        await dispatch.wait_while_paused()
        started = await _start(db, settings, job, provider_name, attempts)
        if not isinstance(started, float):
            break
        await asyncio.sleep(min(started, 1.0))
    if started is NoCall.MISSING:
        await _fail(db, job, "NOT_FOUND", "Model, provider or scenario not found", job_id, attempts)
        return "failed"
    if isinstance(started, ProviderError):
        await _fail(db, job, started.kind.value, started.message, job_id, attempts)
        return "failed"
    if isinstance(started, _Reused):
        return await _store_reused(db, started, job_id, attempts)
    if started is NoCall.SUSPENDED:
        await _left_open(db, job, job_id)
        return started.value
    if isinstance(started, NoCall):
        return started.value
    return await _call(db, settings, started, job_id=job_id, attempts=attempts)


async def _call(
    db: Database, settings: Settings, started: _Started, *, job_id: int | None, attempts: int
) -> str:
    """Hold the conversation under the lease and store its outcome with the lease's end and
    the call's ledger row, in one transaction."""
    plan, lease, call = started.plan, started.lease, started.call
    stored = False
    try:
        began = time.monotonic()
        try:
            reply = await converse(plan, started.target, attempt=attempts)
        except ProviderError as error:
            duration_ms = int((time.monotonic() - began) * 1000)
            if suspension.suspends(error):
                await ledger.settle_alone(
                    db, call, ledger.Outcome.FAILED, error_code=error.kind.value
                )
                await _suspend(db, plan, lease, error, job_id)
                stored = True
                return NoCall.SUSPENDED.value
            await _settle_retry(db, settings, call, error, attempts)
            async with db.transaction() as session:
                await ledger.settle(
                    session, call, ledger.Outcome.FAILED, error_code=error.kind.value
                )
                await outcome.store_failure(
                    session,
                    plan.job,
                    error_code=error.kind.value,
                    error_message=error.message,
                    attempts=attempts,
                    duration_ms=duration_ms,
                )
                await limits.finish(session, lease)
            stored = True
            await state.advance_after_outcome(db, plan.job.run_id, job_id=job_id)
            return "failed"
        transcript = await _store_success(db, started, reply, job_id=job_id, attempts=attempts)
        stored = True
        return "stored" if transcript else "duplicate"
    finally:
        if not stored:
            # Retry, abort (cancel) or a crash in between: the call is over, and may have been
            # paid. A row the retry settled already stays as it is.
            await asyncio.shield(limits.release(db, lease))
            await ledger.settle_alone(db, call, ledger.Outcome.ABORTED)


async def _store_success(
    db: Database, started: _Started, reply: SlotOutcome, *, job_id: int | None, attempts: int
) -> str | None:
    """The call's ledger row, the transcript and result and the lease's end in one
    transaction, committed with the other outcomes ready meanwhile (`commit.Committer`); then
    the run's advance when no other probe job of it is open. Returns the transcript's id."""
    usage = ledger.Usage(reply.input_tokens, reply.output_tokens)
    settling, cost = ledger.settle_statement(started.call, ledger.Outcome.SUCCESS, usage=usage)
    run_id = started.plan.job.run_id
    committed = await commit.committer_for(db, queue_state.open_probe_job).commit(
        [
            # First: it takes the run's lock, under which the other rows are touched.
            outcome.success_statement(started.plan, reply, attempts=attempts),
            settling,
            limits.finish_statement(
                started.lease, used_tokens=reply.input_tokens + reply.output_tokens
            ),
        ],
        run_id=run_id,
        job_id=job_id,
    )
    transcript, settled, _ = committed.done
    if settled.rowcount == 1:
        ledger.count_spend(started.call, cost)
    if not committed.others_open:
        async with db.transaction() as session:
            await state.advance(session, run_id, job_id=job_id)
    transcript_id = transcript.scalar()
    return None if transcript_id is None else str(transcript_id)


async def _settle_retry(
    db: Database, settings: Settings, call: ledger.Call, error: ProviderError, attempts: int
) -> None:
    """Raise RetryLater when the error is worth another attempt, the row settled RETRIED."""
    try:
        RetryLater.unless_last(error, attempts, settings)
    except RetryLater:
        await ledger.settle_alone(db, call, ledger.Outcome.RETRIED, error_code=error.kind.value)
        raise


async def converse(plan: SlotPlan, target: Target, *, attempt: int = 0) -> SlotOutcome:
    """Turn 1, then each follow-up after the previous reply, the whole history sent each time."""
    adapter = adapter_for(plan.provider_name)
    messages: list[Message] = []
    input_tokens = output_tokens = 0
    version: str | None = None
    started = time.monotonic()
    for turn, prompt in enumerate(plan.prompts):
        messages.append(Message("user", prompt))
        completion = await adapter.complete(
            ChatRequest(
                target=target,
                messages=tuple(messages),
                temperature=plan.job.temperature,
                # The attempt too: a simulated transient failure must not repeat on retry.
                seed=f"{plan.job.seed}:{turn}:{attempt}",
            )
        )
        messages.append(Message("assistant", completion.text))
        input_tokens += completion.input_tokens
        output_tokens += completion.output_tokens
        version = completion.model_version or version
    return SlotOutcome(
        messages=[{"role": m.role, "content": m.content} for m in messages],
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        duration_ms=int((time.monotonic() - started) * 1000),
        model_version=version,
    )


async def _suspend(
    db: Database, plan: SlotPlan, lease: limits.Lease, error: ProviderError, job_id: int | None
) -> None:
    """The vendor refused the account, not this call: suspend the provider for every process,
    store nothing for the slot (it stays open, its retries unspent) and let the run pause if
    nothing else of it can go on."""
    async with db.transaction() as session:
        if await suspension.suspend(session, plan.provider_id, error):
            log.warning("provider %s suspended: %s", plan.provider_name, error)
        await limits.finish(session, lease)
        await state.advance(session, plan.job.run_id, job_id=job_id)


async def _store_reused(db: Database, reused: _Reused, job_id: int | None, attempts: int) -> str:
    """Copy the earlier answer as this slot's transcript, behind the same gate as a call."""
    async with db.transaction() as session:
        if not await gate.open_gate(session, reused.plan.job):
            return NoCall.SKIPPED.value
        stored = await outcome.store_success(
            session,
            reused.plan,
            reused.earlier.outcome,
            attempts=attempts,
            reused_from=reused.earlier.transcript_id,
        )
    await state.advance_after_outcome(db, reused.plan.job.run_id, job_id=job_id)
    return "reused" if stored else "duplicate"


async def _left_open(db: Database, job: SlotJob, job_id: int | None) -> None:
    """A slot of a suspended provider ends its job without a call: the run may now have
    nothing left that can call, and pauses (state.advance decides, under the run's lock)."""
    async with db.transaction() as session:
        await state.advance(session, job.run_id, job_id=job_id)


async def _fail(
    db: Database, job: SlotJob, code: str, message: str, job_id: int | None, attempts: int
) -> None:
    async with db.transaction() as session:
        await outcome.store_failure(
            session,
            job,
            error_code=code,
            error_message=message,
            attempts=attempts,
        )
    await state.advance_after_outcome(db, job.run_id, job_id=job_id)
