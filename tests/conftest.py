"""Test harness: a real PostgreSQL, a template database migrated once, a fresh clone per test.

Server: TEST_DATABASE_URL, else DATABASE_URL, else an embedded PostgreSQL started for the session.
"""

from __future__ import annotations

import os
import secrets
import tempfile
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine
from starlette.applications import Starlette

from app import migrations
from app.config import Settings
from app.db import Database, libpq_url
from app.main import create_app
from tests.factories import create_key


def _with_database(url: str, name: str) -> str:
    return make_url(url).set(database=name).render_as_string(hide_password=False)


def _admin(url: str, sql: str) -> None:
    with psycopg.connect(libpq_url(url), autocommit=True) as conn:
        conn.execute(sql)


@pytest.fixture(scope="session")
def server_url() -> Iterator[str]:
    url = os.environ.get("TEST_DATABASE_URL") or os.environ.get("DATABASE_URL")
    if url:
        yield url
        return
    from app.embedded import EmbeddedPostgres

    embedded = EmbeddedPostgres(Path(tempfile.mkdtemp(prefix="valuerank-test-")))
    try:
        yield embedded.start()
    finally:
        embedded.stop()


@pytest.fixture(scope="session")
def template_url(server_url: str) -> Iterator[str]:
    name = f"vrtest_tpl_{secrets.token_hex(4)}"
    _admin(server_url, f'CREATE DATABASE "{name}"')
    url = _with_database(server_url, name)
    try:
        migrations.upgrade(url)
        yield url
    finally:
        _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
def database_url(server_url: str, template_url: str) -> Iterator[str]:
    """A migrated, empty database of this test's own."""
    name = f"vrtest_{secrets.token_hex(6)}"
    template = make_url(template_url).database
    _admin(server_url, f'CREATE DATABASE "{name}" TEMPLATE "{template}"')
    try:
        yield _with_database(server_url, name)
    finally:
        _admin(server_url, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture
async def db(database_url: str) -> AsyncIterator[Database]:
    database = Database(database_url, pool_size=5)
    try:
        yield database
    finally:
        await database.dispose()


def test_settings(**overrides: Any) -> Settings:
    values: dict[str, Any] = {
        "seed_demo": False,
        "local_admin_key": False,
        "auto_migrate": False,
        "database_url": None,
        "run_workers": False,
    }
    values.update(overrides)
    return Settings(**values)


@pytest.fixture
async def app(database_url: str) -> AsyncIterator[Starlette]:
    """The application with its lifespan running (demo data loaded), on this test's database."""
    application = create_app(test_settings(seed_demo=True), database_url=database_url)
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def app_client(app: Starlette) -> AsyncIterator[httpx.AsyncClient]:
    """An httpx client speaking HTTP to the app in process."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
        yield client


class StatementCounter:
    """Counts the SQL statements an engine sends (the N+1 guard)."""

    def __init__(self, engine: AsyncEngine) -> None:
        self.count = 0
        self._engine = engine.sync_engine
        sa.event.listen(self._engine, "before_cursor_execute", self._seen)

    def _seen(self, *args: Any) -> None:
        self.count += 1

    def close(self) -> None:
        sa.event.remove(self._engine, "before_cursor_execute", self._seen)


@pytest.fixture
def statements(app: Starlette) -> Iterator[StatementCounter]:
    counter = StatementCounter(app.state.runtime.db.engine)
    yield counter
    counter.close()


@pytest.fixture
async def admin_key(db: Database) -> str:
    return await create_key(db, "ADMIN")


@pytest.fixture
async def viewer_key(db: Database) -> str:
    return await create_key(db, "VIEWER")
