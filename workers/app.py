"""The Procrastinate app the workers run: its connector and its tasks."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import procrastinate
from procrastinate.job_context import JobContext

from app.config import Settings
from app.db import Database, libpq_url


@dataclass(frozen=True)
class WorkerRuntime:
    """What every task of a worker process shares, passed in the job context."""

    db: Database
    settings: Settings


def runtime_of(context: JobContext) -> WorkerRuntime:
    runtime: Any = context.additional_context["runtime"]
    assert isinstance(runtime, WorkerRuntime)
    return runtime


def build_app(database_url: str, settings: Settings, *, pool_size: int = 20) -> procrastinate.App:
    from workers import maintenance, probe, summarize

    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(
            conninfo=libpq_url(database_url), min_size=1, max_size=pool_size
        )
    )
    probe.register(app)
    summarize.register(app)
    maintenance.register(app, cron=settings.recovery_cron)
    return app
