"""`tokensPerMinute` holds across two worker processes: the tokens of the calls started in any
60-second window stay within the limit plus one call (a slot's conversation), each call's reservation settled to the
usage the vendor reported; raising the limit lets the run finish at once."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
import sqlalchemy as sa

from app.db import Database
from app.llm import limits
from tests.factories import gql
from tests.processes import eventually_true
from tests.stubs.vendors import StubServer, openai_stub, success
from tests.workers import assert_one_transcript_per_slot, scalar, wait_for_status, workers

DEMO = "demo-definition-honesty"
MODEL = "gpt-4o-mini"  # the demo's OpenAI model, pointed at the stub
LIMIT = 3000
# What the stub reports for each call; the demo's conversations have two turns, and a slot's
# conversation is one lease (one reservation, settled once).
TURNS = 2
CONVERSATION_TOKENS = TURNS * (400 + 200)
# The most tokens started in any 60-second window, from the per-second counters.
BUSIEST_MINUTE = """
    SELECT max((SELECT sum(w.tokens) FROM provider_starts w
                WHERE w.provider_id = s.provider_id
                  AND w.second > s.second - interval '60 seconds' AND w.second <= s.second))
    FROM provider_starts s JOIN llm_providers p ON p.id = s.provider_id WHERE p.name = 'openai'
"""


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[StubServer]:
    default = success(input_tokens=400, output_tokens=200).after(0.05)
    with openai_stub(monkeypatch, default) as server:
        yield server


@pytest.fixture
def client(stub: StubServer, app_client: httpx.AsyncClient) -> httpx.AsyncClient:
    """The app's client, made once the stub's variables are set."""
    return app_client


async def _full_minute(db: Database) -> int | None:
    """The busiest minute's tokens once every call is settled and no room is left until the
    minute rolls; else None. Asked as a probe would, holding the provider's lock while it reads
    (so no call can start in between), in a transaction rolled back so the test takes nothing."""
    provider_id = await scalar(db, "SELECT id FROM llm_providers WHERE name = 'openai'")
    async with db.session() as session:
        taken = await limits.try_take(session, provider_id, 60, tokens=1)
        connection = await session.connection()
        open_leases = (
            await connection.execute(
                sa.text(
                    "SELECT count(*) FROM provider_leases "
                    "WHERE provider_id = :p AND finished_at IS NULL"
                ),
                {"p": provider_id},
            )
        ).scalar_one()
        busiest = (await connection.execute(sa.text(BUSIEST_MINUTE))).scalar_one()
        await session.rollback()
    if open_leases or not (isinstance(taken, float) and taken > 1):
        return None
    return int(busiest)


async def test_tokens_per_minute_hold_across_two_processes(
    client: httpx.AsyncClient, admin_key: str, db: Database, database_url: str, stub: StubServer
) -> None:
    update = """mutation($tpm: Int!) {
      updateLlmProvider(id: "openai", input: {tokensPerMinute: $tpm}) { tokensPerMinute } }"""
    body = await gql(client, update, {"tpm": LIMIT}, key=admin_key)
    assert body["data"]["updateLlmProvider"] == {"tokensPerMinute": LIMIT}
    body = await gql(
        client,
        """mutation($input: StartRunInput!) {
          startRun(input: $input) { run { id progress { total } } } }""",
        {"input": {"definitionId": DEMO, "models": [MODEL], "samplesPerScenario": 2}},
        key=admin_key,
    )
    run_id = body["data"]["startRun"]["run"]["id"]
    slots = body["data"]["startRun"]["run"]["progress"]["total"]
    with workers(database_url, 2):
        busiest: list[int] = []

        async def full() -> bool:
            settled = await _full_minute(db)
            busiest[:] = [settled] if settled is not None else []
            return settled is not None

        await eventually_true(full, "the minute's tokens are used up")
        conversations = len(stub.script.received) // TURNS
        # Every reservation settled to the reported usage; within the limit plus one call.
        assert busiest == [conversations * CONVERSATION_TOKENS]
        assert LIMIT <= busiest[0] <= LIMIT + CONVERSATION_TOKENS
        assert conversations < slots  # the limit, not the run's end, stopped the calls
        await gql(client, update, {"tpm": 0}, key=admin_key)
        await wait_for_status(db, run_id, {"COMPLETED"})
    await assert_one_transcript_per_slot(db, run_id, slots)
    assert len(stub.script.received) == slots * TURNS
