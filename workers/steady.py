"""One queue's Procrastinate worker, kept working through database outages.

Procrastinate's worker stops itself, and every job it runs, at the first database error its
bookkeeping meets: a failed heartbeat, job fetch or LISTEN reconnection (`worker.py`,
`_monitor_side_tasks` and `_fetch_and_process_jobs`). A dropped connection or a restarted
server is not a reason for this process to stop, so `SteadyWorker` waits until the database
answers again (with backoff), puts back the jobs the stopped worker could not report on, and
starts a fresh worker on the same queue. Any other error still stops the process, loudly.

Procrastinate logs a traceback for each of those errors, and again every abort poll while the
database is away; `QuietTransient` turns them into one line per outage (`Outage`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Coroutine
from typing import Any

import procrastinate
import psycopg
from procrastinate.worker import Worker

from app.backoff import Backoff
from app.db import Database, describe, is_transient
from app.queue import stalled
from workers.loops import QueueLoops

log = logging.getLogger(__name__)

# Procrastinate's log `action`s that mean "the database is away" rather than a job's outcome.
_OUTAGE_ACTIONS = {"side_task_failed", "poll_jobs_to_abort_error"}
# It logs each failed side task (heartbeat, listener ...) once more as the worker stops.
_OUTAGE_LOGGERS = {"procrastinate.utils"}
# The loggers whose records QuietTransient reads (each worker's own logger gets one too).
QUIET_LOGGERS = ("procrastinate.worker", "procrastinate.utils")
RECONNECT_FIRST_SECONDS = 0.5
RECONNECT_MAX_SECONDS = 5.0


class Outage:
    """One process's view of the database being away: one line when it goes, one when back."""

    def __init__(self) -> None:
        self.since: float | None = None
        self.count = 0

    def down(self, exc: BaseException) -> None:
        if self.since is None:
            self.since = time.monotonic()
            self.count += 1
            log.warning("database unavailable (%s); workers will reconnect", describe(exc))

    def up(self) -> None:
        if self.since is not None:
            log.warning(
                "database reachable again after %.1f s; workers resumed",
                time.monotonic() - self.since,
            )
            self.since = None


class QuietTransient(logging.Filter):
    """On Procrastinate's loggers: a transient database error becomes the outage's one line
    (side-task failures, abort polls) or a one-line cause on the job's outcome; never a
    traceback. Remembers the last outage error, which the steady worker reads."""

    def __init__(self, outage: Outage) -> None:
        super().__init__()
        self.outage = outage
        self.failure: BaseException | None = None

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        if exc is None or not is_transient(exc):
            return True
        if getattr(record, "action", None) in _OUTAGE_ACTIONS or record.name in _OUTAGE_LOGGERS:
            self.failure = exc
            self.outage.down(exc)
            return False
        record.msg, record.args = f"{record.getMessage()} ({describe(exc)})", ()
        record.exc_info, record.exc_text = None, None
        return True


class SteadyWorker:
    """A Procrastinate worker on one queue, restarted after each database outage until `stop`."""

    def __init__(
        self,
        app: procrastinate.App,
        queue_name: str,
        options: dict[str, Any],
        *,
        db: Database,
        outage: Outage,
        loops: QueueLoops | None = None,
    ) -> None:
        self.app = app
        self.queue_name = queue_name
        self.options = options
        self.db = db
        self.outage = outage
        self.loops = loops
        self.restarts = 0

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            worker = Worker(app=self.app, queues=[self.queue_name], **self.options)
            if self.loops is not None:
                self.loops.join(worker)
            try:
                failure = await self._run_once(worker, stop)
            finally:
                if self.loops is not None:
                    self.loops.leave(worker)
            if failure is None:
                return
            self.outage.down(failure)
            if not await self._wait_for_database(stop):
                return
            self.outage.up()
            await self._release(worker.worker_id)
            self.restarts += 1
            log.debug("worker on %s restarted after a database outage", self.queue_name)

    async def _run_once(self, worker: Worker, stop: asyncio.Event) -> BaseException | None:
        """Run `worker` until `stop` (None) or until the database fails it (that error)."""
        watcher = QuietTransient(self.outage)
        worker.logger.addFilter(watcher)
        # Worker.run and Worker.stop carry no annotations in procrastinate 3.10.
        run: Callable[[], Coroutine[Any, Any, None]] = worker.run
        running = asyncio.create_task(run(), name=f"worker {self.queue_name}")
        stopping = asyncio.create_task(stop.wait())
        try:
            await asyncio.wait({running, stopping}, return_when=asyncio.FIRST_COMPLETED)
            if not running.done():
                worker.stop()  # type: ignore[no-untyped-call]
            await running
        except Exception as exc:
            if not is_transient(exc):
                raise
            if stop.is_set():
                log.info(
                    "worker on %s stopped during an outage (%s)", self.queue_name, describe(exc)
                )
                return None
            return exc
        finally:
            stopping.cancel()
            worker.logger.removeFilter(watcher)
        if stop.is_set():
            return None
        if watcher.failure is not None:
            return watcher.failure
        raise RuntimeError(f"the worker on {self.queue_name} stopped by itself")

    async def _wait_for_database(self, stop: asyncio.Event) -> bool:
        """Try a fresh connection with backoff until one works (True) or `stop` is set."""
        backoff = Backoff(RECONNECT_FIRST_SECONDS, RECONNECT_MAX_SECONDS)
        while not await _stopped_within(stop, backoff.next_delay()):
            try:
                connection = await psycopg.AsyncConnection.connect(self.db.url, connect_timeout=5)
            except Exception as exc:
                if not is_transient(exc):
                    raise
                continue
            await connection.close()
            return True
        return False

    async def _release(self, worker_id: int | None) -> None:
        """The stopped worker's jobs, left `doing` when it could not report them, go back to
        `todo` (all its jobs have ended: Procrastinate awaits or aborts them as it stops)."""
        if worker_id is None:
            return  # it unregistered itself, so it reported every job
        try:
            async with self.db.transaction() as session:
                retried = await stalled.release_worker(session, worker_id)
        except Exception as exc:
            if not is_transient(exc):
                raise
            return  # away again: the recovery sweep retries them once the heartbeat is stale
        if retried:
            log.info("retried %d jobs left running by the stopped worker", retried)


async def _stopped_within(stop: asyncio.Event, seconds: float) -> bool:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=seconds)
    return stop.is_set()
