"""Live run progress: what a subscriber sees, read from the database, and the per-run feeds
that re-read it when a notification says it changed.

Every change to a run sends `pg_notify` in its own transaction (`pubsub.publish`); the
process's one `Broker` hears it. Each watched run has one `RunFeed` in the process, shared by
all of its subscribers: a burst of changes costs one read per `COALESCE_SECONDS`, not one per
change per subscriber, and every subscriber holds only the newest snapshot it has not yet
taken (`Mailbox`), so a slow client skips states instead of queueing them. The read after
the last change is always delivered, so the final state always arrives.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from app import pubsub
from app.db import Database
from app.errors import NotFound
from app.runs import service, spend
from app.runs.models import TERMINAL_STATUSES
from app.runs.progress import Progress, seconds_remaining, shows_summaries
from app.transcripts import service as transcripts

log = logging.getLogger(__name__)

# (session, the run's models) → per-slot cost by model, from the pre-run estimate.
PreRunCosts = Callable[[AsyncSession, list[str]], Awaitable[dict[str, float]]]

# A feed reads at most once per this many seconds; changes in between fold into one event.
COALESCE_SECONDS = 0.25
RETRY_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class SummaryCounts:
    total: int
    summarized: int
    failed: int


@dataclass(frozen=True, slots=True)
class Snapshot:
    """A run's progress and spend at one moment (`sequence` orders reads within a feed)."""

    run_id: str
    status: str
    deleted: bool
    progress: Progress
    summaries: SummaryCounts | None
    cost_so_far: float
    estimated_total_cost: float | None
    estimated_seconds_remaining: int | None
    transcript_id: str | None
    at: datetime
    sequence: int

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL_STATUSES


class Mailbox:
    """The newest snapshot one subscriber has not taken yet; older ones are superseded."""

    def __init__(self) -> None:
        self._latest: Snapshot | None = None
        self._taken = -1
        self._arrived = asyncio.Event()

    def offer(self, snapshot: Snapshot) -> None:
        newest = self._latest.sequence if self._latest is not None else self._taken
        if snapshot.sequence > newest:
            self._latest = snapshot
            self._arrived.set()

    async def take(self) -> Snapshot:
        while self._latest is None:
            self._arrived.clear()
            await self._arrived.wait()
        snapshot, self._latest = self._latest, None
        self._taken = snapshot.sequence
        return snapshot


@dataclass(slots=True)
class RunFeed:
    """One watched run in this process: re-reads it after notifications, for every mailbox."""

    db: Database
    run_id: str
    mailboxes: set[Mailbox] = field(default_factory=set)
    _sequence: itertools.count[int] = field(default_factory=itertools.count)
    _changed: asyncio.Event = field(default_factory=asyncio.Event)
    _transcript_id: str | None = None
    _fallback_costs: dict[str, float] | None = None
    _task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._follow(), name=f"run-feed-{self.run_id}")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    def on_message(self, message: pubsub.Message | None) -> None:
        if message is not None and message.get("transcriptId"):
            self._transcript_id = str(message["transcriptId"])
        self._changed.set()

    async def read(self) -> Snapshot | None:
        """The run as it is now (None when no such run exists, deleted or not)."""
        sequence = next(self._sequence)  # taken before reading: a later read sees more
        async with self.db.session() as session:
            return await read_snapshot(
                session, self.run_id, sequence, self._transcript_id, self._pre_run_costs
            )

    async def _pre_run_costs(self, session: AsyncSession, models: list[str]) -> dict[str, float]:
        """Per-slot cost by model from the pre-run estimate, worked out once per feed."""
        if self._fallback_costs is None:
            found = await spend.estimate(session, scenario_count=1, models=models, samples=1)
            self._fallback_costs = {m.model_id: m.total_cost for m in found.per_model}
        return self._fallback_costs

    async def _follow(self) -> None:
        while True:
            await self._changed.wait()
            self._changed.clear()
            try:
                snapshot = await self.read()
            except Exception:
                log.exception("reading progress of run %s failed; retrying", self.run_id)
                self._changed.set()
                await asyncio.sleep(RETRY_SECONDS)
                continue
            if snapshot is not None:
                for mailbox in list(self.mailboxes):
                    mailbox.offer(snapshot)
            await asyncio.sleep(COALESCE_SECONDS)


@dataclass(frozen=True, slots=True)
class RunChange:
    run_id: str
    kind: str  # CREATED | STATUS_CHANGED | DELETED
    status: str | None
    at: datetime


CHANGE_KINDS = {"created": "CREATED", "status": "STATUS_CHANGED", "deleted": "DELETED"}


class ChangeBox:
    """Run changes one `runsChanged` subscriber has not taken yet, the latest per run."""

    def __init__(self) -> None:
        self._pending: dict[str, RunChange] = {}
        self._arrived = asyncio.Event()
        self.resync_since: datetime | None = None

    def resync(self, since: datetime) -> None:
        """Changes since `since` may have been missed: read them before taking the next."""
        self.resync_since = min(since, self.resync_since or since)
        self._arrived.set()

    def on_message(self, message: pubsub.Message) -> None:
        kind = CHANGE_KINDS.get(str(message.get("event")))
        if kind is not None:
            status = message.get("status")
            change = RunChange(str(message["runId"]), kind, status, datetime.now(UTC))
            self.put(change)

    def put(self, change: RunChange) -> None:
        earlier = self._pending.pop(change.run_id, None)  # to the end: changes stay in order
        if earlier is not None and earlier.kind == "CREATED" and change.kind == "STATUS_CHANGED":
            change = replace(change, kind="CREATED")  # still news that the run exists
        self._pending[change.run_id] = change
        self._arrived.set()

    async def wait(self) -> None:
        while not self._pending and self.resync_since is None:
            self._arrived.clear()
            await self._arrived.wait()

    def take(self) -> RunChange | None:
        if not self._pending:
            return None
        run_id = next(iter(self._pending))
        return self._pending.pop(run_id)


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
        async with self._watch(run_id) as (feed, mailbox):
            await self.broker.ready()  # LISTEN first: nothing committed after the read is missed
            first = await feed.read()
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


async def read_snapshot(
    session: AsyncSession,
    run_id: str,
    sequence: int,
    transcript_id: str | None,
    pre_run_costs: PreRunCosts,
) -> Snapshot | None:
    run = (await service.runs_by_id(session, [run_id])).get(run_id)
    if run is None:
        return None
    progress = (await service.progress_by_run(session, [(run.id, run.total_slots)]))[run.id]
    stats = (await transcripts.stats_by_run(session, [run.id]))[run.id]
    summaries = None
    if shows_summaries(stats.count, run.status):
        summaries = SummaryCounts(stats.count, stats.summarized, stats.summary_failed)
    cost = sum(m.cost for m in stats.by_model.values())
    terminal = run.status in TERMINAL_STATUSES
    models: list[str] = list(run.config.get("models") or [])
    fallback_costs: dict[str, float] = {}
    if not terminal and any(not stats.by_model.get(m) for m in models):
        fallback_costs = await pre_run_costs(session, models)
    return Snapshot(
        run_id=run.id,
        status=run.status,
        deleted=run.deleted_at is not None,
        progress=progress,
        summaries=summaries,
        cost_so_far=cost,
        estimated_total_cost=cost
        if terminal
        else spend.estimated_total(models, run.total_slots, progress, stats, fallback_costs),
        estimated_seconds_remaining=seconds_remaining(
            run.status,
            progress.total,
            progress.completed + progress.failed,
            _elapsed(run.started_at),
        ),
        transcript_id=transcript_id,
        at=datetime.now(UTC),
        sequence=sequence,
    )


def _elapsed(started_at: datetime | None) -> float | None:
    return None if started_at is None else (datetime.now(UTC) - started_at).total_seconds()
