"""The event bus: `publish` in the transaction that makes a change, and one LISTEN connection
per server process (`Broker`), fanned out to in-memory subscribers.

A LISTEN per subscriber would cost a Postgres connection each; the broker costs one per
process however many subscribers it serves. Notifications are sent in the transaction that
makes a change, so they arrive only once that change is committed and readable.

When the connection drops (or stops answering the periodic health check), the broker
reconnects with backoff, LISTENs again, and only then calls every handler with `RESYNC`:
whatever changed while it was away is then read from the database, not heard.

    handler(message)            a payload: {"runId": ..., "event": ..., ...}
    handler(RESYNC)             the connection was lost and is back: re-read state
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections import defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

import psycopg
import sqlalchemy as sa
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db import libpq_url
from app.prometheus import LISTEN_RECONNECTS

log = logging.getLogger(__name__)

# Every run event travels on this one channel; subscribers pick theirs by `runId`.
RUN_EVENTS: Final = "vr_run_progress"
ALL: Final = "*"
RESYNC: Final = None
Message = dict[str, Any]
Handler = Callable[[Message | None], None]

HEALTH_SECONDS = 5.0
MAX_BACKOFF_SECONDS = 5.0
CONNECT_TIMEOUT_SECONDS = 5


async def publish(session: AsyncSession, run_id: str, event: str, **fields: Any) -> None:
    """A run event, delivered to listeners when this transaction commits. Ids and counts only
    (NOTIFY's payload limit is 8000 bytes)."""
    await (await session.connection()).execute(
        sa.text("SELECT pg_notify(:channel, :payload)"),
        {"channel": RUN_EVENTS, "payload": payload(run_id, event, **fields)},
    )


def payload(run_id: str, event: str, **fields: Any) -> str:
    """A run event's NOTIFY payload on RUN_EVENTS (for a statement that notifies itself)."""
    return json.dumps({"runId": run_id, "event": event, **fields}, separators=(",", ":"))


def api_key_topic(key_id: str) -> str:
    """The broker key under which an API key's revocation is heard (not a run id)."""
    return f"api-key:{key_id}"


async def publish_key_revoked(session: AsyncSession, key_id: str) -> None:
    """Tell every server process that this key is revoked: its open websockets close. Run
    feeds ignore the event (it is not a run event)."""
    await publish(session, api_key_topic(key_id), "apiKeyRevoked")


class Broker:
    """Routes each notification on `channel` to the handlers of its `runId` and of `ALL`.

    Handlers run on the event loop and must not block: they record what changed and wake a
    task that does the work.
    """

    def __init__(self, url: str, channel: str) -> None:
        self._url = libpq_url(url)
        self._channel = channel
        self._handlers: dict[str, set[Handler]] = defaultdict(set)
        self._ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.connections_made = 0
        # Last moment the connection was known to work, and that moment when it was lost:
        # changes after `lost_at` may have been missed until the next RESYNC.
        self.healthy_at: datetime | None = None
        self.lost_at: datetime | None = None

    def subscribe(self, key: str, handler: Handler) -> Callable[[], None]:
        """Call `handler` for messages about `key` (a run id, or ALL); returns the undo."""
        self._handlers[key].add(handler)
        if self._task is None:
            self._task = asyncio.create_task(self._listen_forever(), name="pubsub-listener")

        def unsubscribe() -> None:
            handlers = self._handlers.get(key)
            if handlers is not None:
                handlers.discard(handler)
                if not handlers:
                    del self._handlers[key]

        return unsubscribe

    @property
    def state(self) -> str:
        """ "idle" (nobody subscribed yet), "ok" (listening) or "reconnecting"."""
        if self._task is None:
            return "idle"
        return "ok" if self._ready.is_set() else "reconnecting"

    async def ready(self) -> None:
        """Wait until LISTEN is in effect: a change committed after this is heard."""
        await self._ready.wait()

    async def close(self) -> None:
        task, self._task = self._task, None
        if task is not None:
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
        self._ready.clear()

    async def _listen_forever(self) -> None:
        backoff = 0.05
        while True:
            try:
                async with await psycopg.AsyncConnection.connect(
                    self._url,
                    autocommit=True,
                    application_name="valuerank-pubsub",
                    # A connect that hangs (a half-open network, a server mid-restart) must
                    # fail and be retried, not hold the listener forever.
                    connect_timeout=CONNECT_TIMEOUT_SECONDS,
                ) as connection:
                    await connection.execute(f'LISTEN "{self._channel}"')
                    self.healthy_at = datetime.now(UTC)
                    self.connections_made += 1
                    self._ready.set()
                    if self.connections_made > 1:
                        LISTEN_RECONNECTS.inc()
                        self._broadcast(RESYNC)
                        self.lost_at = None
                    backoff = 0.05
                    await self._receive(connection)
            except Exception as exc:
                # Not only psycopg's and the socket's errors: any other escaping here would end
                # the listener task silently, and every subscriber would stop hearing changes.
                self._ready.clear()
                if self.healthy_at is not None:
                    self.lost_at = min(self.healthy_at, self.lost_at or self.healthy_at)
                log.warning("LISTEN connection lost (%s); reconnecting in %.2fs", exc, backoff)
                await asyncio.sleep(backoff)
                backoff = min(MAX_BACKOFF_SECONDS, backoff * 2)

    async def _receive(self, connection: psycopg.AsyncConnection[Any]) -> None:
        while True:
            async for notice in connection.notifies(timeout=HEALTH_SECONDS):
                self.healthy_at = datetime.now(UTC)
                self._dispatch(notice.payload)
            # Make sure the connection is still there: a half-open TCP connection raises
            # nothing on its own.
            await connection.execute("SELECT 1")
            self.healthy_at = datetime.now(UTC)

    def _dispatch(self, payload: str) -> None:
        try:
            message = json.loads(payload)
        except ValueError:
            log.warning("ignoring a malformed notification: %.200s", payload)
            return
        if not isinstance(message, dict):
            return
        key = message.get("runId")
        targets = [*self._handlers.get(ALL, ()), *self._handlers.get(str(key), ())]
        for handler in targets:
            _call(handler, message)

    def _broadcast(self, message: Message | None) -> None:
        for handlers in list(self._handlers.values()):
            for handler in list(handlers):
                _call(handler, message)


def _call(handler: Handler, message: Message | None) -> None:
    try:
        handler(message)
    except Exception:  # one broken subscriber must not starve the others
        log.exception("subscriber failed on %s", message)
