"""Provider limits, pause and cancel, with real worker processes calling a local server that
speaks OpenAI's wire format."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator

import httpx
import pytest

from app.db import Database
from tests.factories import gql
from tests.processes import eventually
from tests.stubs.vendors import Received, StubServer, openai_stub, success
from tests.workers import execute, scalar, wait_for_status, wait_until, workers

DEMO = "demo-definition-honesty"
MODEL = "gpt-4o-mini"
START = """mutation($input: StartRunInput!) { startRun(input: $input) { run { id } jobCount } }"""


@pytest.fixture
def stub(monkeypatch: pytest.MonkeyPatch) -> Iterator[StubServer]:
    # The server process checks that the provider is callable; workers get the same env.
    with openai_stub(monkeypatch) as server:
        yield server


async def openai_limits(db: Database, parallel: int, rpm: int = 10_000) -> None:
    await execute(
        db,
        "UPDATE llm_providers SET max_parallel_requests = :p, requests_per_minute = :r "
        "WHERE name = 'openai'",
        p=parallel,
        r=rpm,
    )


async def start(client: httpx.AsyncClient, key: str, samples: int) -> tuple[str, int]:
    body = await gql(
        client,
        START,
        {"input": {"definitionId": DEMO, "models": [MODEL], "samplesPerScenario": samples}},
        key=key,
    )
    assert "errors" not in body, body
    return body["data"]["startRun"]["run"]["id"], body["data"]["startRun"]["jobCount"]


async def control(client: httpx.AsyncClient, key: str, verb: str, run_id: str) -> str:
    """pauseRun / resumeRun / cancelRun; the run's status afterwards."""
    body = await gql(
        client, f"mutation($id: ID!) {{ {verb}(runId: $id) {{ status }} }}", {"id": run_id}, key=key
    )
    assert "errors" not in body, body
    return str(body["data"][verb]["status"])


async def stored_turns(db: Database, run_id: str) -> int:
    turns = await scalar(
        db, "SELECT coalesce(sum(turn_count), 0) FROM transcripts WHERE run_id = :r", r=run_id
    )
    return int(turns)


async def test_two_worker_processes_share_the_providers_parallel_limit(
    stub: StubServer, app_client: httpx.AsyncClient, admin_key: str, db: Database, database_url: str
) -> None:
    await openai_limits(db, parallel=3)
    stub.script.reset(default=success("Rating: 4. Honesty first.").after(0.3))
    run_id, jobs = await start(app_client, admin_key, samples=4)
    with workers(database_url, count=2, WORKER_CONCURRENCY="8"):
        await wait_for_status(db, run_id, {"SUMMARIZING", "COMPLETED"})
    # One call per turn of every slot, none doubled: the stub saw exactly the stored turns.
    assert stub.script.stats()["received"] == await stored_turns(db, run_id)
    assert await scalar(db, "SELECT count(*) FROM transcripts WHERE run_id = :r", r=run_id) == jobs
    assert 1 < stub.script.max_in_flight <= 3


async def test_limits_changed_while_workers_run_apply_without_a_restart(
    stub: StubServer, app_client: httpx.AsyncClient, admin_key: str, db: Database, database_url: str
) -> None:
    await openai_limits(db, parallel=4)
    stub.script.reset(default=success("Rating: 2.").after(0.3))
    run_id, _ = await start(app_client, admin_key, samples=6)
    with workers(database_url, WORKER_CONCURRENCY="8"):
        await wait_until(db, "SELECT count(*) >= 4 FROM probe_results WHERE run_id = :r", r=run_id)
        update = """mutation { updateLlmProvider(id: "openai", input: {maxParallelRequests: 1}) {
            maxParallelRequests } }"""
        body = await gql(app_client, update, key=admin_key)
        assert body["data"]["updateLlmProvider"]["maxParallelRequests"] == 1, body
        await wait_until(db, "SELECT count(*) <= 1 FROM provider_leases WHERE finished_at IS NULL")
        stub.script.reset()  # forget the maximum seen under the old limit
        await wait_for_status(db, run_id, {"SUMMARIZING", "COMPLETED"})
    assert stub.script.max_in_flight == 1


async def test_pause_lets_calls_in_flight_finish_and_starts_none_until_resume(
    stub: StubServer, app_client: httpx.AsyncClient, admin_key: str, db: Database, database_url: str
) -> None:
    await openai_limits(db, parallel=4)
    stub.script.reset(default=success("Rating: 5. No hesitation.").after(0.4))
    run_id, jobs = await start(app_client, admin_key, samples=4)
    with workers(database_url, WORKER_CONCURRENCY="8"):
        await wait_until(db, "SELECT count(*) >= 4 FROM probe_results WHERE run_id = :r", r=run_id)
        assert await control(app_client, admin_key, "pauseRun", run_id) == "PAUSED"
        await wait_until(db, "SELECT count(*) = 0 FROM provider_leases WHERE finished_at IS NULL")
        started = stub.script.stats()["received"]
        finished = await scalar(
            db, "SELECT count(*) FROM probe_results WHERE run_id = :r", r=run_id
        )
        # Every call that had started finished, and its slot was stored.
        assert started == await stored_turns(db, run_id)
        await asyncio.sleep(1.5)  # workers poll every 0.2 s: any leak would show by now
        assert stub.script.stats()["received"] == started
        assert finished < jobs
        assert await control(app_client, admin_key, "resumeRun", run_id) == "RUNNING"
        await wait_for_status(db, run_id, {"SUMMARIZING", "COMPLETED"})
    assert stub.script.stats()["received"] == await stored_turns(db, run_id)  # none twice
    retries = await scalar(
        db, "SELECT coalesce(sum(retry_count), 0) FROM probe_results WHERE run_id = :r", r=run_id
    )
    assert retries == 0  # pausing burned no attempt


async def test_cancel_aborts_calls_in_flight_and_keeps_stored_transcripts(
    stub: StubServer, app_client: httpx.AsyncClient, admin_key: str, db: Database, database_url: str
) -> None:
    await openai_limits(db, parallel=3)
    fast = success("Rating: 3. Fine.")
    stub.script.reset(default=success("Rating: 1. Never.").after(60))
    # The first three slots' first turns are fast, and every second turn: chosen by turn, not
    # by arrival, since under load a fourth slot's first turn may arrive before a second turn.
    stub.script.rule = lambda request: fast if _is_second_turn(request) else None
    stub.script.push(*[fast] * 3)
    run_id, _ = await start(app_client, admin_key, samples=4)
    with workers(database_url, WORKER_CONCURRENCY="8"):
        await wait_until(db, "SELECT count(*) = 3 FROM transcripts WHERE run_id = :r", r=run_id)
        await wait_until(db, "SELECT count(*) = 3 FROM provider_leases WHERE finished_at IS NULL")
        assert await control(app_client, admin_key, "cancelRun", run_id) == "CANCELLED"
        # The abort reaches the workers through NOTIFY or their poll.
        await eventually(
            lambda: stub.script.disconnected >= 3, "the vendor sees the three calls dropped"
        )
        assert stub.script.disconnected == 3  # the vendor saw each call dropped: spending stopped
        received = stub.script.stats()["received"]
        await asyncio.sleep(1.0)
        assert stub.script.stats()["received"] == received == 9  # nothing new started
        await wait_until(db, "SELECT count(*) = 0 FROM provider_leases WHERE finished_at IS NULL")
    assert await scalar(db, "SELECT status FROM runs WHERE id = :r", r=run_id) == "CANCELLED"
    assert await scalar(db, "SELECT count(*) FROM transcripts WHERE run_id = :r", r=run_id) == 3


def _is_second_turn(request: Received) -> bool:
    """A chat request that carries the model's first answer (the probe's follow-up turn)."""
    messages = request.body.get("messages") if isinstance(request.body, dict) else None
    return isinstance(messages, list) and any(
        isinstance(m, dict) and m.get("role") == "assistant" for m in messages
    )
