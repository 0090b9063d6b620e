"""A queue's fetch loops in one process, and who of them looks for work while it is dry.

Procrastinate's worker fetches one job per round trip, so a queue's concurrency is split over
several workers ("loops") that fetch side by side (`fetch_loops`). While a queue has jobs each
loop keeps fetching; once it finds none it waits for a notification or its polling interval.
If every loop polled, each idle queue would cost `loops × 1 / poll_seconds` fetches a second
in every process: at 128 slots a provider, nine providers and 0.2 s, about 360 empty fetches a
second per process, a third of the statements the probe bench counted (issue 14).

So only a queue's first loop listens and polls at `poll_seconds`; the others poll rarely
(`SIBLING_POLL_SECONDS`, a safety net) and are woken when any loop of the queue starts a job,
which says the queue has work: they then fetch until it is dry again.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from procrastinate.job_context import JobContext
from procrastinate.worker import Worker

# Jobs per fetch loop. Procrastinate's worker fetches one job at a time (a round trip each) and
# only then starts it, so one loop with 128 slots kept about 40 jobs in flight at 1 s latency
# (issue 14). Several loops per queue, each with its share of the slots, fetch side by side.
FETCH_LOOP_SLOTS = 16
# How often a loop other than a queue's first looks for work on its own while the queue is dry.
SIBLING_POLL_SECONDS = 5.0


@dataclass(frozen=True, slots=True)
class FetchLoop:
    """One Procrastinate worker of a queue: its share of the queue's concurrency."""

    queue: str
    concurrency: int
    index: int

    @property
    def leads(self) -> bool:
        """The queue's first loop: it listens for new jobs and polls at `poll_seconds`."""
        return self.index == 0

    def poll_seconds(self, poll_seconds: float) -> float:
        return poll_seconds if self.leads else max(poll_seconds, SIBLING_POLL_SECONDS)


def fetch_loops(queue_name: str, concurrency: int) -> list[FetchLoop]:
    """`concurrency` slots of a queue split over loops of at most FETCH_LOOP_SLOTS."""
    count = -(-concurrency // FETCH_LOOP_SLOTS)
    shares = [concurrency // count + (1 if i < concurrency % count else 0) for i in range(count)]
    return [FetchLoop(queue_name, share, i) for i, share in enumerate(shares)]


@dataclass(eq=False)
class QueueLoops:
    """The live workers of one queue's loops in this process. A worker joins when it starts
    (SteadyWorker makes a fresh one after each outage) and leaves when it ends."""

    queue: str
    workers: set[Worker] = field(default_factory=set)

    def join(self, worker: Worker) -> None:
        self.workers.add(worker)

    def leave(self, worker: Worker) -> None:
        self.workers.discard(worker)

    def wake(self, starter: Worker) -> None:
        """A loop started a job: the queue has work, so its idle siblings fetch too. Setting
        the event a worker waits on while its queue is dry (Procrastinate 3.10 wakes its loop
        the same way on a LISTEN notification); a busy sibling fetches on regardless."""
        for worker in self.workers:
            if worker is not starter:
                worker._new_job_event.set()

    async def middleware(
        self, call_next: Callable[[], Awaitable[Any]], context: JobContext, worker: Worker
    ) -> Any:
        """Procrastinate worker middleware: each job started wakes the queue's other loops."""
        self.wake(worker)
        return await call_next()
