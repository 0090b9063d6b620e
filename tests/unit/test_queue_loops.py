"""A queue's fetch loops: only the first polls and listens; a job started by any loop wakes
the others (workers/loops.py), through the event Procrastinate 3.10's worker waits on while
its queue is dry."""

from __future__ import annotations

from typing import Any

import procrastinate
from procrastinate.worker import Worker

from workers.loops import SIBLING_POLL_SECONDS, QueueLoops, fetch_loops


def workers(count: int) -> list[Worker]:
    app = procrastinate.App(connector=procrastinate.PsycopgConnector(conninfo=""))
    return [Worker(app=app, queues=["probe_simulated"], concurrency=16) for _ in range(count)]


def test_only_the_first_loop_listens_and_polls_often() -> None:
    loops = fetch_loops("probe_simulated", 64)
    assert [loop.leads for loop in loops] == [True, False, False, False]
    assert [loop.poll_seconds(0.5) for loop in loops] == [0.5] + [SIBLING_POLL_SECONDS] * 3
    # A poll interval set longer than the safety net is kept.
    assert loops[1].poll_seconds(60.0) == 60.0


async def test_a_started_job_wakes_the_other_loops_of_its_queue() -> None:
    first, second, third = workers(3)
    group = QueueLoops("probe_simulated")
    for worker in (first, second, third):
        group.join(worker)
    group.leave(third)

    async def job() -> str:
        return "done"

    context: Any = None  # the middleware passes it on untouched
    assert await group.middleware(job, context, first) == "done"
    assert second._new_job_event.is_set()
    assert not first._new_job_event.is_set()  # it is fetching already
    assert not third._new_job_event.is_set()  # it left (a worker stopped by an outage)
