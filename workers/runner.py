"""Running the workers of one process until told to stop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from typing import Any

import sqlalchemy as sa

from app import queue
from app.config import Settings
from app.db import Database
from app.llm.providers import http
from workers.app import WorkerRuntime, build_app
from workers.maintenance import MAINTENANCE_QUEUE

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
    # No ping per checkout: a job that meets a dropped connection fails, and recovery
    # re-queues its slot; the ping would cost a round trip on every transaction.
    db = Database(
        database_url,
        pool_size=half,
        max_overflow=settings.worker_db_connections - half,
        pre_ping=False,
    )
    app = build_app(database_url, settings, pool_size=max(2, half))
    runtime = WorkerRuntime(db=db, settings=settings)
    prefix = f"{socket.gethostname()}:{os.getpid()}"
    try:
        names = await provider_names(db)
        async with app.open_async():
            common: dict[str, Any] = {
                "wait": True,
                "install_signal_handlers": False,
                "fetch_job_polling_interval": settings.poll_seconds,
                "abort_job_polling_interval": settings.poll_seconds,
                "shutdown_graceful_timeout": 5.0,
                "update_heartbeat_interval": max(1.0, settings.stalled_worker_seconds / 3),
                "stalled_worker_timeout": settings.stalled_worker_seconds,
                "additional_context": {"runtime": runtime},
            }
            plans = [(queue.probe_queue(name), settings.worker_concurrency) for name in names] + [
                (queue.SUMMARIZE_QUEUE, settings.summary_concurrency),
                (MAINTENANCE_QUEUE, 1),
            ]
            tasks = [
                asyncio.create_task(
                    app.run_worker_async(
                        queues=[name], concurrency=concurrency, name=f"{prefix}:{name}", **common
                    ),
                    name=f"worker {name}",
                )
                for name, concurrency in plans
            ]
            log.info("workers started on %d queues", len(tasks))
            stopping = asyncio.create_task(stop.wait())
            await asyncio.wait([stopping, *tasks], return_when=asyncio.FIRST_COMPLETED)
            stopping.cancel()
            crashed = [t for t in tasks if t.done() and not t.cancelled() and t.exception()]
            for task in tasks:
                task.cancel()
            for task in tasks:
                with contextlib.suppress(asyncio.CancelledError):
                    await task
            if crashed:
                raise RuntimeError("a worker stopped unexpectedly") from crashed[0].exception()
    finally:
        await http.aclose()
        await db.dispose()
