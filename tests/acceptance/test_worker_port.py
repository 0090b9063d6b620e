"""A worker process's own port: /metrics counts each provider call once, by provider and
outcome, beside queue depth; /healthz and /readyz answer orchestrators."""

from __future__ import annotations

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from app.db import Database
from tests.factories import gql
from tests.processes import eventually_true
from tests.serve import free_port
from tests.workers import add_model, scalar, start_worker, stop_worker, wait_for_status

START = "mutation($input: StartRunInput!) { startRun(input: $input) { run { id } jobCount } }"
Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]


async def scrape(client: httpx.AsyncClient) -> Samples:
    text = (await client.get("/metrics")).text
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


async def test_the_worker_port_counts_calls_once_and_answers_probes(
    app_client: httpx.AsyncClient, admin_key: str, db: Database, database_url: str
) -> None:
    await add_model(db, "sim-priced", {})  # $1 / $2 per million tokens: spend to count
    await gql(app_client, "mutation { pauseQueue { isPaused } }", key=admin_key)
    body = await gql(
        app_client,
        START,
        {"input": {"definitionId": "demo-definition-honesty", "models": ["sim-priced"]}},
        key=admin_key,
    )
    run_id, slots = body["data"]["startRun"]["run"]["id"], body["data"]["startRun"]["jobCount"]
    port = free_port()
    worker = start_worker(database_url, WORKER_METRICS_PORT=str(port))
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as port_:

            async def answering() -> bool:
                try:
                    return (await port_.get("/healthz")).status_code == 200
                except httpx.TransportError:
                    return False

            await eventually_true(answering, "the worker's port answers")
            ready = await port_.get("/readyz")
            assert ready.status_code == 200
            assert ready.json()["checks"] == {"database": "ok", "migrations": "ok"}
            # The queue is paused: every probe waits, queued or taken by the worker and held
            # at dispatch (a paused worker still fetches jobs, then holds them).
            held = await scrape(port_)
            todo = ("valuerank_queue_jobs", (("queue", "probe_simulated"), ("status", "todo")))
            doing = ("valuerank_queue_jobs", (("queue", "probe_simulated"), ("status", "doing")))
            assert held.get(todo, 0) + held.get(doing, 0) == slots

            await gql(app_client, "mutation { resumeQueue { isPaused } }", key=admin_key)
            await wait_for_status(db, run_id, {"COMPLETED"})
            found = await scrape(port_)
    finally:
        stop_worker(worker)
    assert worker.returncode == 0
    # Each turn of each probe is one call, and each summary one more: counted once each.
    calls = await scalar(
        db, "SELECT sum(turn_count) + count(*) FROM transcripts WHERE run_id = :r", r=run_id
    )
    simulated = (("provider", "simulated"),)
    assert found[("valuerank_provider_calls_total", (("outcome", "success"), *simulated))] == calls
    assert found[("valuerank_provider_call_duration_seconds_count", simulated)] == calls
    assert found[("valuerank_provider_calls_in_flight", simulated)] == 0
    assert todo not in found and doing not in found  # nothing waits any more
    spent = sum(v for (name, _), v in found.items() if name == "valuerank_spend_usd_total")
    in_ledger = await scalar(
        db, "SELECT coalesce(sum(cost_usd), 0) FROM provider_calls WHERE run_id = :r", r=run_id
    )
    assert spent == pytest.approx(float(in_ledger)) and spent > 0
    jobs = "valuerank_jobs_total"
    assert found[(jobs, (("outcome", "done"), ("queue", "probe_simulated")))] == slots
    assert found[(jobs, (("outcome", "done"), ("queue", "summarize")))] == slots
