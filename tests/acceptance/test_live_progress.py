"""Live progress over graphql-transport-ws: Starlette's TestClient websocket, real workers."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from starlette.testclient import TestClient

from app.main import create_app
from tests import conftest
from tests.live import PROGRESS, connect, start_run
from tests.workers import workers

DEMO = "demo-definition-honesty"


@pytest.fixture
def client(database_url: str) -> Iterator[TestClient]:
    app = create_app(conftest.test_settings(seed_demo=True), database_url=database_url)
    with TestClient(app) as test_client:
        yield test_client


def done(event: dict[str, Any]) -> int:
    progress = event["runProgress"]
    return int(progress["completed"]) + int(progress["failed"])


def test_run_progress_streams_a_simulated_run_to_its_end(
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
    assert last["summarizeProgress"] == {"total": jobs, "completed": jobs, "failed": 0}
    assert last["estimatedSecondsRemaining"] == 0
    assert last["estimatedTotalCost"] == last["costSoFar"] > 0
    print(len(events), [(e["status"], done(e)) for e in events])


def test_probe(client: TestClient, admin_key: str) -> None:
    with connect(client, admin_key) as connection:
        operation = connection.subscribe(PROGRESS, {"id": "nope"})
        print(connection.results(operation))
