"""One rendering of a run's state, sent to all its subscribers (app/graphql/broadcast.py): after
each subscription's first event, later ones are written straight to the websocket. Each
subscriber still gets exactly its own selection, aliases and variables, and nothing after it
completes."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient, WebSocketDisconnect

from app import auth
from app.db import Database
from app.main import create_app
from tests import conftest
from tests.live import PROGRESS, Connection, connect, post, start_run

DEMO = "demo-definition-honesty"
SMALL = """subscription Small($id: ID!) { runProgress(runId: $id) {
  state: status ... on RunProgressEvent { runId } } }"""


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    app = create_app(conftest.test_settings(seed_demo=True), database_url=database_url)
    with TestClient(app) as test_client:
        yield test_client


def mutate(client: TestClient, key: str, verb: str, run_id: str) -> None:
    post(client, key, f"mutation($id: ID!) {{ {verb}(runId: $id) {{ id }} }}", id=run_id)


def next_event(connection: Connection, operation: str) -> dict[str, object]:
    event = connection.next(operation, "runProgress")
    assert event is not None, f"operation {operation} completed early"
    return event


async def test_each_subscriber_gets_its_own_selection_of_the_one_shared_state(
    client: TestClient, admin_key: str
) -> None:
    run_id, _ = start_run(client, admin_key, definitionId=DEMO, models=["sim-steady"])
    with connect(client, admin_key) as one, connect(client, admin_key) as two:
        full_one = one.subscribe(PROGRESS, {"id": run_id})
        small = one.subscribe(SMALL, {"id": run_id})
        full_two = two.subscribe(PROGRESS, {"id": run_id})
        steps = [(None, "PENDING"), ("pauseRun", "PAUSED"), ("resumeRun", "PENDING")]
        for verb, status in [*steps, ("cancelRun", "CANCELLED")]:
            if verb is not None:
                mutate(client, admin_key, verb, run_id)
            first, second = next_event(one, full_one), next_event(two, full_two)
            assert first["status"] == status
            # The same state, read once: the same payload, down to the moment it was read.
            assert first == second
            assert next_event(one, small) == {"state": status, "runId": run_id}
        for connection, operation in ((one, full_one), (one, small), (two, full_two)):
            assert connection.next(operation, "runProgress") is None  # completed


async def test_a_subscription_the_client_completed_is_sent_nothing_more(
    client: TestClient, admin_key: str
) -> None:
    run_id, _ = start_run(client, admin_key, definitionId=DEMO, models=["sim-steady"])
    with connect(client, admin_key) as connection:
        ended = connection.subscribe(PROGRESS, {"id": run_id})
        assert next_event(connection, ended)["status"] == "PENDING"
        mutate(client, admin_key, "pauseRun", run_id)
        assert next_event(connection, ended)["status"] == "PAUSED"  # sent the direct way
        connection.complete(ended)
        watching = connection.subscribe(SMALL, {"id": run_id})
        assert next_event(connection, watching)["state"] == "PAUSED"
        for verb, status in (("resumeRun", "PENDING"), ("cancelRun", "CANCELLED")):
            mutate(client, admin_key, verb, run_id)
            assert next_event(connection, watching)["state"] == status
        assert connection.next(watching, "runProgress") is None
        assert connection.held(ended) == []


TWO = """subscription A($id: ID!, $x: Boolean!) { runProgress(runId: $id) { status runId @include(if: $x) } }
subscription B($id: ID!, $x: Boolean!) { p: runProgress(runId: $id) { status at @skip(if: $x) } }"""
FRAGMENT = """subscription($id: ID!, $x: Boolean!) { runProgress(runId: $id) { ...F } }
fragment F on RunProgressEvent { status runId @include(if: $x) }"""


async def test_operations_names_directives_and_fragments_are_rendered_apart(
    client: TestClient, admin_key: str
) -> None:
    run_id, _ = start_run(client, admin_key, definitionId=DEMO, models=["sim-steady"])
    expected = {
        ("A", True): lambda s: {"runProgress": {"status": s, "runId": run_id}},
        ("A", False): lambda s: {"runProgress": {"status": s}},
        ("B", True): lambda s: {"p": {"status": s}},
        (None, False): lambda s: {"runProgress": {"status": s}},
        (None, True): lambda s: {"runProgress": {"status": s, "runId": run_id}},
    }
    with connect(client, admin_key) as connection:
        operations = {
            connection.subscribe(
                FRAGMENT if name is None else TWO, {"id": run_id, "x": x}, operation_name=name
            ): render
            for (name, x), render in expected.items()
        }
        skipped = connection.subscribe(TWO, {"id": run_id, "x": False}, operation_name="B")
        steps = [(None, "PENDING"), ("pauseRun", "PAUSED"), ("resumeRun", "PENDING")]
        for verb, status in [*steps, ("cancelRun", "CANCELLED")]:
            if verb is not None:
                mutate(client, admin_key, verb, run_id)
            for operation, render in operations.items():
                message = connection.message(operation)
                assert message["payload"] == {"data": render(status)}, message
            event = connection.message(skipped)["payload"]["data"]["p"]
            assert set(event) == {"status", "at"} and event["status"] == status


async def test_a_revoked_subscriber_is_sent_nothing_and_nothing_is_logged_as_a_bug(
    client: TestClient, admin_key: str, viewer_key: str, db: Database, caplog: Any
) -> None:
    run_id, _ = start_run(client, admin_key, definitionId=DEMO, models=["sim-steady"])
    with (
        caplog.at_level(logging.WARNING),
        connect(client, viewer_key) as viewer,
        connect(client, admin_key) as admin,
    ):
        revoked, watching = (
            viewer.subscribe(PROGRESS, {"id": run_id}),
            admin.subscribe(PROGRESS, {"id": run_id}),
        )
        mutate(client, admin_key, "pauseRun", run_id)
        for connection, operation in ((viewer, revoked), (admin, watching)):
            assert next_event(connection, operation)["status"] == "PENDING"
            assert next_event(connection, operation)["status"] == "PAUSED"  # the direct way
        async with db.transaction() as session:
            await auth.revoke_api_key(session, viewer_key[:10])  # by its hint
        with pytest.raises(WebSocketDisconnect) as closed:
            viewer.message(revoked)
        assert closed.value.code == 4403
        for verb, status in (("resumeRun", "PENDING"), ("cancelRun", "CANCELLED")):
            mutate(client, admin_key, verb, run_id)
            assert next_event(admin, watching)["status"] == status
        assert admin.next(watching, "runProgress") is None
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []
