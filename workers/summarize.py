"""The `summarize_transcript` task: decision code by the parser, decision text by the
summarizer model (app/runs/execution/summary.py)."""

from __future__ import annotations

import procrastinate
from procrastinate.job_context import JobContext

from app.queue import jobs as queue
from app.runs.execution import summary
from workers.runtime import ProviderRetry, runtime_of


async def summarize_transcript(
    context: JobContext,
    runId: str,  # ValueRank's job argument names
    transcriptId: str,
) -> str:
    runtime = runtime_of(context)
    return await summary.summarize(
        runtime.db,
        runtime.settings,
        transcriptId,
        attempts=context.job.attempts,
        dispatch=runtime.dispatch,
    )


def register(app: procrastinate.App) -> None:
    app.task(
        name=queue.SUMMARIZE_TASK,
        queue=queue.SUMMARIZE_QUEUE,
        pass_context=True,
        retry=ProviderRetry(),
    )(summarize_transcript)
