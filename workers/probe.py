"""The `probe_scenario` task: one (run, scenario, model, sample) slot."""

from __future__ import annotations

import logging
from typing import Any

import procrastinate
from procrastinate.job_context import JobContext

from app.queue import jobs as queue
from app.runs.execution.probe import run_probe
from app.runs.execution.slot import SlotJob
from workers.runtime import ProviderRetry, runtime_of

log = logging.getLogger(__name__)


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
        dispatch=runtime.dispatch,
    )


def register(app: procrastinate.App) -> None:
    app.task(name=queue.PROBE_TASK, pass_context=True, retry=ProviderRetry())(probe_scenario)
