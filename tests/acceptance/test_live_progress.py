"""Live progress over graphql-transport-ws through Starlette's TestClient websocket, with real
worker processes and PostgreSQL's LISTEN/NOTIFY."""

from __future__ import annotations

from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

import psycopg
import pytest
from starlette.testclient import TestClient, WebSocketDenialResponse, WebSocketDisconnect

from app.db import Database, libpq_url
from app.main import create_app
from tests import conftest
from tests.factories import add_slot
from tests.live import PROGRESS, PROTOCOL, connect, post, receive, start_run
from tests.workers import add_model, execute, scalar, workers

DEMO = "demo-definition-honesty"
CHANGES = "subscription { runsChanged { runId kind status run { id status } } }"
KILL_LISTENER = """SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
                   WHERE application_name = 'valuerank-pubsub' AND datname = current_database()"""
LISTENERS = """SELECT count(*) FROM pg_stat_activity
               WHERE application_name = 'valuerank-pubsub' AND datname = current_database()"""


def make_client(database_url: str, **settings: Any) -> TestClient:
    app = create_app(conftest.test_settings(seed_demo=True, **settings), database_url=database_url)
    return TestClient(app)


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    with make_client(database_url) as test_client:
        yield test_client


def done(event: dict[str, Any]) -> int:
    progress = event["runProgress"]
    return int(progress["completed"]) + int(progress["failed"])


def mutate(client: TestClient, key: str, verb: str, run_id: str) -> None:
    post(client, key, f"mutation($id: ID!) {{ {verb}(runId: $id) {{ id }} }}", id=run_id)


async def test_run_progress_streams_a_simulated_run_to_its_end(
    client: TestClient, admin_key: str, database_url: str
) -> None:
    run_id, jobs = start_run(
        client, admin_key, definitionId=DEMO, models=["sim-instant", "sim-steady"]
    )
    with connect(client, admin_key) as connection:
        operation = connection.subscribe(PROGRESS, {"id": run_id})
        with workers(database_url):
            events = connection.events(operation, "runProgress")
    first, last = events[0], events[-1]
    assert first["status"] == "PENDING" and first["runId"] == run_id
    counts = [done(e) for e in events]
    assert counts == sorted(counts)
    assert last["status"] == "COMPLETED"
    assert last["runProgress"]["completed"] == jobs == last["runProgress"]["total"]
    assert {m["modelId"]: m["completed"] for m in last["runProgress"]["byModel"]} == {
        "sim-instant": jobs // 2,
        "sim-steady": jobs // 2,
    }
    assert last["summarizeProgress"] == {"total": jobs, "completed": jobs, "failed": 0}
    assert last["estimatedSecondsRemaining"] == 0
    run = post(
        client,
        admin_key,
        "query($id: ID!) { run(id: $id) { spend { total probes } transcripts { estimatedCost } } }",
        id=run_id,
    )["run"]
    # Spend is the ledger's: the probes' part is the transcripts' cost (no call failed here).
    assert last["costSoFar"] == pytest.approx(run["spend"]["total"])
    assert run["spend"]["probes"] == pytest.approx(
        sum(t["estimatedCost"] for t in run["transcripts"])
    )
    assert last["estimatedTotalCost"] == last["costSoFar"] > 0
    assert last["transcriptId"] is not None


async def test_each_transition_is_an_event_and_the_terminal_one_ends_the_stream(
    client: TestClient, admin_key: str
) -> None:
    run_id, _ = start_run(client, admin_key, definitionId=DEMO, models=["sim-steady"])
    with connect(client, admin_key) as connection:
        operation = connection.subscribe(PROGRESS, {"id": run_id})
        first = connection.next(operation, "runProgress")
        assert first is not None and first["status"] == "PENDING"
        # Nothing has run: the estimate is the pre-run one, and there is no rate for an ETA.
        assert first["costSoFar"] == 0 and first["estimatedTotalCost"] > 0
        assert first["estimatedSecondsRemaining"] is None
        assert first["summarizeProgress"] is None
        seen = []
        for verb in ("pauseRun", "resumeRun", "cancelRun"):
            mutate(client, admin_key, verb, run_id)
            event = connection.next(operation, "runProgress")
            assert event is not None
            seen.append(event["status"])
        assert seen == ["PAUSED", "PENDING", "CANCELLED"]
        assert connection.next(operation, "runProgress") is None  # completed


async def test_execution_metrics_and_run_progress_agree_on_a_paused_run(
    client: TestClient, admin_key: str, db: Database
) -> None:
    run_id, _ = start_run(client, admin_key, definitionId=DEMO, models=["sim-steady"])
    # A run under way: started a minute ago, one slot finished, so there is a rate to go by.
    await execute(
        db,
        "UPDATE runs SET status = 'RUNNING', started_at = now() - interval '60 seconds' "
        "WHERE id = :r",
        r=run_id,
    )
    scenario_id = await scalar(
        db, "SELECT scenario_id FROM run_scenario_selections WHERE run_id = :r LIMIT 1", r=run_id
    )
    await add_slot(db, SimpleNamespace(id=run_id), scenario_id, "sim-steady")
    # Both count from the run's start (read a moment apart, so their seconds may differ).
    assert (eta_from_metrics(client, admin_key, run_id) or 0) > 0
    assert (eta_from_progress(client, admin_key, run_id) or 0) > 0

    mutate(client, admin_key, "pauseRun", run_id)
    assert eta_from_metrics(client, admin_key, run_id) is None
    assert eta_from_progress(client, admin_key, run_id) is None


def eta_from_metrics(client: TestClient, key: str, run_id: str) -> int | None:
    query = "query($id: ID!) { run(id: $id) { executionMetrics { estimatedSecondsRemaining } } }"
    run = post(client, key, query, id=run_id)["run"]
    seconds: int | None = run["executionMetrics"]["estimatedSecondsRemaining"]
    return seconds


def eta_from_progress(client: TestClient, key: str, run_id: str) -> int | None:
    with connect(client, key) as connection:
        first = connection.next(connection.subscribe(PROGRESS, {"id": run_id}), "runProgress")
    assert first is not None
    seconds: int | None = first["estimatedSecondsRemaining"]
    return seconds


async def test_an_ended_run_yields_its_state_once(client: TestClient, admin_key: str) -> None:
    run_id, _ = start_run(client, admin_key, definitionId=DEMO, models=["sim-steady"])
    mutate(client, admin_key, "cancelRun", run_id)
    with connect(client, admin_key) as connection:
        events = connection.events(connection.subscribe(PROGRESS, {"id": run_id}), "runProgress")
    assert [e["status"] for e in events] == ["CANCELLED"]
    assert events[0]["estimatedSecondsRemaining"] == 0


async def test_an_unknown_or_deleted_run_is_not_found(client: TestClient, admin_key: str) -> None:
    run_id, _ = start_run(client, admin_key, definitionId=DEMO, models=["sim-steady"])
    post(client, admin_key, "mutation($id: ID!) { deleteRun(runId: $id) }", id=run_id)
    with connect(client, admin_key) as connection:
        for missing in ("nope", run_id):
            results = connection.results(connection.subscribe(PROGRESS, {"id": missing}))
            assert results == [
                {
                    "data": None,
                    "errors": [
                        {
                            "message": f"Run not found: {missing}",
                            "extensions": {"code": "NOT_FOUND"},
                        }
                    ],
                }
            ]


async def test_runs_changed_reports_creation_status_changes_and_deletion(
    client: TestClient, admin_key: str
) -> None:
    with connect(client, admin_key) as connection:
        operation = connection.subscribe(CHANGES)
        run_id, _ = start_run(client, admin_key, definitionId=DEMO, models=["sim-steady"])
        seen = [connection.next(operation, "runsChanged")]
        for verb in ("pauseRun", "cancelRun"):
            mutate(client, admin_key, verb, run_id)
            seen.append(connection.next(operation, "runsChanged"))
        post(client, admin_key, "mutation($id: ID!) { deleteRun(runId: $id) }", id=run_id)
        seen.append(connection.next(operation, "runsChanged"))
    assert seen == [
        {
            "runId": run_id,
            "kind": "CREATED",
            "status": "PENDING",
            "run": {"id": run_id, "status": "PENDING"},
        },
        {
            "runId": run_id,
            "kind": "STATUS_CHANGED",
            "status": "PAUSED",
            "run": {"id": run_id, "status": "PAUSED"},
        },
        {
            "runId": run_id,
            "kind": "STATUS_CHANGED",
            "status": "CANCELLED",
            "run": {"id": run_id, "status": "CANCELLED"},
        },
        {"runId": run_id, "kind": "DELETED", "status": None, "run": None},
    ]


async def test_a_websocket_without_a_valid_key_is_refused(
    client: TestClient, viewer_key: str
) -> None:
    invalid = "Invalid API key: it is unknown or revoked."
    missing = 'Authentication required: send {"Authorization": "Bearer <key>"} in connection_init.'
    for payload, reason in (
        ({}, missing),
        ({"Authorization": "Bearer vrk_wrong"}, invalid),
        ({"Authorization": "Basic x"}, invalid),
    ):
        with client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as ws:
            ws.send_json({"type": "connection_init", "payload": payload})
            with pytest.raises(WebSocketDisconnect) as refused:
                receive(ws)
            # The reason in words, for a browser's client to show (not Strawberry's "Forbidden").
            assert (refused.value.code, refused.value.reason) == (4403, reason)
    with client.websocket_connect("/graphql", subprotocols=[PROTOCOL]) as ws:
        ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": CHANGES}})
        with pytest.raises(WebSocketDisconnect) as unacknowledged:
            receive(ws)
        assert unacknowledged.value.code == 4401
    with connect(client, viewer_key):  # a read-only key may watch
        pass


async def test_only_allowed_browser_origins_may_open_the_websocket(database_url: str) -> None:
    with make_client(database_url, allowed_origins=["https://dash.example"]) as client:
        foreign = client.websocket_connect(
            "/graphql", subprotocols=[PROTOCOL], headers={"origin": "https://evil.example"}
        )
        with pytest.raises((WebSocketDenialResponse, WebSocketDisconnect)), foreign:
            pass
        with client.websocket_connect(
            "/graphql", subprotocols=[PROTOCOL], headers={"origin": "https://dash.example"}
        ) as ws:
            assert ws.accepted_subprotocol == PROTOCOL


async def test_subscriptions_per_connection_are_capped(database_url: str, admin_key: str) -> None:
    with (
        make_client(database_url, max_subscriptions_per_connection=2) as client,
        connect(client, admin_key) as connection,
    ):
        first, second = connection.subscribe(CHANGES), connection.subscribe(CHANGES)
        third = connection.subscribe(CHANGES)
        assert receive(connection.ws) == {
            "id": third,
            "type": "error",
            "payload": [{"message": "Subscription limit reached"}],
        }
        assert (first, second, third) == ("1", "2", "3")


async def test_subscribers_reach_the_end_when_the_listen_connection_is_killed(
    client: TestClient, admin_key: str, database_url: str, db: Database
) -> None:
    await add_model(db, "sim-paced", {"latencyMs": 300})
    run_id, jobs = start_run(
        client, admin_key, definitionId=DEMO, models=["sim-paced"], samplesPerScenario=3
    )
    with connect(client, admin_key) as connection:
        operation = connection.subscribe(PROGRESS, {"id": run_id})
        events = [connection.next(operation, "runProgress")]
        with workers(database_url, WORKER_CONCURRENCY="2"):
            killed = 0
            while not killed:
                event = connection.next(operation, "runProgress")
                assert event is not None, "the run ended before its listener could be killed"
                events.append(event)
                if done(event) > 0:
                    killed = await scalar(db, KILL_LISTENER)
            assert killed == 1
            events.extend(connection.events(operation, "runProgress"))
    assert events[-1] is not None and events[-1]["status"] == "COMPLETED"
    assert done(events[-1]) == jobs
    counts = [done(e) for e in events if e is not None]
    assert counts == sorted(counts)
    assert await scalar(db, LISTENERS) == 1  # it came back, once


async def test_changes_made_while_the_listener_is_away_are_read_when_it_returns(
    client: TestClient, admin_key: str, database_url: str, server_url: str, db: Database
) -> None:
    run_id, _ = start_run(client, admin_key, definitionId=DEMO, models=["sim-steady"])
    database = await scalar(db, "SELECT current_database()")
    with connect(client, admin_key) as connection:
        changes = connection.subscribe(CHANGES)
        progress = connection.subscribe(PROGRESS, {"id": run_id})
        assert connection.next(progress, "runProgress")["status"] == "PENDING"  # type: ignore[index]
        with (
            psycopg.connect(libpq_url(server_url), autocommit=True) as admin,
            psycopg.connect(libpq_url(database_url), autocommit=True) as other,
        ):
            # Keep the broker from reconnecting, cut its connection, change the run unheard.
            admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS false')
            try:
                other.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                    "WHERE application_name = 'valuerank-pubsub' AND datname = %s",
                    (database,),
                )
                other.execute(
                    "UPDATE runs SET status = 'PAUSED', updated_at = now() WHERE id = %s",
                    (run_id,),
                )
            finally:
                admin.execute(f'ALTER DATABASE "{database}" ALLOW_CONNECTIONS true')
        assert connection.next(progress, "runProgress")["status"] == "PAUSED"  # type: ignore[index]
        change = connection.next(changes, "runsChanged")
    assert change == {
        "runId": run_id,
        "kind": "STATUS_CHANGED",
        "status": "PAUSED",
        "run": {"id": run_id, "status": "PAUSED"},
    }
