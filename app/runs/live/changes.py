"""`runsChanged`: runs created, changing status or deleted, the latest per run for each
subscriber (`ChangeBox`)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, replace
from datetime import UTC, datetime

from app import pubsub


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
