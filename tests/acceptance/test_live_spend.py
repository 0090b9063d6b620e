"""Spend on the live stream: what a `runProgress` subscriber is sent mid-run (the projected
total and the ETA, checked against the rows at that moment) and when the cap pauses the run.
Real worker processes, a real websocket (Starlette's TestClient), PostgreSQL's LISTEN/NOTIFY."""

from __future__ import annotations

import math
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
from starlette.testclient import TestClient

from app.db import Database
from tests.acceptance.test_live_progress import make_client
from tests.acceptance.test_spend import add_model
from tests.live import Connection, connect, post, start_run
from tests.workers import scalar, wait_for_status, wait_until, workers

DEMO = "demo-definition-honesty"
PROGRESS = """subscription($id: ID!) { runProgress(runId: $id) {
  status at pauseReason maxBudgetUsd costSoFar estimatedTotalCost estimatedSecondsRemaining
  runProgress { total completed failed }
  spend { total probes summaries failedCalls callCount } } }"""
IN_FLIGHT = "SELECT count(*) = 0 FROM provider_calls WHERE run_id = :r AND outcome IS NULL"


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    with make_client(database_url) as test_client:
        yield test_client


def first_event(connection: Connection, run_id: str) -> dict[str, Any]:
    event = connection.next(connection.subscribe(PROGRESS, {"id": run_id}), "runProgress")
    assert event is not None
    return event


async def test_mid_run_the_projection_and_eta_are_those_of_the_rows_at_that_moment(
    client: TestClient, admin_key: str, db: Database, database_url: str
) -> None:
    # Two priced models, one failing now and then (retried calls are paid, with no transcript).
    await add_model(db, "sim-mid-a", {"latencyMs": 50}, prices=1.0)
    await add_model(db, "sim-mid-b", {"latencyMs": 50, "failureRate": 0.3}, prices=3.0)
    run_id, slots = start_run(
        client,
        admin_key,
        definitionId=DEMO,
        models=["sim-mid-a", "sim-mid-b"],
        samplesPerScenario=8,
    )
    # Stop the workers part-way: the run stays RUNNING and its rows stay as they are.
    with workers(database_url, WORKER_CONCURRENCY="2", RETRY_BASE_SECONDS="0.05"):
        await wait_until(
            db,
            """SELECT count(DISTINCT model_id) = 2 AND count(*) >= 12
               FROM probe_results WHERE run_id = :r""",
            r=run_id,
        )
    await wait_until(db, IN_FLIGHT, r=run_id)
    assert await scalar(db, "SELECT status FROM runs WHERE id = :r", r=run_id) == "RUNNING"
    finished = await scalar(db, "SELECT count(*) FROM probe_results WHERE run_id = :r", r=run_id)
    assert 0 < finished < slots

    before = datetime.now(UTC)
    with connect(client, admin_key) as connection:
        event = first_event(connection, run_id)
    after = datetime.now(UTC)

    ledger = await scalar(
        db, "SELECT sum(cost_usd) FROM provider_calls WHERE run_id = :r", r=run_id
    )
    # Each model's remaining slots at the average cost of its transcripts, on top of the ledger.
    remaining_at_average = await scalar(
        db,
        """
        SELECT sum((CAST(:per_model AS int) - (SELECT count(*) FROM probe_results p
                                               WHERE p.run_id = t.run_id AND p.model_id = t.model_id))
                   * avg(t.estimated_cost)) OVER ()
        FROM transcripts t WHERE t.run_id = :r GROUP BY t.run_id, t.model_id LIMIT 1
        """,
        r=run_id,
        per_model=slots // 2,
    )
    started = await scalar(db, "SELECT started_at FROM runs WHERE id = :r", r=run_id)
    assert event["status"] == "RUNNING"
    assert event["runProgress"]["completed"] + event["runProgress"]["failed"] == finished
    assert event["costSoFar"] == pytest.approx(ledger) == pytest.approx(event["spend"]["total"])
    assert event["spend"]["failedCalls"] > 0  # the retried calls, paid and counted
    assert event["estimatedTotalCost"] == pytest.approx(ledger + remaining_at_average)
    # The remaining slots at the rate slots finished since the start, at the moment it was read.
    soonest, latest = (
        math.ceil((slots - finished) * (moment - started).total_seconds() / finished)
        for moment in (before, after)
    )
    assert soonest <= event["estimatedSecondsRemaining"] <= latest


async def test_a_subscriber_is_told_when_the_cap_pauses_the_run(
    client: TestClient, admin_key: str, db: Database, database_url: str
) -> None:
    await add_model(db, "sim-capped", {"latencyMs": 100}, prices=10.0)
    cap = 0.01
    run_id, slots = start_run(
        client,
        admin_key,
        definitionId=DEMO,
        models=["sim-capped"],
        samplesPerScenario=6,
        maxBudgetUsd=cap,
    )
    with connect(client, admin_key) as connection:
        operation = connection.subscribe(PROGRESS, {"id": run_id})
        with workers(database_url, WORKER_CONCURRENCY="8"):
            events = []
            while not events or events[-1]["status"] != "PAUSED":
                event = connection.next(operation, "runProgress")
                assert event is not None, events
                events.append(event)
            await wait_until(db, IN_FLIGHT, r=run_id)
        paused = events[-1]
        assert paused["pauseReason"] == "BUDGET_EXHAUSTED"
        assert paused["maxBudgetUsd"] == cap
        assert paused["spend"]["total"] == paused["costSoFar"] > 0
        assert paused["runProgress"]["completed"] < slots
        assert paused["estimatedSecondsRemaining"] is None  # a paused run is not moving
        # No event before the pause named a reason; the person's cancel ends the stream.
        assert all(e["pauseReason"] is None for e in events[:-1])
        post(client, admin_key, "mutation($id: ID!) { cancelRun(runId: $id) { id } }", id=run_id)
        rest = connection.events(operation, "runProgress")
    assert rest[-1]["status"] == "CANCELLED" and rest[-1]["pauseReason"] is None
    largest = await scalar(
        db, "SELECT max(cost_usd) FROM provider_calls WHERE run_id = :r", r=run_id
    )
    assert rest[-1]["spend"]["total"] <= cap + largest
    await wait_for_status(db, run_id, {"CANCELLED"})
