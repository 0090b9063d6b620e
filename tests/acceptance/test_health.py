"""/healthz and /readyz: what an orchestrator asks, answered without a key."""

from __future__ import annotations

import httpx
import sqlalchemy as sa
from starlette.testclient import TestClient

from app import migrations
from app.db import Database
from app.main import create_app
from tests import conftest
from tests.live import connect


async def test_healthz_answers_without_a_key(app_client: httpx.AsyncClient) -> None:
    for path in ("/healthz", "/health"):
        response = await app_client.get(path)
        assert response.status_code == 200 and response.json() == {"status": "ok"}


async def test_readyz_reports_each_check(app_client: httpx.AsyncClient) -> None:
    response = await app_client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "checks": {"database": "ok", "migrations": "ok", "listen": "idle"},
    }


async def test_readyz_is_503_on_a_schema_behind_the_code(
    app_client: httpx.AsyncClient, db: Database
) -> None:
    async with db.transaction() as session:
        connection = await session.connection()
        await connection.execute(sa.text("UPDATE alembic_version SET version_num = 'older'"))
    response = await app_client.get("/readyz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "not ready" and body["checks"]["database"] == "ok"
    message = body["checks"]["migrations"]
    assert "schema at older" in message and "valuerank migrate" in message
    assert all(head in message for head in migrations.heads())


def test_readyz_shows_the_listen_connection_once_someone_subscribes(
    database_url: str, admin_key: str
) -> None:
    app = create_app(conftest.test_settings(seed_demo=True), database_url=database_url)
    with TestClient(app) as client, connect(client, admin_key) as connection:
        operation = connection.subscribe("subscription { runsChanged { runId } }")
        assert operation
        # The subscription waits for LISTEN before it reads; poll the probe until it says so.
        for _ in range(600):
            checks = client.get("/readyz").json()["checks"]
            if checks["listen"] == "ok":
                break
            connection.ws.portal.call(_pause)
        assert client.get("/readyz").json()["checks"]["listen"] == "ok"


async def _pause() -> None:
    import anyio

    await anyio.sleep(0.05)
