"""What every task of a worker process shares (`WorkerRuntime`, passed in the job context) and
how a failed job is retried (`ProviderRetry`). The task modules import this, never `app.py`,
so the app that registers the tasks and the tasks do not import each other."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from procrastinate.job_context import JobContext
from procrastinate.jobs import Job
from procrastinate.retry import BaseRetryStrategy, RetryDecision

from app.config import Settings
from app.db import Database, is_transient
from app.llm.retry import RetryLater
from app.queue.controls import DispatchSwitch

# A job that lost its database connection runs again this soon (by then the pool has new ones,
# or the job's status waits in Procrastinate's pool until the database is back).
DATABASE_RETRY_SECONDS = 1


@dataclass(frozen=True)
class WorkerRuntime:
    """What every task of a worker process shares, passed in the job context."""

    db: Database
    settings: Settings
    dispatch: DispatchSwitch


def runtime_of(context: JobContext) -> WorkerRuntime:
    runtime: Any = context.additional_context["runtime"]
    assert isinstance(runtime, WorkerRuntime)
    return runtime


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
