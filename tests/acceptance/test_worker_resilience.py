"""Workers survive what a hostile operator does to them: `serve`'s worker process killed with
SIGKILL (restarted), `serve` itself killed (its worker follows), every worker connection
terminated by the database, and the database restarted under a running run."""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import tempfile
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from app import migrations
from app.db import Database
from app.embedded import EmbeddedPostgres
from tests.factories import gql
from tests.processes import eventually, eventually_true, log_has, only_child, running
from tests.serve import Server, served
from tests.workers import (
    FAST,
    add_model,
    assert_one_transcript_per_slot,
    scalar,
    wait_for_status,
    wait_until,
    workers,
)

DEMO = "demo-definition-honesty"
START = """mutation($input: StartRunInput!) { startRun(input: $input) { run { id } jobCount } }"""
# Slow enough that a run is still going when the test strikes, quick enough to finish soon.
SLOW = {"latencyMs": 150}


async def start_run_on(server: Server, models: list[str], samples: int) -> tuple[str, int]:
    async with httpx.AsyncClient(timeout=60) as client:
        response = await client.post(
            server.url,
            json={
                "query": START,
                "variables": {
                    "input": {"definitionId": DEMO, "models": models, "samplesPerScenario": samples}
                },
            },
            headers={"Authorization": f"Bearer {server.key}"},
        )
    body: dict[str, Any] = response.json()
    assert "errors" not in body, body
    return body["data"]["startRun"]["run"]["id"], body["data"]["startRun"]["jobCount"]


async def some_transcripts(db: Database, run_id: str, count: int = 3) -> None:
    await wait_until(
        db, "SELECT count(*) >= :n FROM transcripts WHERE run_id = :r", r=run_id, n=count
    )


async def test_serve_restarts_its_killed_worker_process_and_the_run_completes(
    db: Database, database_url: str, tmp_path: Path
) -> None:
    log = tmp_path / "serve.log"
    with served(database_url, tmp_path, log=log, LOG_LEVEL="info", **_quiet(FAST)) as server:
        await add_model(db, "sim-slow", SLOW)  # once serve has loaded the demo providers
        child = await only_child(server.process.pid)
        run_id, slots = await start_run_on(server, ["sim-slow"], samples=4)
        await some_transcripts(db, run_id)
        os.kill(child, signal.SIGKILL)
        await eventually(
            lambda: log_has(log, f"worker process {child} killed by SIGKILL; restarting"),
            "serve logs the death of its worker process",
        )
        replacement = await only_child(server.process.pid, other_than=child)
        await wait_for_status(db, run_id, {"COMPLETED"})
        await assert_one_transcript_per_slot(db, run_id, slots)
    # A clean shutdown stops the worker process and does not restart it.
    await eventually(lambda: not running(replacement), "the worker process stops with serve")
    assert log.read_text().count("; restarting it in") == 1


async def test_a_killed_serve_takes_its_worker_process_with_it(
    database_url: str, tmp_path: Path
) -> None:
    with served(database_url, tmp_path, **_quiet(FAST)) as server:
        child = await only_child(server.process.pid)
        server.process.kill()
        server.process.wait()
        await eventually(lambda: not running(child), "the orphaned worker process stops itself")


async def test_workers_ride_out_the_database_terminating_their_connections(
    app_client: httpx.AsyncClient, admin_key: str, db: Database, database_url: str
) -> None:
    await add_model(db, "sim-slow", SLOW)
    body = await gql(
        app_client,
        START,
        {"input": {"definitionId": DEMO, "models": ["sim-slow"], "samplesPerScenario": 4}},
        key=admin_key,
    )
    run_id, slots = body["data"]["startRun"]["run"]["id"], body["data"]["startRun"]["jobCount"]
    with workers(
        database_url, WORKER_CONCURRENCY="4", PGAPPNAME="valuerank-worker", LOG_LEVEL="info"
    ) as (worker,):
        await some_transcripts(db, run_id)
        terminated = await scalar(
            db,
            """SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity
               WHERE datname = current_database() AND application_name = 'valuerank-worker'""",
        )
        assert terminated > 0
        await wait_for_status(db, run_id, {"COMPLETED"})
        assert worker.poll() is None  # still running: the outage did not end the process
    await assert_one_transcript_per_slot(db, run_id, slots)


@pytest.fixture
async def private_postgres() -> AsyncIterator[EmbeddedPostgres]:
    """A PostgreSQL of this test's own, which it may stop and start. Its data lives outside
    pytest's temporary root: that root is mode 0700 and another pytest session on the machine
    re-tightens it, after which the unprivileged `pgserver` user can no longer stop or start
    the server (pg_ctl: Permission denied)."""
    data = Path(tempfile.mkdtemp(prefix="valuerank-private-pg-"))
    postgres = EmbeddedPostgres(data)
    url = await asyncio.to_thread(postgres.start)
    try:
        await asyncio.to_thread(migrations.upgrade, url)
        yield postgres
    finally:
        await asyncio.to_thread(postgres.stop)
        shutil.rmtree(data, ignore_errors=True)


async def test_server_and_workers_reconnect_after_postgres_restarts_mid_run(
    private_postgres: EmbeddedPostgres, tmp_path: Path
) -> None:
    url = private_postgres.url("valuerank")
    log = tmp_path / "serve.log"
    db = Database(url, pool_size=2)
    try:
        with served(url, tmp_path, log=log, LOG_LEVEL="info", **_quiet(FAST)) as server:
            await add_model(db, "sim-slow", SLOW)
            child = await only_child(server.process.pid)
            run_id, slots = await start_run_on(server, ["sim-slow"], samples=4)
            await some_transcripts(db, run_id)
            await asyncio.to_thread(private_postgres.stop)
            down = await _readyz(server)
            assert down.status_code == 503, down.text
            assert down.json()["checks"]["database"].startswith("unreachable")
            await eventually(
                lambda: log_has(log, "database unavailable"), "the workers notice the outage"
            )
            assert await asyncio.to_thread(private_postgres.start) == url
            await eventually_true(
                lambda: _is_ready(server), "/readyz answers 200 once the database is back"
            )
            await wait_for_status(db, run_id, {"COMPLETED"})
            await assert_one_transcript_per_slot(db, run_id, slots)
            # The server answers again, and the same worker process did the rest of the run.
            status = await _run_status_over_http(server, run_id)
            assert status == "COMPLETED"
            assert running(child) and "; restarting it in" not in log.read_text()
    finally:
        await db.dispose()


async def _readyz(server: Server) -> httpx.Response:
    async with httpx.AsyncClient(timeout=60) as client:
        return await client.get(server.url.removesuffix("/graphql") + "/readyz")


async def _is_ready(server: Server) -> bool:
    return (await _readyz(server)).status_code == 200


async def _run_status_over_http(server: Server, run_id: str) -> str:
    async with httpx.AsyncClient(timeout=60) as client:
        response = await client.post(
            server.url,
            json={
                "query": "query($id: ID!) { run(id: $id) { status } }",
                "variables": {"id": run_id},
            },
            headers={"Authorization": f"Bearer {server.key}"},
        )
    return str(response.json()["data"]["run"]["status"])


def _quiet(env: dict[str, str]) -> dict[str, str]:
    """The fast test settings, minus their log level (these tests read serve's info lines)."""
    return {k: v for k, v in env.items() if k != "LOG_LEVEL"}
