"""The `probe_scenario` task: one (run, scenario, model, sample) slot."""

from __future__ import annotations

import logging
from typing import Any

import procrastinate
from procrastinate.job_context import JobContext
from procrastinate.jobs import Job
from procrastinate.retry import BaseRetryStrategy, RetryDecision

from app.db import is_transient
from app.queue import jobs as queue
from app.runs.execution.probe import RetryLater, run_probe
from app.runs.execution.slot import SlotJob
from workers.app import runtime_of

log = logging.getLogger(__name__)

# A job that lost its database connection runs again this soon (by then the pool has new ones,
# or the job's status waits in Procrastinate's pool until the database is back).
DATABASE_RETRY_SECONDS = 1


class ProviderRetry(BaseRetryStrategy):
    """Retry exactly what the probe asked to retry, after the delay it chose (Retry-After or
    exponential backoff), and a job cut short by a dropped database connection (nothing of it
    was stored: the slot's result commits with the lease's release). Everything else ends the
    job: the slot's result is already stored."""

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if isinstance(exception, RetryLater):
            return RetryDecision(retry_in={"seconds": int(exception.delay + 0.999)})
        if isinstance(exception, Exception) and is_transient(exception):
            return RetryDecision(retry_in={"seconds": DATABASE_RETRY_SECONDS})
        return None


async def probe_scenario(
    context: JobContext,
    runId: str,  # ValueRank's job argument names
    scenarioId: str,
    modelId: str,
    sampleIndex: int,
    config: dict[str, Any] | None = None,
) -> str:
    runtime = runtime_of(context)
    job = SlotJob.from_args(
        {
            "runId": runId,
            "scenarioId": scenarioId,
            "modelId": modelId,
            "sampleIndex": sampleIndex,
            "config": config,
        }
    )
    return await run_probe(
        runtime.db,
        runtime.settings,
        job,
        provider_name=context.job.queue.removeprefix("probe_"),
        job_id=context.job.id,
        attempts=context.job.attempts,
    )


def register(app: procrastinate.App) -> None:
    app.task(name=queue.PROBE_TASK, pass_context=True, retry=ProviderRetry())(probe_scenario)
