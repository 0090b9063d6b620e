"""The process's live view of runs (`LiveRuns`): what a subscriber sees, read from the
database, through per-run feeds that re-read it when a notification says it changed.

Every change to a run sends `pg_notify` in its own transaction (`pubsub.publish`); the
process's one `Broker` hears it. Each watched run has one `RunFeed` in the process, shared by
all of its subscribers: a burst of changes costs one read per `COALESCE_SECONDS`, not one per
change per subscriber, and every subscriber holds only the newest snapshot it has not yet
taken (`Mailbox`), so a slow client skips states instead of queueing them. The read after
the last change is always delivered, so the final state always arrives.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable
from contextlib import aclosing, asynccontextmanager
from datetime import UTC, datetime

from app import prometheus, pubsub
from app.db import Database
from app.errors import NotFound
from app.runs import service
from app.runs.live.changes import ChangeBox, RunChange
from app.runs.live.feed import Mailbox, RunFeed
from app.runs.live.snapshot import Snapshot


class LiveRuns:
    """The process's live view of runs: feeds per watched run, fed by one broker."""

    def __init__(self, db: Database, broker: pubsub.Broker) -> None:
        self.db = db
        self.broker = broker
        self._feeds: dict[str, tuple[RunFeed, Callable[[], None]]] = {}

    @classmethod
    def for_database(cls, db: Database, url: str) -> LiveRuns:
        return cls(db, pubsub.Broker(url, pubsub.RUN_EVENTS))

    async def close(self) -> None:
        for feed, _ in list(self._feeds.values()):
            await feed.stop()
        self._feeds.clear()
        await self.broker.close()

    @asynccontextmanager
    async def _watch(self, run_id: str) -> AsyncIterator[tuple[RunFeed, Mailbox]]:
        if run_id not in self._feeds:
            feed = RunFeed(self.db, run_id)
            unsubscribe = self.broker.subscribe(run_id, feed.on_message)
            feed.start()
            self._feeds[run_id] = (feed, unsubscribe)
        feed = self._feeds[run_id][0]
        mailbox = Mailbox()
        feed.mailboxes.add(mailbox)
        try:
            yield feed, mailbox
        finally:
            feed.mailboxes.discard(mailbox)
            if not feed.mailboxes and self._feeds.get(run_id, (None,))[0] is feed:
                _, unsubscribe = self._feeds.pop(run_id)
                unsubscribe()
                await feed.stop()

    async def progress(self, run_id: str) -> AsyncIterator[Snapshot]:
        """The run's state now, then after each change, ending with its terminal state."""
        # aclosing: when the subscriber leaves, the inner feed's watch ends now, not at GC.
        with prometheus.subscribed("runProgress"):
            async with aclosing(self._progress(run_id)) as snapshots:
                async for snapshot in snapshots:
                    yield snapshot

    async def _progress(self, run_id: str) -> AsyncGenerator[Snapshot, None]:
        async with self._watch(run_id) as (feed, mailbox):
            await self.broker.ready()  # LISTEN first: nothing committed after the read is missed
            first = await feed.current()
            if first is None or first.deleted:
                raise NotFound.of("Run", run_id)
            mailbox.offer(first)
            while True:
                snapshot = await mailbox.take()
                yield snapshot
                if snapshot.terminal:
                    return

    async def changes(self) -> AsyncIterator[RunChange]:
        """Runs created, changing status or deleted, from now on (the latest per run)."""
        box = ChangeBox()
        subscribed_at = datetime.now(UTC)

        def on_message(message: pubsub.Message | None) -> None:
            if message is None:
                box.resync(max(subscribed_at, self.broker.lost_at or subscribed_at))
            else:
                box.on_message(message)

        unsubscribe = self.broker.subscribe(pubsub.ALL, on_message)
        try:
            await self.broker.ready()
            with prometheus.subscribed("runsChanged"):
                while True:
                    await box.wait()
                    if box.resync_since is not None:
                        since, box.resync_since = box.resync_since, None
                        for missed in await self._changed_since(since):
                            box.put(missed)
                    change = box.take()
                    if change is not None:
                        yield change
        finally:
            unsubscribe()

    async def _changed_since(self, since: datetime) -> list[RunChange]:
        # The broker was deaf from `since` until it listened again: read what moved instead.
        async with self.db.session() as session:
            rows = await service.runs_changed_since(session, since)
        now = datetime.now(UTC)
        changes = []
        for run in rows:
            if run.deleted_at is not None:
                kind = "DELETED"
            elif run.created_at is not None and run.created_at >= since:
                kind = "CREATED"
            else:
                kind = "STATUS_CHANGED"
            changes.append(RunChange(run.id, kind, run.status, now))
        return changes
