"""`stalledModels`: a model whose calls stop answering is listed while another model of the same
run finishes; once its calls are answered again it no longer is."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator

import httpx
import pytest
from starlette.applications import Starlette

from app.db import Database
from app.main import create_app
from tests import conftest
from tests.factories import gql
from tests.processes import eventually_true
from tests.stubs.vendors import Gate, StubServer, openai_stub, success
from tests.workers import wait_for_status, wait_until, workers

DEMO = "demo-definition-honesty"
HANGING = "gpt-4o-mini"  # the demo's OpenAI model, pointed at the stub
ANSWERING = "sim-instant"
STALLED = """query($id: ID!) { run(id: $id) { status stalledModels } }"""


@pytest.fixture
def gate() -> Gate:
    return Gate()


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch, gate: Gate) -> Iterator[StubServer]:
    with openai_stub(monkeypatch, success("Rating: 4").until(gate)) as server:
        yield server
        gate.open()  # let held calls end before the stub stops


@pytest.fixture
async def client(database_url: str, stub: StubServer) -> AsyncIterator[httpx.AsyncClient]:
    # A one-second threshold: the hanging model is stalled as soon as the test can see it.
    app: Starlette = create_app(
        conftest.test_settings(seed_demo=True, stalled_model_seconds=1), database_url=database_url
    )
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def test_a_model_that_stops_answering_is_stalled_until_it_answers_again(
    client: httpx.AsyncClient, admin_key: str, db: Database, database_url: str, gate: Gate
) -> None:
    body = await gql(
        client,
        """mutation($input: StartRunInput!) { startRun(input: $input) { run { id } } }""",
        {"input": {"definitionId": DEMO, "models": [HANGING, ANSWERING]}},
        key=admin_key,
    )
    run_id = body["data"]["startRun"]["run"]["id"]
    listed: list[str] = []

    async def stalled() -> list[str]:
        run = (await gql(client, STALLED, {"id": run_id}, key=admin_key))["data"]["run"]
        return list(run["stalledModels"])

    async def some_listed() -> bool:
        listed[:] = await stalled()
        return bool(listed)

    with workers(database_url):
        await wait_until(
            db,
            "SELECT count(*) = 6 FROM transcripts WHERE run_id = :r AND model_id = :m",
            r=run_id,
            m=ANSWERING,
        )
        await eventually_true(some_listed, "a model is listed as stalled")
        assert listed == [HANGING]  # the model that finished is not
        gate.open()
        await wait_for_status(db, run_id, {"COMPLETED"})
    assert await stalled() == []
