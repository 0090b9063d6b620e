"""The `summarize_transcript` task: decision code by the parser, decision text by the
summarizer model (through the same provider adapters)."""

from __future__ import annotations

import time

import procrastinate
from procrastinate.job_context import JobContext

from app.llm.providers import adapter_for, target_for
from app.llm.providers.base import ChatRequest, Message, ProviderError
from app.queue import jobs as queue
from app.runs.execution.probe import RetryLater
from app.transcripts import summaries
from workers.app import runtime_of
from workers.probe import ProviderRetry


async def summarize_transcript(
    context: JobContext,
    runId: str,  # ValueRank's job argument names
    transcriptId: str,
) -> str:
    runtime = runtime_of(context)
    db, settings = runtime.db, runtime.settings
    summary = await summaries.pending(db, transcriptId)
    if summary is None:
        return "skipped"
    started = time.monotonic()
    text: str | None = None
    failed = False
    try:
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
                seed=f"summary:{transcriptId}",
            )
        )
        text = summaries.one_line(completion.text)
    except ProviderError as error:
        RetryLater.unless_last(error, context.job.attempts, settings)
        failed = True
    except LookupError:
        failed = True  # no summarizer model configured: the code stands, the text is missing
    async with db.transaction() as session:
        await summaries.store(
            await session.connection(),
            summary,
            decision_text=text,
            duration_ms=int((time.monotonic() - started) * 1000),
            failed=failed,
        )
    return "failed" if failed else "summarized"


def register(app: procrastinate.App) -> None:
    app.task(
        name=queue.SUMMARIZE_TASK,
        queue=queue.SUMMARIZE_QUEUE,
        pass_context=True,
        retry=ProviderRetry(),
    )(summarize_transcript)
