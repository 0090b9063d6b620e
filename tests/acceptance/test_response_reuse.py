"""Opt-in response reuse: a second run with `reuseResponses` copies the first run's answers to
the same requests (`reusedFromId`, cost 0) and makes no vendor call for them."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from app.db import Database
from tests.factories import gql
from tests.stubs.vendors import StubServer, openai_stub, success
from tests.workers import assert_one_transcript_per_slot, wait_for_status, workers

DEMO = "demo-definition-honesty"
MODEL = "gpt-4o-mini"  # the demo's OpenAI model, pointed at the stub
START = """mutation($input: StartRunInput!) {
  startRun(input: $input) { run { id reuseResponses progress { total } } } }"""
TRANSCRIPTS = """query($id: ID!) { run(id: $id) { status transcripts {
  id scenarioId sampleIndex reusedFromId estimatedCost content } } }"""


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[StubServer]:
    with openai_stub(monkeypatch, success("Rating: 4")) as server:
        yield server


@pytest.fixture
def client(stub: StubServer, app_client: httpx.AsyncClient) -> httpx.AsyncClient:
    """The app's client, made once the stub's variables are set."""
    return app_client


async def _run(client: httpx.AsyncClient, key: str, **input_: object) -> tuple[str, int, bool]:
    body = await gql(
        client, START, {"input": {"definitionId": DEMO, "models": [MODEL], **input_}}, key=key
    )
    run = body["data"]["startRun"]["run"]
    return run["id"], run["progress"]["total"], run["reuseResponses"]


async def test_a_run_with_reuse_responses_makes_no_call_for_repeated_requests(
    client: httpx.AsyncClient, admin_key: str, db: Database, database_url: str, stub: StubServer
) -> None:
    first, slots, reusing = await _run(client, admin_key)
    assert reusing is False
    with workers(database_url):
        await wait_for_status(db, first, {"COMPLETED"})
        calls = len(stub.script.received)
        # One more sample than before: sample 1 is a new request and is called for.
        second, second_slots, reusing = await _run(
            client, admin_key, reuseResponses=True, samplesPerScenario=2
        )
        assert reusing is True
        await wait_for_status(db, second, {"COMPLETED"})
    assert len(stub.script.received) == calls * 2  # only the new samples' calls
    await assert_one_transcript_per_slot(db, second, second_slots)
    earlier = (await gql(client, TRANSCRIPTS, {"id": first}, key=admin_key))["data"]["run"]
    by_slot = {(t["scenarioId"], t["sampleIndex"]): t for t in earlier["transcripts"]}
    later = (await gql(client, TRANSCRIPTS, {"id": second}, key=admin_key))["data"]["run"]
    reused = [t for t in later["transcripts"] if t["reusedFromId"] is not None]
    assert len(reused) == slots
    for transcript in reused:
        original = by_slot[(transcript["scenarioId"], transcript["sampleIndex"])]
        assert transcript["reusedFromId"] == original["id"]
        assert transcript["content"] == original["content"]
        assert transcript["estimatedCost"] == 0
    fresh = [t for t in later["transcripts"] if t["reusedFromId"] is None]
    assert {t["sampleIndex"] for t in fresh} == {1} and all(t["estimatedCost"] > 0 for t in fresh)
