"""Access tracking: `last_accessed_at` is set after a read, off the request's path.

It is accurate to `DEBOUNCE_SECONDS`: a row read again within that time in the same process is
not written again, so a dashboard polling one run does not turn every read into a write. The
server holds one `AccessTracker` in its lifespan state (app/main.py), shared by every request.
"""

from __future__ import annotations

import asyncio
import logging
import time
from typing import Any

import sqlalchemy as sa

from app.db import Database

log = logging.getLogger(__name__)

DEBOUNCE_SECONDS = 60.0
_REMEMBERED = 10_000


class AccessTracker:
    """One process's pending access updates and the moment each row was last written."""

    def __init__(self, db: Database) -> None:
        self.db = db
        self._background: set[asyncio.Task[None]] = set()
        self._last_touch: dict[tuple[str, str], float] = {}

    def touch(self, table: Any, row_id: str) -> None:
        """Set `last_accessed_at` after the response, never touching `updated_at` or failing a
        read."""
        key = (table.__tablename__, row_id)
        now = time.monotonic()
        if now - self._last_touch.get(key, -DEBOUNCE_SECONDS) < DEBOUNCE_SECONDS:
            return
        if len(self._last_touch) >= _REMEMBERED:
            self._last_touch.clear()
        self._last_touch[key] = now
        task = asyncio.create_task(_touch(self.db, table, row_id))
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def drain(self) -> None:
        """Tests and shutdown: let pending access updates finish."""
        if self._background:
            await asyncio.gather(*self._background, return_exceptions=True)


async def _touch(db: Database, table: Any, row_id: str) -> None:
    values: dict[str, Any] = {"last_accessed_at": sa.func.now()}
    if "updated_at" in table.__table__.c:
        values["updated_at"] = table.updated_at  # keep it: stall detection reads updated_at
    try:
        async with db.transaction() as session:
            await session.exec(sa.update(table).where(table.id == row_id).values(**values))
    except Exception:  # access tracking must never break a read
        log.warning("could not record access to %s %s", table.__tablename__, row_id, exc_info=True)
