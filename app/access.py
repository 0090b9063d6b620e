"""Access tracking: `last_accessed_at` is set after a read, off the request's path."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

import sqlalchemy as sa

from app.db import Database

log = logging.getLogger(__name__)

_background: set[asyncio.Task[None]] = set()


def touch_in_background(db: Database, table: Any, row_id: str) -> None:
    """Set `last_accessed_at` after the response, never touching `updated_at` or failing a read."""
    task = asyncio.create_task(_touch(db, table, row_id))
    _background.add(task)
    task.add_done_callback(_background.discard)


async def _touch(db: Database, table: Any, row_id: str) -> None:
    values: dict[str, Any] = {"last_accessed_at": sa.func.now()}
    if "updated_at" in table.__table__.c:
        values["updated_at"] = table.updated_at  # keep it: stall detection reads updated_at
    try:
        async with db.transaction() as session:
            await session.exec(sa.update(table).where(table.id == row_id).values(**values))
    except Exception:  # access tracking must never break a read
        log.warning("could not record access to %s %s", table.__tablename__, row_id, exc_info=True)


async def wait_for_background_touches() -> None:
    """Tests and shutdown: let pending access updates finish."""
    if _background:
        await asyncio.gather(*_background, return_exceptions=True)
