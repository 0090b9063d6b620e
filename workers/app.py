"""The Procrastinate app the workers run: its connector and its tasks."""

from __future__ import annotations

from typing import Any

import procrastinate
import psycopg
import psycopg_pool

from app.config import Settings
from app.db import libpq_url
from workers import maintenance, probe, summarize


def build_app(database_url: str, settings: Settings, *, pool_size: int = 20) -> procrastinate.App:
    app = procrastinate.App(
        connector=procrastinate.PsycopgConnector(
            conninfo=libpq_url(database_url),
            min_size=1,
            max_size=pool_size,
            pool_factory=_pool_checked_locally,
        )
    )
    probe.register(app)
    summarize.register(app)
    maintenance.register(app, cron=settings.recovery_cron)
    return app


def _pool_checked_locally(**options: Any) -> psycopg_pool.AsyncConnectionPool:
    """Procrastinate's pool with two round trips less per statement (issue 14: a job's fetch
    and finish took six, counted with pg_stat_statements):

    - No check of every connection taken from it (a `SELECT 1`). A connection the server
      dropped fails its next statement instead; the worker then restarts once the database
      answers (workers/steady.py), and the pool discards a connection that failed.
    - Autocommit connections: each of Procrastinate's statements is one function call, so the
      `BEGIN` and `COMMIT` around it bought nothing (an explicit `transaction()` still opens
      one)."""
    return psycopg_pool.AsyncConnectionPool(
        **{**options, "check": _usable, "configure": _autocommit}
    )


async def _autocommit(connection: psycopg.AsyncConnection[Any]) -> None:
    await connection.set_autocommit(True)


async def _usable(connection: psycopg.AsyncConnection[Any]) -> None:
    """What the client already knows of the connection, without asking the server."""
    if connection.closed or connection.broken:
        raise psycopg.OperationalError("the pooled connection is closed")
