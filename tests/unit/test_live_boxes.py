"""What one subscriber holds between events: the newest run state, the latest change per run."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

from app.runs.live.changes import ChangeBox
from app.runs.live.feed import Mailbox
from app.runs.live.snapshot import Snapshot
from app.runs.progress import Progress


def snapshot(sequence: int, status: str = "RUNNING") -> Snapshot:
    return Snapshot(
        run_id="r1",
        status=status,
        deleted=False,
        progress=Progress(total=10),
        summaries=None,
        cost_so_far=0.0,
        estimated_total_cost=None,
        estimated_seconds_remaining=None,
        transcript_id=None,
        at=datetime.now(UTC),
        sequence=sequence,
    )


async def test_a_slow_subscriber_skips_to_the_newest_state() -> None:
    box = Mailbox()
    for sequence in (1, 3, 2):  # a read that started earlier may finish later
        box.offer(snapshot(sequence))
    assert (await box.take()).sequence == 3
    box.offer(snapshot(2))  # older than what was delivered: never goes backwards
    box.offer(snapshot(4, "COMPLETED"))
    assert (await box.take()).status == "COMPLETED"


async def test_take_waits_for_the_next_state() -> None:
    box = Mailbox()
    waiting = asyncio.create_task(box.take())
    await asyncio.sleep(0)
    assert not waiting.done()
    box.offer(snapshot(1))
    assert (await asyncio.wait_for(waiting, 5)).sequence == 1


async def test_changes_keep_the_latest_per_run_in_order() -> None:
    box = ChangeBox()
    box.on_message({"runId": "a", "event": "created", "status": "PENDING"})
    box.on_message({"runId": "b", "event": "created", "status": "PENDING"})
    box.on_message({"runId": "a", "event": "slot", "outcome": "SUCCESS"})  # not a run change
    box.on_message({"runId": "a", "event": "status", "status": "RUNNING"})
    box.on_message({"runId": "c", "event": "status", "status": "PAUSED"})
    box.on_message({"runId": "c", "event": "deleted", "status": "CANCELLED"})
    await asyncio.wait_for(box.wait(), 5)
    taken = [box.take(), box.take(), box.take(), box.take()]
    assert [(c.run_id, c.kind, c.status) if c else None for c in taken] == [
        ("b", "CREATED", "PENDING"),
        ("a", "CREATED", "RUNNING"),  # folded: created, and running by now
        ("c", "DELETED", "CANCELLED"),
        None,
    ]
