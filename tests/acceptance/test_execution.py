"""Runs executed by real worker processes (`python -m workers`) against PostgreSQL."""

from __future__ import annotations

import asyncio
import os
import signal

import httpx
import pytest

from app.db import Database
from tests.factories import gql
from tests.workers import add_model, execute, scalar, wait_for_status, wait_until, workers

START = """mutation($input: StartRunInput!) {
  startRun(input: $input) { run { id status } jobCount } }"""
DEMO = "demo-definition-honesty"


async def start(client: httpx.AsyncClient, key: str, **input_: object) -> tuple[str, int]:
    body = await gql(client, START, {"input": {"definitionId": DEMO, **input_}}, key=key)
    assert "errors" not in body, body
    payload = body["data"]["startRun"]
    return payload["run"]["id"], payload["jobCount"]


async def test_a_simulated_run_completes_with_one_summarized_transcript_per_slot(
    app_client: httpx.AsyncClient, admin_key: str, db: Database, database_url: str
) -> None:
    run_id, jobs = await start(
        app_client, admin_key, models=["sim-instant", "sim-steady"], samplesPerScenario=2
    )
    assert jobs == 6 * 2 * 2
    with workers(database_url):
        await wait_for_status(db, run_id, {"COMPLETED", "FAILED", "CANCELLED"})
    body = await gql(
        app_client,
        """query($id: ID!) { run(id: $id) { status startedAt completedAt
            progress { total completed failed }
            summarizeProgress { total completed failed }
            transcripts { modelId scenarioId sampleIndex decisionCode decisionText
                          tokenCount estimatedCost modelVersion content } } }""",
        {"id": run_id},
        key=admin_key,
    )
    run = body["data"]["run"]
    assert run["status"] == "COMPLETED"
    assert run["startedAt"] and run["completedAt"]
    assert run["progress"] == {"total": 24, "completed": 24, "failed": 0}
    assert run["summarizeProgress"] == {"total": 24, "completed": 24, "failed": 0}
    slots = {(t["modelId"], t["scenarioId"], t["sampleIndex"]) for t in run["transcripts"]}
    assert len(slots) == len(run["transcripts"]) == 24
    for transcript in run["transcripts"]:
        assert transcript["decisionCode"] in {"1", "2", "3", "4", "5"}
        assert transcript["decisionText"]
        assert transcript["tokenCount"] > 0 and transcript["estimatedCost"] > 0
        assert transcript["modelVersion"].endswith("-sim")
        roles = [m["role"] for m in transcript["content"]["messages"]]
        assert roles[:2] == ["user", "assistant"]


async def test_a_model_that_always_fails_ends_the_run_failed(
    app_client: httpx.AsyncClient, admin_key: str, db: Database, database_url: str
) -> None:
    await add_model(db, "sim-broken", {"failAlways": True})
    run_id, jobs = await start(app_client, admin_key, models=["sim-broken"])
    with workers(database_url):
        assert await wait_for_status(db, run_id, {"COMPLETED", "FAILED"}) == "FAILED"
    body = await gql(
        app_client,
        """query($id: ID!) { run(id: $id) { completedAt progress { completed failed }
            failedProbes { errorCode errorMessage } transcriptCount } }""",
        {"id": run_id},
        key=admin_key,
    )
    run = body["data"]["run"]
    assert run["completedAt"] and run["transcriptCount"] == 0
    assert run["progress"] == {"completed": 0, "failed": jobs}
    assert {p["errorCode"] for p in run["failedProbes"]} == {"BAD_REQUEST"}


async def test_retryable_failures_are_retried_until_they_succeed(
    app_client: httpx.AsyncClient, admin_key: str, db: Database, database_url: str
) -> None:
    # Half the calls fail with a retryable error; with four attempts nearly all slots succeed,
    # and whatever still fails is recorded FAILED after its last attempt, never lost.
    await add_model(db, "sim-shaky", {"failureRate": 0.5})
    run_id, jobs = await start(app_client, admin_key, models=["sim-shaky"], samplesPerScenario=3)
    with workers(database_url):
        await wait_for_status(db, run_id, {"COMPLETED", "FAILED"})
    retried = await scalar(
        db, "SELECT count(*) FROM probe_results WHERE run_id = :r AND retry_count > 0", r=run_id
    )
    results = await scalar(db, "SELECT count(*) FROM probe_results WHERE run_id = :r", r=run_id)
    assert results == jobs
    assert retried > 0


async def test_killing_a_worker_mid_run_loses_and_doubles_nothing(
    app_client: httpx.AsyncClient, admin_key: str, db: Database, database_url: str
) -> None:
    await add_model(db, "sim-slow", {"latencyMs": 400})
    run_id, jobs = await start(app_client, admin_key, models=["sim-slow"], samplesPerScenario=4)
    with workers(database_url, WORKER_CONCURRENCY="4") as (first,):
        await wait_until(db, "SELECT count(*) >= 2 FROM transcripts WHERE run_id = :r", r=run_id)
        os.kill(first.pid, signal.SIGKILL)
        first.wait()
    assert await scalar(
        db, "SELECT count(*) < :n FROM probe_results WHERE run_id = :r", r=run_id, n=jobs
    )
    with workers(database_url, WORKER_CONCURRENCY="4"):
        await wait_for_status(db, run_id, {"COMPLETED"})
    assert await scalar(db, "SELECT count(*) FROM transcripts WHERE run_id = :r", r=run_id) == jobs
    assert (
        await scalar(
            db,
            """SELECT count(*) FROM (SELECT 1 FROM transcripts WHERE run_id = :r
               GROUP BY scenario_id, model_id, sample_index HAVING count(*) > 1) d""",
            r=run_id,
        )
        == 0
    )


ESTIMATE = """query($d: ID!, $m: [String!]!) { estimateCost(definitionId: $d, models: $m,
  samplesPerScenario: 2) { total scenarioCount basedOnSampleCount isUsingFallback fallbackReason
  perModel { modelId scenarioCount inputTokens avgInputPerProbe sampleCount isUsingFallback
             totalCost } } }"""


async def test_estimate_cost_falls_back_then_learns_from_transcripts(
    app_client: httpx.AsyncClient, admin_key: str, db: Database, database_url: str
) -> None:
    before = (await gql(app_client, ESTIMATE, {"d": DEMO, "m": ["sim-instant"]}, key=admin_key))[
        "data"
    ]["estimateCost"]
    assert before["isUsingFallback"] and before["fallbackReason"]
    assert before["scenarioCount"] == 6 and before["total"] > 0
    run_id, _ = await start(app_client, admin_key, models=["sim-instant"])
    with workers(database_url):
        await wait_for_status(db, run_id, {"COMPLETED"})
    after = (await gql(app_client, ESTIMATE, {"d": DEMO, "m": ["sim-instant"]}, key=admin_key))[
        "data"
    ]["estimateCost"]
    model = after["perModel"][0]
    assert not after["isUsingFallback"] and after["fallbackReason"] is None
    assert model["sampleCount"] == 6 and after["basedOnSampleCount"] == 6
    observed = await scalar(
        db, "SELECT avg(input_tokens) FROM transcripts WHERE run_id = :r", r=run_id
    )
    assert model["avgInputPerProbe"] == pytest.approx(float(observed))
    assert model["inputTokens"] == pytest.approx(float(observed) * 12)
    body = await gql(app_client, ESTIMATE, {"d": "nope", "m": ["sim-instant"]}, key=admin_key)
    assert body["errors"][0]["extensions"]["code"] == "NOT_FOUND"


QUEUE = """{ queueStatus { isRunning isPaused totals { pending active completed failed }
  jobTypes { type pending active completed failed } } }"""


async def test_pause_queue_holds_dispatch_in_every_worker_process(
    app_client: httpx.AsyncClient, admin_key: str, db: Database, database_url: str
) -> None:
    await add_model(db, "sim-slow", {"latencyMs": 300})
    paused = await gql(app_client, "mutation { pauseQueue { isPaused } }", key=admin_key)
    assert paused["data"]["pauseQueue"] == {"isPaused": True}
    run_id, jobs = await start(app_client, admin_key, models=["sim-slow"], samplesPerScenario=2)
    with workers(database_url, count=2):
        await wait_until(db, "SELECT count(*) > 0 FROM procrastinate_workers")
        await asyncio.sleep(1.5)  # long enough for idle workers to have fetched jobs
        assert (
            await scalar(db, "SELECT count(*) FROM probe_results WHERE run_id = :r", r=run_id) == 0
        )
        assert await scalar(db, "SELECT status FROM runs WHERE id = :r", r=run_id) == "PENDING"
        status = (await gql(app_client, QUEUE, key=admin_key))["data"]["queueStatus"]
        assert status["isRunning"] and status["isPaused"]
        # The run's probe jobs, held: the periodic maintenance job a starting worker defers may
        # be running at this moment too, so the totals over every task are not the measure.
        (probes,) = [t for t in status["jobTypes"] if t["type"] == "probe_scenario"]
        assert probes["pending"] + probes["active"] == jobs
        assert status["totals"]["pending"] + status["totals"]["active"] >= jobs
        resumed = await gql(app_client, "mutation { resumeQueue { isPaused } }", key=admin_key)
        assert resumed["data"]["resumeQueue"] == {"isPaused": False}
        await wait_for_status(db, run_id, {"COMPLETED"})
    retries = await scalar(
        db, "SELECT coalesce(sum(retry_count), 0) FROM probe_results WHERE run_id = :r", r=run_id
    )
    assert retries == 0  # holding dispatch used up no attempt


METRICS = """query($id: ID!) { run(id: $id) { stalledModels executionMetrics {
  totalActive totalQueued totalRetries estimatedSecondsRemaining
  providers { provider activeJobs queuedJobs maxParallel requestsPerMinute activeModelIds
              recentCompletions { modelId success durationMs } } } } }"""


async def test_execution_metrics_read_the_queue_while_a_run_executes(
    app_client: httpx.AsyncClient, admin_key: str, db: Database, database_url: str
) -> None:
    await add_model(db, "sim-slow", {"latencyMs": 400})
    await execute(db, "UPDATE llm_providers SET max_parallel_requests = 2 WHERE name = 'simulated'")
    run_id, jobs = await start(app_client, admin_key, models=["sim-slow"], samplesPerScenario=2)
    queued = (await gql(app_client, METRICS, {"id": run_id}, key=admin_key))["data"]["run"]
    assert queued["executionMetrics"]["totalQueued"] == jobs
    assert queued["stalledModels"] == []
    with workers(database_url):
        # The metrics read the queue: wait until it has two finished jobs (a probe's result is
        # committed a moment before its job is marked done, so counting results raced).
        await wait_until(
            db,
            "SELECT count(*) >= 2 FROM procrastinate_jobs "
            "WHERE args->>'runId' = :r AND status = 'succeeded'",
            r=run_id,
        )
        run = (await gql(app_client, METRICS, {"id": run_id}, key=admin_key))["data"]["run"]
        await wait_for_status(db, run_id, {"COMPLETED"})
    metrics = run["executionMetrics"]
    (provider,) = metrics["providers"]
    assert provider["provider"] == "simulated" and provider["maxParallel"] == 2
    assert provider["activeJobs"] <= 2  # the provider's limit, not the worker's concurrency
    assert metrics["totalActive"] + metrics["totalQueued"] <= jobs - 2
    assert provider["recentCompletions"] and provider["recentCompletions"][0]["success"]
    assert metrics["estimatedSecondsRemaining"] is not None


async def test_recover_run_requeues_slots_whose_jobs_were_lost(
    app_client: httpx.AsyncClient, admin_key: str, db: Database, database_url: str
) -> None:
    run_id, jobs = await start(app_client, admin_key, models=["sim-instant"])
    await execute(db, "DELETE FROM procrastinate_jobs WHERE args->>'runId' = :r", r=run_id)
    recover = (
        """mutation($id: ID!) { recoverRun(runId: $id) { action requeuedCount run { id } } }"""
    )
    body = await gql(app_client, recover, {"id": run_id}, key=admin_key)
    assert body["data"]["recoverRun"] == {
        "action": "REQUEUED",
        "requeuedCount": jobs,
        "run": {"id": run_id},
    }
    again = await gql(app_client, recover, {"id": run_id}, key=admin_key)
    assert again["data"]["recoverRun"]["action"] == "NONE"  # nothing lost twice
    with workers(database_url):
        await wait_for_status(db, run_id, {"COMPLETED"})
    sweep = await gql(
        app_client, "mutation { triggerRecovery { detected recovered errors } }", key=admin_key
    )
    assert sweep["data"]["triggerRecovery"] == {"detected": 0, "recovered": 0, "errors": 0}
    missing = await gql(app_client, recover, {"id": "no-such-run"}, key=admin_key)
    assert missing["errors"][0]["message"] == "Run not found: no-such-run"
