"""A worker process's own HTTP port (WORKER_METRICS_PORT): `/metrics` (provider calls,
latency, calls in flight, queue depth by queue), `/healthz` and `/readyz` (the database
answers and its schema is at head), for Prometheus and container orchestrators. Off when the
setting is unset: several workers on one host would otherwise fight over one port."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterator

import uvicorn
from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from app import health, migrations
from app.db import Database, describe, is_transient
from app.prometheus import QUEUE_JOBS
from app.queue.state import queue_depths

log = logging.getLogger(__name__)


def worker_http_app(db: Database) -> Starlette:
    async def metrics(request: Request) -> Response:
        await _refresh_queue_depths(db)
        return Response(generate_latest(), media_type=CONTENT_TYPE_LATEST)

    async def readyz(request: Request) -> Response:
        state = await health.readiness(db, None, migrations.heads())
        body = {"status": "ready" if state.ready else "not ready", "checks": state.checks}
        return JSONResponse(body, status_code=200 if state.ready else 503)

    return Starlette(
        routes=[
            Route("/metrics", metrics),
            Route("/healthz", health.healthz),
            Route("/readyz", readyz),
        ]
    )


async def _refresh_queue_depths(db: Database) -> None:
    """Set the queue gauges from the database; during an outage they keep their last values."""
    try:
        async with asyncio.timeout(health.READY_TIMEOUT_SECONDS), db.session() as session:
            depths = await queue_depths(session)
    except (TimeoutError, OSError) as exc:
        log.info("queue depth not read (%s)", exc)
        return
    except Exception as exc:
        if not is_transient(exc):
            raise
        log.info("queue depth not read (%s)", describe(exc))
        return
    QUEUE_JOBS.clear()
    for (queue, status), count in depths.items():
        QUEUE_JOBS.labels(queue, status).set(count)


class _PortServer(uvicorn.Server):
    """uvicorn without its signal handlers: the worker process owns SIGTERM and SIGINT (and
    uvicorn would re-raise them after its own shutdown)."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


async def serve_http(db: Database, host: str, port: int, stop: asyncio.Event) -> None:
    """Serve the port until `stop` is set."""
    config = uvicorn.Config(
        worker_http_app(db), host=host, port=port, log_config=None, lifespan="off"
    )
    server = _PortServer(config)
    serving = asyncio.create_task(server.serve())
    await stop.wait()
    server.should_exit = True
    await serving
