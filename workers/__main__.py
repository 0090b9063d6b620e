"""`python -m workers` (also `valuerank worker`, `make worker`): one Procrastinate worker per
provider queue, one for summaries and one for maintenance, in this process. Run as many
processes as you like, on as many machines: the limits and the run state live in Postgres.
A database outage or restart is waited out (workers/steady.py): the process never exits on one."""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import signal
from typing import Any

from app import gc_tuning, logs
from app.config import Settings, get_settings, settings_table
from app.db import Database, describe, is_transient
from workers.http import serve_http
from workers.runner import run_workers

log = logging.getLogger("workers")

PARENT_POLL_SECONDS = 0.5


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        prog="python -m workers",
        description=__doc__,
        epilog="settings (environment variables, or a .env file):\n" + settings_table(),
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--database-url", help="default: DATABASE_URL")
    parser.add_argument(
        "--stop-with-parent",
        type=int,
        metavar="PID",
        help="stop when process PID is no longer this one's parent (serve passes its own pid)",
    )
    args = parser.parse_args(argv)
    settings = get_settings()
    url = args.database_url or settings.database_url
    if not url:
        parser.error(
            "set DATABASE_URL (or pass --database-url): workers need the server's database"
        )
    logs.configure(settings.log_level, settings.log_format)
    # The pool logs every failed reconnection attempt; workers/steady.py reports an outage once.
    logging.getLogger("psycopg.pool").setLevel(logging.ERROR)

    async def serve() -> None:
        gc_tuning.tune_for_service()
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        loop.set_exception_handler(_summarize_transient)
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        watching = None
        if args.stop_with_parent is not None:
            watching = asyncio.create_task(_stop_when_orphaned(args.stop_with_parent, stop))
        port = _metrics_port(settings, url, stop)
        try:
            await run_workers(settings, url, stop=stop)
        finally:
            stop.set()
            if watching is not None:
                watching.cancel()
            if port is not None:
                await port

    asyncio.run(serve())


def _metrics_port(settings: Settings, url: str, stop: asyncio.Event) -> asyncio.Task[None] | None:
    """The worker's HTTP port (workers/http.py) while it runs, when WORKER_METRICS_PORT is set."""
    if settings.worker_metrics_port is None:
        return None

    async def serve() -> None:
        db = Database(url, pool_size=1, max_overflow=1)
        try:
            await serve_http(db, settings.host, settings.worker_metrics_port or 0, stop)
        finally:
            await db.dispose()

    return asyncio.create_task(serve(), name="worker-http")


async def _stop_when_orphaned(parent_pid: int, stop: asyncio.Event) -> None:
    """A parent killed outright sends no signal: its children are re-parented, which shows."""
    # Polling: nothing notifies a process of its re-parenting (prctl's death signal is
    # Linux-only and fires when the forking *thread* ends, not the process).
    while os.getppid() == parent_pid:  # noqa: ASYNC110
        await asyncio.sleep(PARENT_POLL_SECONDS)
    log.warning("parent process %d is gone; stopping", parent_pid)
    stop.set()


def _summarize_transient(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
    """A task that fails with a transient database error during an outage (its job's end is
    retried until saved, workers/app.py) gets one line instead of a traceback."""
    exc = context.get("exception")
    if isinstance(exc, BaseException) and is_transient(exc):
        log.info("database unavailable while finishing a job (%s)", describe(exc))
        return
    loop.default_exception_handler(context)


if __name__ == "__main__":
    main()
