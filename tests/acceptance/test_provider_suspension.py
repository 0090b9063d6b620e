"""Credit exhaustion suspends the provider, not the slots: no further call reaches the vendor,
the other provider's slots finish, the run pauses PROVIDER_SUSPENDED with no slot failed, and
after the top-up `resumeLlmProvider` lets the run complete with one transcript per slot."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import httpx
import pytest

from app.db import Database
from tests.factories import gql
from tests.stubs.vendors import (
    Received,
    Reply,
    StubServer,
    openai_stub,
    quota_exhausted,
    success,
)
from tests.workers import (
    assert_one_transcript_per_slot,
    scalar,
    wait_for_status,
    wait_until,
    workers,
)

DEMO = "demo-definition-honesty"
EXHAUSTED = "gpt-4o-mini"  # the demo's OpenAI model, pointed at the stub
OTHER = "sim-instant"  # the simulated provider's
ANSWERED_FIRST = 2  # calls the stub answers before the credit runs out
PROVIDERS = "{ llmProviders { name suspendedAt suspendedReason } }"
RUN = "query($id: ID!) { run(id: $id) { status pauseReason } }"


class Credit:
    """The stub's account: answers until `ANSWERED_FIRST` calls, then out of credit until topped up."""

    def __init__(self) -> None:
        self.topped_up = threading.Event()

    def rule(self, received: Received, seen: int) -> Reply | None:
        if seen > ANSWERED_FIRST and not self.topped_up.is_set():
            return quota_exhausted()
        return None


@pytest.fixture
def credit() -> Credit:
    return Credit()


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch, credit: Credit) -> Iterator[StubServer]:
    default = success("Rating: 4").after(0.05)
    with openai_stub(monkeypatch, default, key="sk-test-secret-key") as server:
        script = server.script
        # Called under the script's lock, after the request is counted.
        script.rule = lambda received: credit.rule(received, len(script.received))
        yield server


@pytest.fixture
def client(stub: StubServer, app_client: httpx.AsyncClient) -> httpx.AsyncClient:
    """The app's client, made once the stub's variables are set."""
    return app_client


async def test_quota_exhaustion_suspends_the_provider_and_the_run_resumes_after_top_up(
    client: httpx.AsyncClient,
    admin_key: str,
    db: Database,
    database_url: str,
    stub: StubServer,
    credit: Credit,
) -> None:
    body = await gql(
        client,
        """mutation($input: StartRunInput!) { startRun(input: $input) { run { id progress { total } } } }""",
        {"input": {"definitionId": DEMO, "models": [EXHAUSTED, OTHER]}},
        key=admin_key,
    )
    run_id = body["data"]["startRun"]["run"]["id"]
    slots = body["data"]["startRun"]["run"]["progress"]["total"]
    with workers(database_url, 2):
        await wait_for_status(db, run_id, {"PAUSED"})
        run = (await gql(client, RUN, {"id": run_id}, key=admin_key))["data"]["run"]
        assert run == {"status": "PAUSED", "pauseReason": "PROVIDER_SUSPENDED"}
        # The other provider's model completed every one of its slots.
        other_slots = await scalar(
            db,
            "SELECT count(*) FROM transcripts WHERE run_id = :r AND model_id = :m",
            r=run_id,
            m=OTHER,
        )
        assert other_slots == slots // 2
        assert (
            await scalar(
                db,
                "SELECT count(*) FROM probe_results WHERE run_id = :r AND status = 'FAILED'",
                r=run_id,
            )
            == 0
        )
        providers = (await gql(client, PROVIDERS, key=admin_key))["data"]["llmProviders"]
        openai = next(p for p in providers if p["name"] == "openai")
        assert openai["suspendedAt"] is not None
        assert "exceeded your current quota" in openai["suspendedReason"]
        assert "sk-test-secret-key" not in openai["suspendedReason"]
        # Only calls already in flight when the first refusal came back reached the stub: at
        # most the provider's parallel limit, shared by both processes.
        calls_when_paused = len(stub.script.received)
        parallel = await scalar(
            db, "SELECT max_parallel_requests FROM llm_providers WHERE name = 'openai'"
        )
        assert 0 < calls_when_paused - ANSWERED_FIRST <= parallel
        await _assert_no_call_while_suspended(db, stub, calls_when_paused, run_id)

        credit.topped_up.set()
        resumed = await gql(
            client,
            """mutation($id: String!) { resumeLlmProvider(id: $id) { name suspendedAt } }""",
            {"id": "openai"},
            key=admin_key,
        )
        assert resumed["data"] is not None, resumed
        assert resumed["data"]["resumeLlmProvider"] == {"name": "openai", "suspendedAt": None}
        await wait_for_status(db, run_id, {"COMPLETED"})
    await assert_one_transcript_per_slot(db, run_id, slots)
    assert (
        await scalar(
            db,
            "SELECT count(*) FROM probe_results WHERE run_id = :r AND status = 'FAILED'",
            r=run_id,
        )
        == 0
    )


async def _assert_no_call_while_suspended(
    db: Database, stub: StubServer, calls: int, run_id: str
) -> None:
    """Once no job of the run is left (the pause cancelled the queued ones, the running ones
    ended), the stub has seen no call beyond those counted at the pause."""
    await wait_until(
        db,
        "SELECT count(*) = 0 FROM procrastinate_jobs WHERE status IN ('todo', 'doing') "
        "AND args->>'runId' = :r",
        r=run_id,
    )
    assert len(stub.script.received) == calls
