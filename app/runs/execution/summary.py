"""A transcript's summary, the second job of a slot's life: the decision text from the
summarizer model (through the same provider adapters as probes), stored with the run's
SUMMARIZING → COMPLETED advance. The worker's task is a thin wrapper around `summarize`.

A summary call is a call like a probe's: it waits while `pauseQueue` holds dispatch, and takes
a lease under its provider's limits (parallel, requests and tokens per minute, suspension)."""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass

from sqlmodel.ext.asyncio.session import AsyncSession

from app import pubsub
from app.config import Settings
from app.db import Database
from app.llm import limits, suspension
from app.llm.providers import adapter_for, target_for
from app.llm.providers.base import ChatRequest, Message, ProviderError, Target
from app.llm.retry import RetryLater
from app.queue.controls import DispatchSwitch
from app.runs import state
from app.transcripts import summaries


@dataclass(frozen=True, slots=True)
class _Text:
    """What the summarizer answered (None: no text, the decision code stands alone)."""

    text: str | None
    used_tokens: int | None = None
    # The vendor refused the account (exhausted credit, bad key): suspend this provider.
    suspend: tuple[str, ProviderError] | None = None


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
    summary = await summaries.pending(db, transcript_id)
    if summary is None:
        return "skipped"
    started = time.monotonic()
    lease: limits.Lease | None = None
    try:
        try:
            summarizer = await summaries.summarizer(db, settings.summarizer_model)
            target = _target(settings, summarizer)
            lease = await _lease(db, summarizer, summary, target, dispatch)
            if lease is None:
                answer = _Text(None)
            else:
                answer = await _decision_text(summarizer, summary, target)
        except ProviderError as error:
            RetryLater.unless_last(error, attempts, settings)
            refused = (summarizer.provider_id, error) if suspension.suspends(error) else None
            answer = _Text(None, suspend=refused)
        except LookupError:
            answer = _Text(None)  # no summarizer model configured: the code stands, no text
        async with db.transaction() as session:
            await store(
                session,
                summary,
                decision_text=answer.text,
                duration_ms=int((time.monotonic() - started) * 1000),
                failed=answer.text is None,
            )
            if answer.suspend is not None:
                await suspension.suspend(session, *answer.suspend)
            if lease is not None:
                await limits.finish(session, lease, used_tokens=answer.used_tokens)
                lease = None
    finally:
        if lease is not None:  # retry, abort or a crash before the outcome was stored
            await asyncio.shield(limits.release(db, lease))
    return "failed" if answer.text is None else "summarized"


def _target(settings: Settings, summarizer: summaries.Summarizer) -> Target:
    return target_for(
        summarizer.provider_name,
        summarizer.model_id,
        summarizer.api_config,
        trusted_hosts=settings.provider_host_allowlist,
    )


async def _lease(
    db: Database,
    summarizer: summaries.Summarizer,
    summary: summaries.PendingSummary,
    target: Target,
    dispatch: DispatchSwitch,
) -> limits.Lease | None:
    """Wait for room under the summarizer's provider limits; None while it is suspended (the
    summary is stored without text: restartSummarization asks again after the resume)."""
    tokens = limits.estimate_tokens([summaries.summary_request_text(summary.content)])
    while True:
        await dispatch.wait_while_paused()
        async with db.transaction() as session:
            taken = await limits.try_take(
                session,
                summarizer.provider_id,
                ttl_seconds=target.timeout_seconds * 2 + 30,
                run_id=summary.run_id,
                model_id=summarizer.model_id,
                tokens=tokens,
            )
        if isinstance(taken, limits.Lease):
            return taken
        if taken is limits.Suspended.PROVIDER:
            return None
        await asyncio.sleep(min(taken, 1.0))


async def _decision_text(
    summarizer: summaries.Summarizer, summary: summaries.PendingSummary, target: Target
) -> _Text:
    completion = await adapter_for(summarizer.provider_name).complete(
        ChatRequest(
            target=target,
            messages=(Message("user", summaries.summary_request_text(summary.content)),),
            temperature=0.0,
            seed=f"summary:{summary.transcript_id}",
        )
    )
    return _Text(
        summaries.one_line(completion.text), completion.input_tokens + completion.output_tokens
    )


async def store(
    session: AsyncSession,
    summary: summaries.PendingSummary,
    *,
    decision_text: str | None,
    duration_ms: int,
    failed: bool,
) -> None:
    """The decision, its event and the run's advance, in the caller's transaction."""
    await summaries.store_decision(
        session, summary, decision_text=decision_text, duration_ms=duration_ms, failed=failed
    )
    await pubsub.publish(session, summary.run_id, "summary", transcriptId=summary.transcript_id)
    await state.finish_summaries(session, summary.run_id)
