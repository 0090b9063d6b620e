"""One watched run in this process (`RunFeed`), re-read after its notifications, and each
subscriber's `Mailbox`: the newest snapshot it has not taken yet."""

from __future__ import annotations

import asyncio
import itertools
import logging
from dataclasses import dataclass, field

from sqlmodel.ext.asyncio.session import AsyncSession

from app import pubsub
from app.db import Database
from app.runs import spend
from app.runs.live.snapshot import Snapshot, read_snapshot

log = logging.getLogger(__name__)

# A feed reads at most once per this many seconds; changes in between fold into one event.
COALESCE_SECONDS = 0.25
RETRY_SECONDS = 1.0


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
    _latest: Snapshot | None = None
    _first_read: asyncio.Lock = field(default_factory=asyncio.Lock)

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

    async def current(self) -> Snapshot | None:
        """The newest state this feed has read, for a subscriber joining it: read now only if
        the feed has none yet, once for all who join meanwhile (a thousand subscribers joining
        at once would otherwise take a thousand reads and drain the connection pool). Any
        change committed after that read began is heard, so the feed reads and offers it."""
        if self._latest is None:
            async with self._first_read:
                if self._latest is None:
                    read = await self.read()
                    return self._keep(read) if read is not None else None
        return self._latest

    def _keep(self, snapshot: Snapshot) -> Snapshot:
        if self._latest is None or snapshot.sequence > self._latest.sequence:
            self._latest = snapshot
        return snapshot

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
            if snapshot is None:
                self._latest = None  # gone altogether: a joiner reads, and is told NOT_FOUND
            else:
                self._keep(snapshot)
                for mailbox in list(self.mailboxes):
                    mailbox.offer(snapshot)
            await asyncio.sleep(COALESCE_SECONDS)
