"""Summary calls are calls like probes': they take leases under the summarizer's provider
limits (the stub never sees more than `maxParallelRequests` at once, however many summary jobs
a process runs) and `pauseQueue` holds them."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from app.db import Database
from tests.factories import gql
from tests.processes import eventually
from tests.stubs.vendors import Gate, StubServer, openai_stub, success
from tests.workers import execute, scalar, wait_for_status, workers

DEMO = "demo-definition-honesty"
SUMMARIZER = "gpt-4o-mini"  # the demo's OpenAI model, pointed at the stub
PARALLEL = 2


@pytest.fixture
def gate() -> Gate:
    return Gate()


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch, gate: Gate) -> Iterator[StubServer]:
    with openai_stub(monkeypatch, success("The model chose honesty.").until(gate)) as server:
        yield server
        gate.open()


@pytest.fixture
def client(stub: StubServer, app_client: httpx.AsyncClient) -> httpx.AsyncClient:
    """The app's client, made once the stub's variables are set."""
    return app_client


async def test_summary_calls_take_leases_and_pause_queue_holds_them(
    client: httpx.AsyncClient,
    admin_key: str,
    db: Database,
    database_url: str,
    stub: StubServer,
    gate: Gate,
) -> None:
    await execute(
        db, "UPDATE llm_providers SET max_parallel_requests = :n WHERE name = 'openai'", n=PARALLEL
    )
    body = await gql(
        client,
        """mutation($input: StartRunInput!) { startRun(input: $input) { run { id } } }""",
        {"input": {"definitionId": DEMO, "models": ["sim-instant"], "samplesPerScenario": 2}},
        key=admin_key,
    )
    run_id = body["data"]["startRun"]["run"]["id"]
    with workers(database_url, 2, SUMMARIZER_MODEL=SUMMARIZER):
        # Held by the stub: as many summary calls as the limit, not one per summary job.
        await eventually(lambda: stub.script.in_flight == PARALLEL, "summary calls in flight")
        paused = await gql(client, "mutation { pauseQueue { isPaused } }", key=admin_key)
        assert paused["data"]["pauseQueue"] == {"isPaused": True}
        await asyncio.sleep(1.5)  # every process has read the switch (it reads it twice a second)
        gate.open()
        await eventually(lambda: stub.script.in_flight == 0, "held calls answered")
        await asyncio.sleep(1.5)  # long enough for a process that ignored the pause to call
        assert len(stub.script.received) == PARALLEL
        resumed = await gql(client, "mutation { resumeQueue { isPaused } }", key=admin_key)
        assert resumed["data"]["resumeQueue"] == {"isPaused": False}
        await wait_for_status(db, run_id, {"COMPLETED"})
    assert stub.script.max_in_flight == PARALLEL
    assert len(stub.script.received) == 12  # one summary call per transcript
    assert (
        await scalar(
            db,
            "SELECT count(*) FROM transcripts WHERE run_id = :r AND decision_text IS NOT NULL",
            r=run_id,
        )
        == 12
    )
