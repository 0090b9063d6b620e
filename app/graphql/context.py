"""The per-request GraphQL context: database, caller, loaders, request id."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeAlias

import strawberry
from sqlmodel.ext.asyncio.session import AsyncSession

from app.access import AccessTracker
from app.auth import Viewer
from app.config import Settings
from app.db import Database
from app.graphql.loaders import Loaders
from app.request_id import new_request_id

if TYPE_CHECKING:
    from app.runs.live.service import LiveRuns


class RequestSession:
    """The database session a request's resolvers and loaders share, one at a time.

    A request's loaders fire concurrently; giving each batch its own pooled connection costs
    a checkout, a liveness ping and a rollback per batch, more than the query itself. One
    session per request, handed out under a lock, costs those once; it reads in autocommit
    (`Database.new_reader`), so a request has no BEGIN or ROLLBACK either. A websocket connection
    lives for hours, so there (`shared=False`) each use gets its own short session instead.

    Never await a loader while holding `use()`: the loader needs the same lock.
    """

    def __init__(self, db: Database, *, shared: bool = True) -> None:
        self._db = db
        self._shared = shared
        self._session: AsyncSession | None = None
        self._lock = asyncio.Lock()

    @asynccontextmanager
    async def use(self) -> AsyncIterator[AsyncSession]:
        if not self._shared:
            async with self._db.session() as session:
                yield session
            return
        async with self._lock:
            if self._session is None:
                self._session = self._db.new_reader()
            yield self._session

    async def close(self) -> None:
        """Close the shared session once no resolver is using it. graphql-core may return a
        result while a sibling field, cut off by an error, still runs: that field waits for
        the lock here rather than losing its connection mid-query, and any later use gets a
        short session of its own."""
        async with self._lock:
            self._shared = False
            session, self._session = self._session, None
            if session is not None:
                await session.close()


@dataclass
class Context:
    db: Database
    settings: Settings
    viewer: Viewer | None
    request: Any = None
    response: Any = None
    request_id: str = field(default_factory=new_request_id)
    shared_session: bool = True
    live: LiveRuns | None = None
    # The process's access tracker (one per server, from the lifespan); a context built
    # without one tracks on its own.
    access: AccessTracker | None = None
    # The graphql-transport-ws `connection_init` payload (set by Strawberry on websockets).
    connection_params: dict[str, Any] | None = None
    # Why `connection_init` was refused, for the close frame's reason (app/graphql/ws.py).
    ws_refusal: str | None = None
    reader: RequestSession = field(init=False)
    loaders: Loaders = field(init=False)

    def __post_init__(self) -> None:
        self.reader = RequestSession(self.db, shared=self.shared_session)
        # A websocket's context lasts as long as the connection: caching there would serve
        # one subscription event's data to the next, so loaders only batch.
        self.loaders = Loaders(self.reader, cache=self.shared_session)
        if self.access is None:
            self.access = AccessTracker(self.db)

    def touch(self, table: Any, row_id: str) -> None:
        """Record a read of the row (`last_accessed_at`), after the response."""
        assert self.access is not None
        self.access.touch(table, row_id)

    def require_live(self) -> LiveRuns:
        if self.live is None:
            raise RuntimeError("live progress is not available in this context")
        return self.live

    async def close(self) -> None:
        await self.reader.close()


Info: TypeAlias = strawberry.Info[Context, None]
