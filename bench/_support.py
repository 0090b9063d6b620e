"""Shared benchmark plumbing: a fresh migrated database, an in-process app and a timer."""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
from sqlalchemy.engine import make_url
from starlette.applications import Starlette

from app import migrations
from app.config import Settings
from app.db import Database, libpq_url
from app.main import create_app


@contextlib.contextmanager
def fresh_database() -> Iterator[str]:
    """BENCH_DATABASE_URL / DATABASE_URL's server, else the embedded one in .data/bench."""
    server = os.environ.get("BENCH_DATABASE_URL") or os.environ.get("DATABASE_URL")
    embedded = None
    if server is None:
        from app.embedded import EmbeddedPostgres

        embedded = EmbeddedPostgres(Path(".data/bench"))
        server = embedded.start()
    name = f"vrbench_{secrets.token_hex(4)}"
    with psycopg.connect(libpq_url(server), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = make_url(server).set(database=name).render_as_string(hide_password=False)
    try:
        migrations.upgrade(url)
        yield url
    finally:
        with psycopg.connect(libpq_url(server), autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if embedded is not None:
            embedded.stop()


@contextlib.asynccontextmanager
async def served(url: str) -> AsyncIterator[tuple[Starlette, httpx.AsyncClient, str]]:
    """The app on `url` (demo data loaded) with an httpx client and an admin key."""
    from app import auth

    settings = Settings(
        seed_demo=True, local_admin_key=False, auto_migrate=False, run_workers=False
    )
    app = create_app(settings, database_url=url)
    async with app.router.lifespan_context(app):
        db: Database = app.state.runtime.db
        async with db.transaction() as session:
            _, key = await auth.create_api_key(session, role="ADMIN", name="bench")
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://bench", timeout=600
        ) as client:
            yield app, client, key


async def gql(client: httpx.AsyncClient, key: str, query: str, variables: dict[str, Any]) -> Any:
    response = await client.post(
        "/graphql",
        json={"query": query, "variables": variables},
        headers={"Authorization": f"Bearer {key}"},
    )
    body = response.json()
    if body.get("errors"):
        raise RuntimeError(body["errors"])
    return body["data"]


class Timer:
    def __enter__(self) -> Timer:
        self.start = time.perf_counter()
        return self

    def __exit__(self, *exc: object) -> None:
        self.seconds = time.perf_counter() - self.start


def report(name: str, ours: float, limit: float, unit: str, target: str, extra: str = "") -> None:
    ratio = ours / limit if limit else float("inf")
    line = f"{name}: {ours:.4g} {unit} vs limit {limit:.4g} {unit} = {ratio:.2f}x (target {target})"
    print(line + (f"; {extra}" if extra else ""), flush=True)
