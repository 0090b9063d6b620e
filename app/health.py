"""Probes for orchestrators: `/healthz` (the process answers) and `/readyz` (it can serve).

Ready means: the database answers within `READY_TIMEOUT_SECONDS`, its schema is at the
migrations' head (a server on an older schema would fail queries), and the LISTEN connection
that feeds subscriptions is up, or idle because nobody subscribes. Each check is reported by
name, so a 503 says which one failed.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import sqlalchemy as sa
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from app import migrations
from app.db import Database, describe
from app.pubsub import Broker

READY_TIMEOUT_SECONDS = 2.0
OK = "ok"


@dataclass(frozen=True)
class Readiness:
    checks: dict[str, str]

    @property
    def ready(self) -> bool:
        return all(value in (OK, "idle") for value in self.checks.values())


async def readiness(db: Database, broker: Broker | None, heads: frozenset[str]) -> Readiness:
    """`broker` None: a process without subscriptions (a worker) has no LISTEN to check."""
    checks = {"database": OK, "migrations": OK}
    if broker is not None:
        checks["listen"] = broker.state
    try:
        async with asyncio.timeout(READY_TIMEOUT_SECONDS):
            current = await _schema_revisions(db)
    except (TimeoutError, sa.exc.DBAPIError, OSError) as exc:
        checks["database"] = f"unreachable: {describe(exc)}"
        checks["migrations"] = "unknown"
        return Readiness(checks)
    if current != heads:
        checks["migrations"] = (
            f"schema at {', '.join(sorted(current)) or 'nothing'}, code expects "
            f"{', '.join(sorted(heads))}: run `valuerank migrate`"
        )
    return Readiness(checks)


async def _schema_revisions(db: Database) -> frozenset[str]:
    async with db.session() as session:
        connection = await session.connection()
        try:
            rows = await connection.execute(sa.text("SELECT version_num FROM alembic_version"))
        except sa.exc.ProgrammingError:  # no alembic_version table: never migrated
            return frozenset()
        return frozenset(str(row[0]) for row in rows)


async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


async def readyz(request: Request) -> Response:
    runtime = request.app.state.runtime
    heads = migrations.heads()
    state = await readiness(runtime.db, runtime.live.broker, heads)
    body = {"status": "ready" if state.ready else "not ready", "checks": state.checks}
    return JSONResponse(body, status_code=200 if state.ready else 503)
