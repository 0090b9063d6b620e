"""The Procrastinate app the workers run: its connector and its tasks."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import procrastinate
import procrastinate.manager
import psycopg
import psycopg_pool

from app.backoff import Backoff
from app.config import Settings
from app.db import describe, is_transient, libpq_url
from workers import maintenance, probe, summarize

log = logging.getLogger(__name__)

REPORT_RETRY_FIRST_SECONDS = 0.2
REPORT_RETRY_MAX_SECONDS = 5.0


def build_app(database_url: str, settings: Settings, *, pool_size: int = 20) -> procrastinate.App:
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(
            conninfo=libpq_url(database_url),
            min_size=1,
            max_size=pool_size,
            pool_factory=_pool_checked_locally,
        )
    )
    app.job_manager = SteadyJobManager(app.connector)
    probe.register(app)
    summarize.register(app)
    maintenance.register(app, cron=settings.recovery_cron)
    return app


class SteadyJobManager(procrastinate.manager.JobManager):
    """Procrastinate's job manager, whose report of a job's end is retried through a database
    outage until it is saved. Procrastinate reports it once: when that failed, the job stayed
    `doing` under a worker that is still alive, so no stalled-job sweep ever took it back and
    its run waited forever (tests/acceptance/test_worker_resilience.py, the restart mid-run,
    failed that way about one time in six)."""

    async def finish_job(self, *args: Any, **kwargs: Any) -> None:
        await _until_saved(lambda: super(SteadyJobManager, self).finish_job(*args, **kwargs))

    async def retry_job(self, *args: Any, **kwargs: Any) -> None:
        await _until_saved(lambda: super(SteadyJobManager, self).retry_job(*args, **kwargs))


async def _until_saved(report: Callable[[], Awaitable[None]]) -> None:
    backoff = Backoff(REPORT_RETRY_FIRST_SECONDS, REPORT_RETRY_MAX_SECONDS)
    while True:
        try:
            await report()
            return
        except Exception as exc:
            if not is_transient(exc):
                raise
            log.info("database unavailable while finishing a job (%s); retrying", describe(exc))
        await asyncio.sleep(backoff.next_delay())


def _pool_checked_locally(**options: Any) -> psycopg_pool.AsyncConnectionPool:
    """Procrastinate's pool with two round trips less per statement (issue 14: a job's fetch
    and finish took six, counted with pg_stat_statements):

    - No check of every connection taken from it (a `SELECT 1`). A connection the server
      dropped fails its next statement instead; the worker then restarts once the database
      answers (workers/steady.py), and the pool discards a connection that failed.
    - Autocommit connections: each of Procrastinate's statements is one function call, so the
      `BEGIN` and `COMMIT` around it bought nothing (an explicit `transaction()` still opens
      one)."""
    return psycopg_pool.AsyncConnectionPool(
        **{**options, "check": _usable, "configure": _autocommit}
    )


async def _autocommit(connection: psycopg.AsyncConnection[Any]) -> None:
    await connection.set_autocommit(True)


async def _usable(connection: psycopg.AsyncConnection[Any]) -> None:
    """What the client already knows of the connection, without asking the server."""
    if connection.closed or connection.broken:
        raise psycopg.OperationalError("the pooled connection is closed")
