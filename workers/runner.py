"""Running the workers of one process until told to stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Awaitable, Callable
from typing import Any

import procrastinate
import sqlalchemy as sa
from procrastinate.exceptions import JobAborted
from procrastinate.job_context import JobContext

from app.backoff import Backoff
from app.config import Settings
from app.db import Database, describe, is_transient
from app.llm.providers import http
from app.llm.retry import RetryLater
from app.logs import log_context
from app.prometheus import JOBS
from app.queue import jobs as queue
from app.queue.controls import DispatchSwitch
from workers.app import build_app
from workers.loops import FetchLoop, QueueLoops, fetch_loops
from workers.maintenance import MAINTENANCE_QUEUE
from workers.runtime import WorkerRuntime
from workers.steady import QUIET_LOGGERS, Outage, QuietTransient, SteadyWorker

log = logging.getLogger(__name__)


async def provider_names(db: Database) -> list[str]:
    async with db.session() as session:
        rows = await (await session.connection()).execute(
            sa.text("SELECT name FROM llm_providers ORDER BY name")
        )
        return [str(name) for name in rows.scalars()]


async def run_workers(settings: Settings, database_url: str, *, stop: asyncio.Event) -> None:
    """Work until `stop` is set; jobs still running then are aborted and retried later."""
    half = settings.worker_db_connections // 2
    # No ping per checkout: a job that meets a dropped connection fails and is retried
    # (workers/runtime.py, ProviderRetry); the ping would cost a round trip on every transaction.
    # No overflow: the jobs keep every connection busy, and an overflow connection is closed
    # when it is handed back, so under load each checkout past the pool's size connected anew
    # (a server process started, its caches and prepared statements lost; issue 14's profile).
    db = Database(
        database_url,
        pool_size=settings.worker_db_connections,
        max_overflow=0,
        pre_ping=False,
    )
    app = build_app(database_url, settings, pool_size=max(2, half))
    runtime = WorkerRuntime(db=db, settings=settings, dispatch=DispatchSwitch(db))
    prefix = f"{socket.gethostname()}:{os.getpid()}"
    outage = Outage()
    quiet = QuietTransient(outage)
    for name in QUIET_LOGGERS:
        logging.getLogger(name).addFilter(quiet)
    try:
        names = await _when_reachable(lambda: provider_names(db), stop)
        if names is None:
            return
        async with app.open_async():
            common: dict[str, Any] = {
                "wait": True,
                "install_signal_handlers": False,
                "abort_job_polling_interval": settings.poll_seconds,
                "shutdown_graceful_timeout": 5.0,
                "update_heartbeat_interval": max(1.0, settings.stalled_worker_seconds / 3),
                "stalled_worker_timeout": settings.stalled_worker_seconds,
                "additional_context": {"runtime": runtime},
                "worker_middleware": [job_log_context],
            }
            steady = _steady_workers(app, names, settings, common, prefix, db, outage)
            await _run_all(steady, stop)
    finally:
        for name in QUIET_LOGGERS:
            logging.getLogger(name).removeFilter(quiet)
        await http.aclose()
        await db.dispose()


def _steady_workers(
    app: procrastinate.App,
    names: list[str],
    settings: Settings,
    common: dict[str, Any],
    prefix: str,
    db: Database,
    outage: Outage,
) -> list[SteadyWorker]:
    """Every queue's fetch loops: each provider's probes, the summaries, the maintenance."""
    plans = [
        *(
            loop
            for name in names
            for loop in fetch_loops(queue.probe_queue(name), settings.worker_concurrency)
        ),
        *fetch_loops(queue.SUMMARIZE_QUEUE, settings.summary_concurrency),
        FetchLoop(MAINTENANCE_QUEUE, 1, 0),
    ]
    groups = {plan.queue: QueueLoops(plan.queue) for plan in plans}
    return [
        SteadyWorker(
            app,
            plan.queue,
            {
                **common,
                "concurrency": plan.concurrency,
                "name": f"{prefix}:{plan.queue}#{plan.index}",
                # The queue's first loop listens and polls; the others are woken when a job
                # of the queue starts (workers/loops.py).
                "listen_notify": plan.leads,
                "fetch_job_polling_interval": plan.poll_seconds(settings.poll_seconds),
                "worker_middleware": [*common["worker_middleware"], groups[plan.queue].middleware],
            },
            db=db,
            outage=outage,
            loops=groups[plan.queue],
        )
        for plan in plans
    ]


async def job_log_context(
    call_next: Callable[[], Awaitable[Any]], context: JobContext, worker: Any
) -> Any:
    """Every line logged while a job runs names the job and its run (app/logs.py); every job
    counts toward valuerank_jobs_total by queue and outcome."""
    run_id = context.job.task_kwargs.get("runId")
    outcome = "error"
    try:
        with log_context(job_id=str(context.job.id), run_id=str(run_id) if run_id else None):
            result = await call_next()
        outcome = "done"
        return result
    except RetryLater:
        outcome = "retry"
        raise
    except (asyncio.CancelledError, JobAborted):
        outcome = "aborted"
        raise
    finally:
        JOBS.labels(context.job.queue or "default", outcome).inc()


async def _when_reachable(
    read: Callable[[], Awaitable[list[str]]], stop: asyncio.Event
) -> list[str] | None:
    """`read()`, retried with backoff while the database is away (a worker started before
    its database, or during a restart, waits for it); None if stopped first."""
    backoff = Backoff(0.5, 5.0)
    while not stop.is_set():
        try:
            return await read()
        except Exception as exc:
            if not is_transient(exc):
                raise
            delay = backoff.next_delay()
            log.warning("database unavailable (%s); retrying in %.1f s", describe(exc), delay)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=delay)
    return None


async def _run_all(steady: list[SteadyWorker], stop: asyncio.Event) -> None:
    """Every queue's worker until `stop`; if one fails for good, stop the others and raise."""
    tasks = [asyncio.create_task(w.run(stop), name=f"steady {w.queue_name}") for w in steady]
    log.info("workers started on %d queues", len(tasks))
    await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
    stop.set()  # a steady worker returns only on stop, so anything done here failed
    results = await asyncio.gather(*tasks, return_exceptions=True)
    crashed = [r for r in results if isinstance(r, BaseException)]
    if crashed:
        raise RuntimeError("a worker stopped unexpectedly") from crashed[0]
