"""One rendering of a run's state, sent to all its subscribers (app/graphql/broadcast.py): after
each subscription's first event, later ones are written straight to the websocket. Each
subscriber still gets exactly its own selection, aliases and variables, and nothing after it
completes."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from starlette.testclient import TestClient

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
