"""A transcript's summary, the second job of a slot's life: the decision text from the
summarizer model (through the same provider adapters as probes), stored with the run's
SUMMARIZING → COMPLETED advance. The worker's task is a thin wrapper around `summarize`.

A summary call is a call like a probe's: it waits while `pauseQueue` holds dispatch, takes a
lease under its provider's limits (parallel, requests and tokens per minute, suspension), and
has its ledger row (app/runs/ledger.py): opened once the lease is taken, with its reservation
under the run's spend cap, settled with the stored decision (or alone on a retry or an
abort). When the cap has no room for it the run pauses (BUDGET_EXHAUSTED) with the summary
still pending; resumeRun queues it again."""

from __future__ import annotations

import asyncio
import enum
import random
import time
from dataclasses import dataclass

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from app import pubsub
from app.config import Settings
from app.db import Database
from app.llm import costs, limits, suspension
from app.llm.providers import adapter_for, target_for
from app.llm.providers.base import ChatRequest, Message, ProviderError, Target
from app.llm.retry import RetryLater
from app.queue.controls import DispatchSwitch
from app.runs import budget, ledger, state
from app.runs.execution import commit
from app.transcripts import summaries

# Waiting for summaries in flight to settle before the cap has room (as a probe does).
_BUDGET_POLL_SECONDS = (0.02, 0.1)


class _Stop(enum.Enum):
    """Why a summary makes no call."""

    SUSPENDED = "suspended"  # stored without text; restartSummarization asks again
    BUDGET = "budget"  # the run paused on its cap; the summary stays pending


@dataclass(frozen=True, slots=True)
class _NoRoom:
    """The run's cap has no room for the call now (WAIT) or at all (EXHAUSTED)."""

    verdict: budget.Verdict
    standing: budget.Standing


@dataclass(frozen=True, slots=True)
class _Text:
    """What the summarizer answered (None: no text, the decision code stands alone)."""

    text: str | None
    usage: ledger.Usage | None = None
    error_code: str | None = None
    # The vendor refused the account (exhausted credit, bad key): suspend this provider.
    suspend: tuple[str, ProviderError] | None = None

    @property
    def used_tokens(self) -> int | None:
        return None if self.usage is None else self.usage.input_tokens + self.usage.output_tokens


async def summarize(
    db: Database,
    settings: Settings,
    transcript_id: str,
    *,
    attempts: int,
    dispatch: DispatchSwitch,
) -> str:
    """Summarize one transcript; returns what happened (for logs and tests). Raises RetryLater."""
    await dispatch.wait_while_paused()
    started = time.monotonic()
    found = await summaries.to_summarize(db, transcript_id, settings.summarizer_model)
    if found is None:
        return "skipped"
    summary, summarizer = found
    lease: limits.Lease | None = None
    call: ledger.Call | None = None
    try:
        try:
            if summarizer is None:
                raise LookupError(f"Summarizer model not found: {settings.summarizer_model}")
            target = _target(settings, summarizer)
        except (LookupError, ProviderError):
            # No summarizer model configured, or it cannot be called: no call, no ledger row;
            # the parser's code stands and the text is missing.
            await _finish(db, summary, _Text(None), started, None, None)
            return "failed"
        begun = await _begin_call(db, summarizer, summary, target, dispatch, attempts)
        if begun is _Stop.BUDGET:
            return "budget"
        if begun is _Stop.SUSPENDED:
            answer = _Text(None)
        else:
            lease, call = begun
            answer = await _answer(settings, summarizer, summary, target, attempts)
        await _finish(db, summary, answer, started, lease, call)
        lease = call = None
    except RetryLater as retry:
        if call is not None:
            code = retry.error.kind.value
            await ledger.settle_alone(db, call, ledger.Outcome.RETRIED, error_code=code)
            call = None
        raise
    finally:
        if lease is not None:  # retry, abort or a crash before the outcome was stored
            await asyncio.shield(limits.release(db, lease))
        if call is not None:
            await ledger.settle_alone(db, call, ledger.Outcome.ABORTED)
    return "failed" if answer.text is None else "summarized"


def _target(settings: Settings, summarizer: summaries.Summarizer) -> Target:
    return target_for(
        summarizer.provider_name,
        summarizer.model_id,
        summarizer.api_config,
        trusted_hosts=settings.provider_host_allowlist,
    )


async def _begin_call(
    db: Database,
    summarizer: summaries.Summarizer,
    summary: summaries.PendingSummary,
    target: Target,
    dispatch: DispatchSwitch,
    attempts: int,
) -> tuple[limits.Lease, ledger.Call] | _Stop:
    """Wait for room under the provider's limits and then under the run's cap: the lease and
    the call's open ledger row, or why no call is made."""
    tokens = limits.estimate_tokens([summaries.summary_request_text(summary.content)])
    while True:
        lease = await _lease(db, summarizer, summary, target, dispatch, tokens)
        if lease is None:
            return _Stop.SUSPENDED
        try:
            opened = await _open_call(db, summary, summarizer, target, attempts, tokens)
        except BaseException:  # an abort or a crash before the caller holds the lease
            await asyncio.shield(limits.release(db, lease))
            raise
        if isinstance(opened, ledger.Call):
            return lease, opened
        await asyncio.shield(limits.release(db, lease))
        if opened.verdict is budget.Verdict.EXHAUSTED:
            async with db.transaction() as session:
                await budget.pause_exhausted(session, summary.run_id, opened.standing)
            return _Stop.BUDGET
        await asyncio.sleep(random.uniform(*_BUDGET_POLL_SECONDS))


async def _lease(
    db: Database,
    summarizer: summaries.Summarizer,
    summary: summaries.PendingSummary,
    target: Target,
    dispatch: DispatchSwitch,
    tokens: int,
) -> limits.Lease | None:
    """Wait for room under the summarizer's provider limits; None while it is suspended (the
    summary is stored without text: restartSummarization asks again after the resume)."""
    while True:
        await dispatch.wait_while_paused()
        taken = await limits.take(
            db,
            summarizer.provider_id,
            ttl_seconds=target.lease_seconds,
            run_id=summary.run_id,
            model_id=summarizer.model_id,
            tokens=tokens,
        )
        if isinstance(taken, limits.Lease):
            return taken
        if taken is limits.Suspended.PROVIDER:
            return None
        await asyncio.sleep(min(taken, 1.0))


async def _open_call(
    db: Database,
    summary: summaries.PendingSummary,
    summarizer: summaries.Summarizer,
    target: Target,
    attempts: int,
    tokens: int,
) -> ledger.Call | _NoRoom:
    """The call's ledger row with its reservation (the run's observed average for summaries,
    else a bound from the request's size), or the standing that leaves no room for it."""
    prices = costs.Prices(summarizer.cost_input_per_million, summarizer.cost_output_per_million)
    fallback = costs.call_cost(tokens, budget.BOUND_OUTPUT_TOKENS, prices)

    async def opened(session: AsyncSession, quote: budget.Quote) -> ledger.Call:
        return await ledger.open_call(
            session,
            run_id=summary.run_id,
            purpose="SUMMARY",
            model_id=summarizer.model_id,
            provider_id=summarizer.provider_id,
            attempt=attempts,
            ttl_seconds=target.lease_seconds,
            reserved_usd=quote.expected,
            prices=prices,
            transcript_id=summary.transcript_id,
        )

    # A run without a cap has nothing to hold the quote against: the quote and the row are a
    # statement each, without the transaction's BEGIN and COMMIT round trips.
    async with db.autocommit() as session:
        quote = await budget.quote(
            session, summary.run_id, summarizer.model_id, fallback, "SUMMARY"
        )
        if quote.cap is None:
            return await opened(session, quote)
    async with db.transaction() as session:
        quote = await budget.quote(
            session, summary.run_id, summarizer.model_id, fallback, "SUMMARY"
        )
        standing = await budget.standing(session, summary.run_id, quote.cap)
        verdict = standing.verdict(quote.expected)
        if verdict is not budget.Verdict.ADMIT:
            return _NoRoom(verdict, standing)
        return await opened(session, quote)


async def _answer(
    settings: Settings,
    summarizer: summaries.Summarizer,
    summary: summaries.PendingSummary,
    target: Target,
    attempts: int,
) -> _Text:
    """The one-line decision text, or None with the error when the call failed for good."""
    try:
        completion = await adapter_for(summarizer.provider_name).complete(
            ChatRequest(
                target=target,
                messages=(Message("user", summaries.summary_request_text(summary.content)),),
                temperature=0.0,
                seed=f"summary:{summary.transcript_id}",
            )
        )
    except ProviderError as error:
        RetryLater.unless_last(error, attempts, settings)
        refused = (summarizer.provider_id, error) if suspension.suspends(error) else None
        return _Text(None, error_code=error.kind.value, suspend=refused)
    usage = ledger.Usage(completion.input_tokens, completion.output_tokens)
    return _Text(summaries.one_line(completion.text), usage)


async def _finish(
    db: Database,
    summary: summaries.PendingSummary,
    answer: _Text,
    started: float,
    lease: limits.Lease | None,
    call: ledger.Call | None,
) -> None:
    """The call's ledger row, the stored decision and the lease's end: one transaction,
    committed with the other summaries ready meanwhile (`commit.Committer`); then, when no
    transcript of the run waits for its summary any more, the run's SUMMARIZING → COMPLETED.
    A suspension goes alone (`_finish_suspending`)."""
    duration_ms = int((time.monotonic() - started) * 1000)
    if answer.suspend is not None:
        await _finish_suspending(db, summary, answer, duration_ms, lease, call)
        return
    # The run's lock first, so that every row of the outcome is touched under it (a cancel
    # holds it exclusive before it touches the run's rows: no deadlock with it).
    statements = [
        state.lock_shared_statement(summary.run_id),
        summaries.decision_statement(
            summary,
            decision_text=answer.text,
            duration_ms=duration_ms,
            failed=answer.text is None,
        ),
    ]
    if lease is not None:
        statements.append(limits.finish_statement(lease, used_tokens=answer.used_tokens))
    cost = 0.0
    if call is not None:
        settling, cost = ledger.settle_statement(
            call, _call_outcome(answer), usage=answer.usage, error_code=answer.error_code
        )
        statements.append(settling)
    committed = await commit.committer_for(db, state.pending_summary).commit(
        statements, run_id=summary.run_id, job_id=None
    )
    if call is not None and committed.done[-1].rowcount == 1:  # the settlement is last
        ledger.count_spend(call, cost)
    if not committed.others_open:
        async with db.transaction() as session:
            await state.finish_summaries(session, summary.run_id)


def _call_outcome(answer: _Text) -> ledger.Outcome:
    return ledger.Outcome.SUCCESS if answer.text is not None else ledger.Outcome.FAILED


async def _finish_suspending(
    db: Database,
    summary: summaries.PendingSummary,
    answer: _Text,
    duration_ms: int,
    lease: limits.Lease | None,
    call: ledger.Call | None,
) -> None:
    """`_finish` with the provider's suspension in the same transaction."""
    assert answer.suspend is not None
    async with db.transaction() as session:
        if call is not None:
            await ledger.settle(
                session,
                call,
                _call_outcome(answer),
                usage=answer.usage,
                error_code=answer.error_code,
            )
        await store(
            session,
            summary,
            decision_text=answer.text,
            duration_ms=duration_ms,
            failed=answer.text is None,
        )
        await suspension.suspend(session, *answer.suspend)
        if lease is not None:
            await limits.finish(session, lease, used_tokens=answer.used_tokens)


async def store(
    session: AsyncSession,
    summary: summaries.PendingSummary,
    *,
    decision_text: str | None,
    duration_ms: int,
    failed: bool,
) -> None:
    """The decision, its event and the run's advance, in the caller's transaction; nothing
    for a cancelled or deleted run (it is frozen)."""
    await state.lock_run(session, summary.run_id)
    frozen = (
        await (await session.connection()).execute(
            sa.text(
                "SELECT status = 'CANCELLED' OR deleted_at IS NOT NULL FROM runs WHERE id = :run"
            ),
            {"run": summary.run_id},
        )
    ).scalar_one_or_none()
    if frozen is not False:
        return
    await summaries.store_decision(
        session, summary, decision_text=decision_text, duration_ms=duration_ms, failed=failed
    )
    await pubsub.publish(session, summary.run_id, "summary", transcriptId=summary.transcript_id)
    await state.finish_summaries(session, summary.run_id)
