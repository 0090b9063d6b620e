"""A transcript's summary, the second job of a slot's life: the decision text from the
summarizer model (through the same provider adapters as probes), stored with the run's
SUMMARIZING → COMPLETED advance. The worker's task is a thin wrapper around `summarize`.

Each summarizer call has its ledger row, like a probe's (app/runs/ledger.py): opened before
the call, settled with the stored decision (or alone on a retry or an abort). The spend cap
counts summaries' cost but does not stop them: a run past its probes only summarizes."""

from __future__ import annotations

import time

import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from app import pubsub
from app.config import Settings
from app.db import Database
from app.llm import costs
from app.llm.providers import adapter_for, target_for
from app.llm.providers.base import ChatRequest, Message, ProviderError, Target
from app.llm.retry import RetryLater
from app.runs import budget, ledger, state
from app.transcripts import summaries

# What a call's ledger outcome is once settled: (outcome, usage, error code).
Settlement = tuple[ledger.Outcome, ledger.Usage | None, str | None]


async def summarize(db: Database, settings: Settings, transcript_id: str, *, attempts: int) -> str:
    """Summarize one transcript; returns what happened (for logs and tests). Raises RetryLater."""
    summary = await summaries.pending(db, transcript_id)
    if summary is None:
        return "skipped"
    started = time.monotonic()
    try:
        summarizer = await summaries.summarizer(db, settings.summarizer_model)
        target = target_for(
            summarizer.provider_name,
            summarizer.model_id,
            summarizer.api_config,
            trusted_hosts=settings.provider_host_allowlist,
        )
    except (LookupError, ProviderError):
        # No summarizer model configured, or it cannot be called: no call, so no ledger row;
        # the parser's code stands and the text is missing.
        await _finish(db, summary, None, started, None)
        return "failed"
    call = await _open_call(db, summary, summarizer, target, attempts)
    settled = False
    try:
        text, settlement = await _decision_text(settings, summary, summarizer, target, attempts)
        await _finish(db, summary, text, started, (call, *settlement))
        settled = True
    except RetryLater as retry:
        code = retry.error.kind.value
        await ledger.settle_alone(db, call, ledger.Outcome.RETRIED, error_code=code)
        settled = True
        raise
    finally:
        if not settled:
            await ledger.settle_alone(db, call, ledger.Outcome.ABORTED)
    return "failed" if text is None else "summarized"


async def _open_call(
    db: Database,
    summary: summaries.PendingSummary,
    summarizer: summaries.Summarizer,
    target: Target,
    attempts: int,
) -> ledger.Call:
    prices = costs.Prices(summarizer.cost_input_per_million, summarizer.cost_output_per_million)
    async with db.transaction() as session:
        return await ledger.open_call(
            session,
            run_id=summary.run_id,
            purpose="SUMMARY",
            model_id=summarizer.model_id,
            provider_id=summarizer.provider_id,
            attempt=attempts,
            ttl_seconds=target.timeout_seconds * 2 + 30,
            reserved_usd=budget.bound(prices, 1),
            prices=prices,
            transcript_id=summary.transcript_id,
        )


async def _decision_text(
    settings: Settings,
    summary: summaries.PendingSummary,
    summarizer: summaries.Summarizer,
    target: Target,
    attempts: int,
) -> tuple[str | None, Settlement]:
    """The one-line decision text (None when the call failed for good) and its settlement."""
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
        return None, (ledger.Outcome.FAILED, None, error.kind.value)
    usage = ledger.Usage(completion.input_tokens, completion.output_tokens)
    return summaries.one_line(completion.text), (ledger.Outcome.SUCCESS, usage, None)


async def _finish(
    db: Database,
    summary: summaries.PendingSummary,
    text: str | None,
    started: float,
    settlement: tuple[ledger.Call, ledger.Outcome, ledger.Usage | None, str | None] | None,
) -> None:
    async with db.transaction() as session:
        if settlement is not None:
            call, outcome, usage, code = settlement
            await ledger.settle(session, call, outcome, usage=usage, error_code=code)
        await store(
            session,
            summary,
            decision_text=text,
            duration_ms=int((time.monotonic() - started) * 1000),
            failed=text is None,
        )


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
