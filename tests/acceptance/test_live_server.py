"""Live progress against `valuerank serve` running as a real uvicorn process: a third-party
graphql-transport-ws client (gql's websockets transport), and 200 subscribers on one process."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import anyio
import httpx
import pytest
import sqlalchemy as sa
from gql import Client, gql
from gql.transport.exceptions import TransportConnectionFailed
from gql.transport.websockets import WebsocketsTransport
from websockets.exceptions import ConnectionClosed

from app.db import MAX_OVERFLOW, POOL_SIZE, Database
from tests.live import PROGRESS, START, Socket
from tests.serve import Server, served
from tests.workers import workers

DEMO = "demo-definition-honesty"
SUBSCRIBERS = 200
RUNS = 4
SERVER_CONNECTIONS = """
    SELECT count(*) FILTER (WHERE application_name = 'valuerank-server') AS pooled,
           count(*) FILTER (WHERE application_name = 'valuerank-pubsub') AS listening
    FROM pg_stat_activity WHERE datname = current_database()"""


@pytest.fixture
def server(database_url: str, tmp_path: Path) -> Iterator[Server]:
    # PGAPPNAME names the server's pooled connections, so pg_stat_activity can tell them apart.
    with served(
        database_url, tmp_path, RUN_WORKERS="false", PGAPPNAME="valuerank-server"
    ) as running:
        yield running


async def post(server: Server, query: str, **variables: Any) -> dict[str, Any]:
    async with httpx.AsyncClient(timeout=30) as client:
        response = await client.post(
            server.url,
            json={"query": query, "variables": variables},
            headers={"Authorization": f"Bearer {server.key}"},
        )
    body = response.json()
    assert "errors" not in body, body
    return dict(body["data"])


async def start_run(server: Server, *models: str) -> tuple[str, int]:
    data = await post(server, START, input={"definitionId": DEMO, "models": list(models)})
    return data["startRun"]["run"]["id"], data["startRun"]["jobCount"]


def transport(server: Server, key: str) -> WebsocketsTransport:
    return WebsocketsTransport(
        url=server.ws_url,
        init_payload={"Authorization": f"Bearer {key}"},
        subprotocols=[WebsocketsTransport.GRAPHQLWS_SUBPROTOCOL],
    )


async def test_a_third_party_client_streams_a_run_to_its_end(
    server: Server, database_url: str
) -> None:
    run_id, jobs = await start_run(server, "sim-instant", "sim-steady")
    events = []
    async with Client(transport=transport(server, server.key)) as session:
        with workers(database_url), anyio.fail_after(90):
            request = gql(PROGRESS)
            request.variable_values = {"id": run_id}
            async for result in session.subscribe(request):
                events.append(result["runProgress"])
    done = [e["runProgress"]["completed"] + e["runProgress"]["failed"] for e in events]
    assert events[0]["status"] == "PENDING"
    assert done == sorted(done) and done[-1] == jobs
    assert events[-1]["status"] == "COMPLETED"
    assert events[-1]["summarizeProgress"]["completed"] == jobs


async def test_a_third_party_client_with_a_wrong_key_is_refused(server: Server) -> None:
    with pytest.raises(TransportConnectionFailed) as refused:
        async with Client(transport=transport(server, "vrk_wrong")) as session:
            await session.execute(gql("{ runCount }"))
    closed = refused.value.__cause__
    assert isinstance(closed, ConnectionClosed) and closed.rcvd is not None
    assert (closed.rcvd.code, closed.rcvd.reason) == (
        4403,
        "Invalid API key: it is unknown or revoked.",
    )


async def test_two_hundred_subscribers_share_one_listen_connection(
    server: Server, db: Database
) -> None:
    run_ids = [(await start_run(server, "sim-steady"))[0] for _ in range(RUNS)]

    async def subscriber(index: int) -> Socket:
        socket = await Socket.open(server.ws_url, server.key)
        await socket.subscribe(PROGRESS, {"id": run_ids[index % RUNS]})
        first = await socket.next("runProgress")
        assert first is not None and first["status"] == "PENDING"
        return socket

    sockets = [await subscriber(0)]
    alone = await connections(db)
    for batch in range(1, SUBSCRIBERS, 50):
        batch_end = min(batch + 50, SUBSCRIBERS)
        sockets += await asyncio.gather(*(subscriber(i) for i in range(batch, batch_end)))
    assert len(sockets) == SUBSCRIBERS
    crowded = await connections(db)
    try:
        for run_id in run_ids:
            await post(server, "mutation($id: ID!) { pauseRun(runId: $id) { id } }", id=run_id)
        paused = await asyncio.gather(*(s.next("runProgress") for s in sockets))
        assert all(event is not None and event["status"] == "PAUSED" for event in paused)
        after_fan_out = await connections(db)
    finally:
        await asyncio.gather(*(s.close() for s in sockets))
    assert alone["listening"] == crowded["listening"] == after_fan_out["listening"] == 1
    # The pool bounds the rest, whatever the number of subscribers.
    for seen in (alone, crowded, after_fan_out):
        assert seen["pooled"] <= POOL_SIZE + MAX_OVERFLOW, seen


async def connections(db: Database) -> dict[str, int]:
    async with db.session() as session:
        row = (await (await session.connection()).execute(sa.text(SERVER_CONNECTIONS))).one()
    return {"pooled": int(row.pooled), "listening": int(row.listening)}
