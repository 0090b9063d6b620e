"""Money: the ledger of provider calls, the spend cap across worker processes, and a cancelled
run frozen. Real worker processes calling the simulated provider (real code, no network)."""

from __future__ import annotations

import json
from typing import Any

import httpx
from sqlmodel.ext.asyncio.session import AsyncSession

from app.db import Database
from app.runs.live import snapshot
from tests.factories import error_codes, gql
from tests.workers import (
    assert_one_transcript_per_slot,
    execute,
    scalar,
    wait_for_status,
    wait_until,
    workers,
)

DEMO = "demo-definition-honesty"
START = """mutation($input: StartRunInput!) {
    startRun(input: $input) { run { id maxBudgetUsd } jobCount } }"""
SPEND = """query($id: ID!) { run(id: $id) { status pauseReason maxBudgetUsd
    spend { total probes summaries failedCalls estimatedPart callCount } } }"""
LEDGER_TOTAL = "SELECT coalesce(sum(cost_usd), 0) FROM provider_calls WHERE run_id = :r"
IN_FLIGHT = "SELECT count(*) = 0 FROM provider_calls WHERE run_id = :r AND outcome IS NULL"


async def add_model(db: Database, model_id: str, config: dict[str, Any], prices: float) -> None:
    """A simulated model at `prices` USD per million tokens, input and output alike."""
    await execute(
        db,
        """
        INSERT INTO llm_models (id, provider_id, model_id, display_name, cost_input_per_million,
                                cost_output_per_million, api_config)
        SELECT :id, id, :model, :model, :price, :price, CAST(:config AS jsonb)
        FROM llm_providers WHERE name = 'simulated'
        """,
        id=f"m-{model_id}",
        model=model_id,
        price=prices,
        config=json.dumps(config),
    )


async def start(client: httpx.AsyncClient, key: str, **fields: Any) -> tuple[str, int]:
    body = await gql(client, START, {"input": {"definitionId": DEMO, **fields}}, key=key)
    assert "errors" not in body, body
    return body["data"]["startRun"]["run"]["id"], body["data"]["startRun"]["jobCount"]


async def run_spend(client: httpx.AsyncClient, key: str, run_id: str) -> dict[str, Any]:
    body = await gql(client, SPEND, {"id": run_id}, key=key)
    assert "errors" not in body, body
    return dict(body["data"]["run"])


async def mutate(
    client: httpx.AsyncClient, key: str, mutation: str, **variables: Any
) -> dict[str, Any]:
    return await gql(client, mutation, variables, key=key)


async def test_a_cap_holds_across_two_worker_processes_and_resumes_once_raised(
    app_client: httpx.AsyncClient, admin_key: str, db: Database, database_url: str
) -> None:
    await add_model(db, "sim-priced", {"latencyMs": 150}, prices=10.0)
    cap = 0.01  # a handful of calls' worth; the run needs many more
    run_id, jobs = await start(
        app_client, admin_key, models=["sim-priced"], samplesPerScenario=6, maxBudgetUsd=cap
    )
    with workers(database_url, count=2, WORKER_CONCURRENCY="16"):
        await wait_for_status(db, run_id, {"PAUSED"})
        await wait_until(db, IN_FLIGHT, r=run_id)
        paused = await run_spend(app_client, admin_key, run_id)
        assert paused["pauseReason"] == "BUDGET_EXHAUSTED"
        largest = await scalar(
            db, "SELECT max(cost_usd) FROM provider_calls WHERE run_id = :r", r=run_id
        )
        total = await scalar(db, LEDGER_TOTAL, r=run_id)
        assert 0 < total <= cap + largest
        assert paused["spend"]["total"] == total
        # What a runProgress subscriber is sent now: the reason, the spend and the cap.
        async with db.session() as session:
            event = await snapshot.read_snapshot(session, run_id, 1, None, _no_estimates)
        assert event is not None and event.pause_reason == "BUDGET_EXHAUSTED"
        assert (event.spend.total, event.max_budget_usd) == (total, cap)
        assert (
            await scalar(db, "SELECT count(*) FROM probe_results WHERE run_id = :r", r=run_id)
            < jobs
        )

        # Lowered to what is spent, the cap leaves no room for one more call.
        update = "mutation($id: ID!, $cap: Float) { updateRun(runId: $id, input: {maxBudgetUsd: $cap}) { maxBudgetUsd status } }"
        lowered = await mutate(app_client, admin_key, update, id=run_id, cap=total)
        assert lowered["data"]["updateRun"] == {"maxBudgetUsd": total, "status": "PAUSED"}
        refused = await mutate(
            app_client,
            admin_key,
            "mutation($id: ID!) { resumeRun(runId: $id) { status } }",
            id=run_id,
        )
        assert error_codes(refused) == ["RUN_STATE_ERROR"]
        message = refused["errors"][0]["message"]
        assert f"${total:.6f} spent of maxBudgetUsd ${total:.6f}" in message, message

        raised = await mutate(
            app_client,
            admin_key,
            "mutation($id: ID!) { updateRun(runId: $id, input: {maxBudgetUsd: 1000}) "
            "{ maxBudgetUsd status } }",
            id=run_id,
        )
        assert raised["data"]["updateRun"] == {"maxBudgetUsd": 1000.0, "status": "PAUSED"}, raised
        resumed = await mutate(
            app_client,
            admin_key,
            "mutation($id: ID!) { resumeRun(runId: $id) { status pauseReason } }",
            id=run_id,
        )
        assert resumed["data"]["resumeRun"] == {"status": "RUNNING", "pauseReason": None}, resumed
        await wait_for_status(db, run_id, {"COMPLETED"})
    await assert_one_transcript_per_slot(db, run_id, jobs)


async def test_the_cap_stops_summaries_too_and_resume_finishes_them(
    app_client: httpx.AsyncClient, admin_key: str, db: Database, database_url: str
) -> None:
    """Probes are cheap and the summarizer dear: the cap is met while summarizing, the run
    pauses with summaries still pending, and once the cap is raised resumeRun finishes them."""
    await add_model(db, "sim-cheap", {}, prices=1.0)
    await add_model(db, "sim-dear-summarizer", {}, prices=1000.0)
    cap = 3.0  # every probe, and about a third of the 48 summaries
    run_id, jobs = await start(
        app_client, admin_key, models=["sim-cheap"], samplesPerScenario=8, maxBudgetUsd=cap
    )
    env = {"WORKER_CONCURRENCY": "8", "SUMMARIZER_MODEL": "sim-dear-summarizer"}
    with workers(database_url, count=2, **env):
        await wait_for_status(db, run_id, {"PAUSED"})
        await wait_until(db, IN_FLIGHT, r=run_id)
        paused = await run_spend(app_client, admin_key, run_id)
        assert paused["pauseReason"] == "BUDGET_EXHAUSTED"
        assert (
            await scalar(db, "SELECT count(*) FROM probe_results WHERE run_id = :r", r=run_id)
            == jobs
        )
        pending = await scalar(
            db,
            "SELECT count(*) FROM transcripts WHERE run_id = :r AND summary_status = 'PENDING'",
            r=run_id,
        )
        assert 0 < pending < jobs
        largest = await scalar(
            db, "SELECT max(cost_usd) FROM provider_calls WHERE run_id = :r", r=run_id
        )
        total = await scalar(db, LEDGER_TOTAL, r=run_id)
        assert paused["spend"]["summaries"] > 0
        assert total == paused["spend"]["total"] <= cap + largest
        raise_cap = (
            "mutation($id: ID!) { updateRun(runId: $id, input: {maxBudgetUsd: 1000}) { status } }"
        )
        assert "errors" not in await mutate(app_client, admin_key, raise_cap, id=run_id)
        resumed = await mutate(
            app_client,
            admin_key,
            "mutation($id: ID!) { resumeRun(runId: $id) { pauseReason } }",
            id=run_id,
        )
        assert resumed["data"]["resumeRun"] == {"pauseReason": None}, resumed
        await wait_for_status(db, run_id, {"COMPLETED"})
    unsummarized = await scalar(
        db,
        "SELECT count(*) FROM transcripts WHERE run_id = :r AND summary_status <> 'SUMMARIZED'",
        r=run_id,
    )
    assert unsummarized == 0
    # One SUMMARY call per transcript: none was made twice across the pause.
    summary_calls = await scalar(
        db,
        "SELECT count(*) FROM provider_calls WHERE run_id = :r AND purpose = 'SUMMARY'",
        r=run_id,
    )
    twice = await scalar(
        db,
        """SELECT coalesce(string_agg(transcript_id || ':' || outcomes, ' '), '') FROM (
               SELECT transcript_id, string_agg(coalesce(outcome, 'OPEN') || '@' || attempt, ',')
                   AS outcomes
               FROM provider_calls WHERE run_id = :r AND purpose = 'SUMMARY'
               GROUP BY transcript_id HAVING count(*) > 1) t""",
        r=run_id,
    )
    assert summary_calls == jobs, twice
    await assert_one_transcript_per_slot(db, run_id, jobs)


async def test_a_cap_on_an_unpriced_model_is_refused_and_writes_nothing(
    app_client: httpx.AsyncClient, admin_key: str, db: Database
) -> None:
    await add_model(db, "sim-free", {}, prices=0.0)
    body = await gql(
        app_client,
        START,
        {"input": {"definitionId": DEMO, "models": ["sim-instant", "sim-free"], "maxBudgetUsd": 5}},
        key=admin_key,
    )
    assert error_codes(body) == ["VALIDATION_ERROR"]
    assert body["errors"][0]["message"] == "maxBudgetUsd needs prices: sim-free have none"
    assert await scalar(db, "SELECT count(*) FROM runs") == 0
    assert await scalar(db, "SELECT count(*) FROM procrastinate_jobs") == 0

    run_id, _ = await start(app_client, admin_key, models=["sim-free"])
    update = "mutation($id: ID!, $cap: Float) { updateRun(runId: $id, input: {maxBudgetUsd: $cap}) { maxBudgetUsd } }"
    refused = await mutate(app_client, admin_key, update, id=run_id, cap=2.5)
    assert refused["errors"][0]["message"] == "maxBudgetUsd needs prices: sim-free have none"
    assert await scalar(db, "SELECT max_budget_usd FROM runs WHERE id = :r", r=run_id) is None


async def test_the_ledger_counts_every_attempt_once_with_the_summaries(
    app_client: httpx.AsyncClient, admin_key: str, db: Database, database_url: str
) -> None:
    await add_model(db, "sim-retrying", {"failureRate": 0.5}, prices=1.0)
    await add_model(db, "sim-broken", {"failAlways": True}, prices=1.0)
    run_id, jobs = await start(
        app_client, admin_key, models=["sim-retrying", "sim-broken"], samplesPerScenario=2
    )
    with workers(database_url, WORKER_CONCURRENCY="8"):
        await wait_for_status(db, run_id, {"COMPLETED"})
    # One PROBE row per attempt of each slot (its retries, then the last), nothing doubled.
    mismatched = await scalar(
        db,
        """
        SELECT count(*) FROM probe_results p
        WHERE p.run_id = :r AND p.retry_count + 1 <> (
            SELECT count(*) FROM provider_calls c
            WHERE c.run_id = p.run_id AND c.purpose = 'PROBE' AND c.scenario_id = p.scenario_id
              AND c.model_id = p.model_id AND c.sample_index = p.sample_index)
        """,
        r=run_id,
    )
    assert mismatched == 0
    retried = await scalar(
        db,
        "SELECT count(*) FROM provider_calls WHERE run_id = :r AND outcome = 'RETRIED'",
        r=run_id,
    )
    assert retried > 0
    failed = await scalar(
        db, "SELECT count(*) FROM probe_results WHERE run_id = :r AND status = 'FAILED'", r=run_id
    )
    assert failed >= jobs // 2  # every slot of the broken model
    summaries = await scalar(
        db,
        "SELECT count(*) FROM provider_calls WHERE run_id = :r AND purpose = 'SUMMARY'",
        r=run_id,
    )
    transcripts = await scalar(db, "SELECT count(*) FROM transcripts WHERE run_id = :r", r=run_id)
    assert summaries == transcripts > 0
    spent = (await run_spend(app_client, admin_key, run_id))["spend"]
    rows = await scalar(db, "SELECT count(*) FROM provider_calls WHERE run_id = :r", r=run_id)
    assert spent["callCount"] == rows
    assert abs(spent["total"] - await scalar(db, LEDGER_TOTAL, r=run_id)) < 1e-12
    assert abs(spent["total"] - spent["probes"] - spent["summaries"]) < 1e-12
    assert spent["failedCalls"] > 0 and spent["estimatedPart"] >= spent["failedCalls"]


async def test_a_cancelled_run_is_frozen_and_its_aborted_calls_are_in_the_ledger(
    app_client: httpx.AsyncClient, admin_key: str, db: Database, database_url: str
) -> None:
    await add_model(db, "sim-slow", {"latencyMs": 1500}, prices=1.0)
    run_id, _ = await start(app_client, admin_key, models=["sim-slow"], samplesPerScenario=4)
    with workers(database_url, WORKER_CONCURRENCY="8"):
        await wait_until(
            db,
            "SELECT count(*) >= 4 FROM provider_calls WHERE run_id = :r AND outcome IS NULL",
            r=run_id,
        )
        cancelled = await mutate(
            app_client,
            admin_key,
            "mutation($id: ID!) { cancelRun(runId: $id) { status } }",
            id=run_id,
        )
        assert cancelled["data"]["cancelRun"]["status"] == "CANCELLED", cancelled
        frozen = await _run_state(db, run_id)
        await wait_until(db, IN_FLIGHT, r=run_id)
        assert await _run_state(db, run_id) == frozen
    assert await _run_state(db, run_id) == frozen
    settled = await scalar(
        db,
        "SELECT count(*) FROM provider_calls WHERE run_id = :r AND outcome IN ('ABORTED', 'SUCCESS')",
        r=run_id,
    )
    assert settled >= 4
    spent = (await run_spend(app_client, admin_key, run_id))["spend"]
    assert spent["total"] > 0 and spent["callCount"] >= 4


async def _no_estimates(session: AsyncSession, models: list[str]) -> dict[str, float]:
    return {}


async def _run_state(db: Database, run_id: str) -> str:
    """Everything a user could see change about a run: status, counts, transcripts, results."""
    return str(
        await scalar(
            db,
            """
            SELECT r.status || '|' || r.updated_at || '|' ||
                   (SELECT count(*) FROM transcripts t WHERE t.run_id = r.id) || '|' ||
                   (SELECT count(*) || ':' || coalesce(max(completed_at)::text, '')
                    FROM probe_results p WHERE p.run_id = r.id)
            FROM runs r WHERE r.id = :r
            """,
            r=run_id,
        )
    )
