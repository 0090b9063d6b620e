"""The Starlette application: GraphQL at /graphql, the runs console at /, and the lifespan that
prepares the database.

Lifespan order: database URL (embedded PostgreSQL when none is configured) → migrations →
demo data → the local admin key → engine. Shutdown reverses it.
"""

from __future__ import annotations

import asyncio
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any

from starlette.applications import Starlette
from starlette.middleware import Middleware
from starlette.middleware.cors import CORSMiddleware
from starlette.requests import Request
from starlette.routing import Route, WebSocketRoute
from starlette.types import Receive, Scope, Send
from starlette.websockets import WebSocket
from strawberry.asgi import GraphQL
from strawberry.exceptions import ConnectionRejectionError
from strawberry.types.unset import UNSET, UnsetType

from app import access, auth, health, migrations, prometheus, seed
from app.backoff import Backoff
from app.config import Settings, get_settings
from app.db import Database
from app.embedded import EmbeddedPostgres
from app.export import http as export
from app.graphql import ws
from app.graphql.context import Context
from app.graphql.http import GraphQLHttp
from app.graphql.schema import build_schema
from app.request_id import RequestIdMiddleware, request_id_of
from app.runs.live.service import LiveRuns
from app.supervisor import Supervisor, worker_command
from app.web import pages

log = logging.getLogger(__name__)


@dataclass
class Runtime:
    """What the lifespan prepared, kept on `app.state.runtime`."""

    database_url: str
    db: Database
    admin_key: str | None
    embedded: EmbeddedPostgres | None
    live: LiveRuns
    access: access.AccessTracker
    workers: Supervisor | None = None


class GraphQLApp(GraphQL[Context, None]):
    """/graphql: HTTP requests go through this server's own boundary (app/graphql/http.py),
    a browser's GET gets the GraphiQL page (app/web/, every asset local); Strawberry serves the
    graphql-transport-ws websocket (whose `subscribe` payloads get the same checks,
    app/graphql/ws.py)."""

    graphql_transport_ws_handler_class = ws.TransportWsHandler

    def __init__(self, settings: Settings, **kwargs: Any) -> None:
        schema = build_schema(
            max_depth=settings.max_query_depth,
            max_tokens=settings.max_query_tokens,
            max_cost=settings.max_query_cost,
        )
        super().__init__(
            schema,
            allowed_origins=settings.allowed_origins,
            max_subscriptions_per_connection=settings.max_subscriptions_per_connection,
            **kwargs,
        )
        self.settings = settings
        self.http = GraphQLHttp(schema, max_request_bytes=settings.max_request_bytes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            if _wants_graphiql(scope):
                response = pages.graphiql()
            else:
                response = await self.http.handle(Request(scope, receive), self.get_context)
            await response(scope, receive, send)
            return
        await super().__call__(scope, receive, send)

    async def get_context(self, request: Request | WebSocket, response: Any = None) -> Context:
        runtime: Runtime = request.app.state.runtime
        context = Context(
            db=runtime.db,
            settings=self.settings,
            viewer=None,
            request=request,
            response=response,
            shared_session=not isinstance(request, WebSocket),
            live=runtime.live,
            access=runtime.access,
            request_id=request_id_of(request.scope),
        )
        context.viewer = await _viewer(context, request.headers.get("authorization"))
        return context

    async def on_ws_connect(self, context: Context) -> UnsetType | dict[str, object] | None:
        """graphql-transport-ws `connection_init`: `{"Authorization": "Bearer <key>"}`, the
        same key rules as HTTP (a browser cannot set headers on a websocket handshake)."""
        params = context.connection_params or {}
        supplied = params.get("Authorization", params.get("authorization"))
        if supplied is not None:
            context.viewer = await _viewer(context, supplied if isinstance(supplied, str) else "")
            if context.viewer is None:
                context.ws_refusal = ws.INVALID_KEY
                raise ConnectionRejectionError({"message": ws.INVALID_KEY})
        if context.viewer is None:
            context.ws_refusal = ws.NO_KEY
            raise ConnectionRejectionError({"message": ws.NO_KEY})
        acknowledged: UnsetType = UNSET  # a plain `connection_ack`, no payload
        return acknowledged


def _wants_graphiql(scope: Scope) -> bool:
    """A browser opening /graphql: a GET with no `query` that accepts HTML."""
    if scope["method"] != "GET" or b"query=" in scope.get("query_string", b""):
        return False
    accept = dict(scope["headers"]).get(b"accept", b"")
    return b"text/html" in accept


async def _viewer(context: Context, authorization: str | None) -> auth.Viewer | None:
    token = auth.bearer_token(authorization)
    if token is None:
        return None
    async with context.reader.use() as session:
        return await auth.authenticate(session, token)


async def prepare(settings: Settings, database_url: str | None = None) -> Runtime:
    """Resolve the database (starting an embedded one if needed), migrate, seed."""
    embedded = None
    url = database_url or settings.database_url
    if url is None:
        embedded = EmbeddedPostgres(settings.data_dir)
        url = await asyncio.to_thread(embedded.start)
        log.info("using the embedded PostgreSQL in %s", embedded.pgdata)
    if settings.auto_migrate:
        await asyncio.to_thread(migrations.upgrade, url)
    db = Database(url)
    admin_key = None
    if settings.seed_demo:
        async with db.transaction() as session:
            await seed.load_demo(session)
    if settings.local_admin_key:
        admin_key = await seed.ensure_local_admin_key(db, settings.admin_key_file)
    live = LiveRuns.for_database(db, url)
    return Runtime(
        database_url=url,
        db=db,
        admin_key=admin_key,
        embedded=embedded,
        live=live,
        access=access.AccessTracker(db),
    )


async def start_workers(database_url: str, settings: Settings) -> Supervisor:
    """`python -m workers` as a supervised child process, on the same database (the app never
    imports `workers/`; a child also keeps provider calls off the server's event loop)."""
    supervisor = Supervisor(
        worker_command(),
        {**os.environ, "DATABASE_URL": database_url},
        backoff=Backoff(settings.worker_restart_seconds, settings.worker_restart_max_seconds),
        stable_seconds=settings.worker_stable_seconds,
    )
    await supervisor.start()
    return supervisor


async def stop_workers(supervisor: Supervisor) -> None:
    await supervisor.stop()


async def shutdown(runtime: Runtime) -> None:
    if runtime.workers is not None:
        await stop_workers(runtime.workers)
    await runtime.live.close()
    await runtime.access.drain()
    await runtime.db.dispose()
    if runtime.embedded is not None:
        await asyncio.to_thread(runtime.embedded.stop)


def create_app(settings: Settings | None = None, *, database_url: str | None = None) -> Starlette:
    settings = settings or get_settings()

    @asynccontextmanager
    async def lifespan(app: Starlette) -> AsyncIterator[None]:
        app.state.runtime = await prepare(settings, database_url)
        if settings.run_workers:
            app.state.runtime.workers = await start_workers(
                app.state.runtime.database_url, settings
            )
        try:
            yield
        finally:
            await shutdown(app.state.runtime)

    graphql = GraphQLApp(settings, graphql_ide=None)
    app = Starlette(
        routes=[
            Route("/graphql", graphql),  # every method: the boundary answers the others 405
            WebSocketRoute("/graphql", graphql),
            Route("/healthz", health.healthz),
            Route("/readyz", health.readyz),
            Route("/health", health.healthz),  # the earlier name, kept for existing probes
            Route("/metrics", prometheus.metrics),
            *export.routes(),
            *pages.routes(),  # the runs console at / and the pages' files under /static
        ],
        lifespan=lifespan,
        middleware=[
            Middleware(prometheus.HttpMetricsMiddleware),
            Middleware(RequestIdMiddleware),
            # Browsers on another origin (a dashboard) may call the API with a key; the same
            # ALLOWED_ORIGINS as the websocket's. Credentials are a header, never cookies.
            Middleware(
                CORSMiddleware,
                allow_origins=settings.allowed_origins,
                allow_methods=["GET", "POST"],
                allow_headers=["Authorization", "Content-Type", "X-Request-ID"],
                expose_headers=["X-Request-ID"],
                max_age=600,
            ),
        ],
    )
    return app
