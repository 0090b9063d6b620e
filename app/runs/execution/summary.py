"""A transcript's summary, the second job of a slot's life: the decision text from the
summarizer model (through the same provider adapters as probes), stored with the run's
SUMMARIZING → COMPLETED advance. The worker's task is a thin wrapper around `summarize`."""

from __future__ import annotations

import time

from sqlmodel.ext.asyncio.session import AsyncSession

from app import pubsub
from app.config import Settings
from app.db import Database
from app.llm.providers import adapter_for, target_for
from app.llm.providers.base import ChatRequest, Message, ProviderError
from app.llm.retry import RetryLater
from app.runs import state
from app.transcripts import summaries


async def summarize(db: Database, settings: Settings, transcript_id: str, *, attempts: int) -> str:
    """Summarize one transcript; returns what happened (for logs and tests). Raises RetryLater."""
    summary = await summaries.pending(db, transcript_id)
    if summary is None:
        return "skipped"
    started = time.monotonic()
    text: str | None = None
    failed = False
    try:
        text = await _decision_text(db, settings, summary)
    except ProviderError as error:
        RetryLater.unless_last(error, attempts, settings)
        failed = True
    except LookupError:
        failed = True  # no summarizer model configured: the code stands, the text is missing
    async with db.transaction() as session:
        await store(
            session,
            summary,
            decision_text=text,
            duration_ms=int((time.monotonic() - started) * 1000),
            failed=failed,
        )
    return "failed" if failed else "summarized"


async def _decision_text(
    db: Database, settings: Settings, summary: summaries.PendingSummary
) -> str:
    summarizer = await summaries.summarizer(db, settings.summarizer_model)
    target = target_for(
        summarizer.provider_name,
        summarizer.model_id,
        summarizer.api_config,
        trusted_hosts=settings.provider_host_allowlist,
    )
    completion = await adapter_for(summarizer.provider_name).complete(
        ChatRequest(
            target=target,
            messages=(Message("user", summaries.summary_request_text(summary.content)),),
            temperature=0.0,
            seed=f"summary:{summary.transcript_id}",
        )
    )
    return summaries.one_line(completion.text)


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
