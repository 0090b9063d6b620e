"""purgeRuns over GraphQL: what it reports is exactly what goes (and dryRun removes nothing),
active runs stay, keepLatest keeps the newest, and each refusal's code and message."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from app.db import Database
from tests.factories import add_slot, error_codes, gql, make_definition, make_run

PURGE = """
mutation Purge($olderThan: DateTime, $keepLatest: Int, $statuses: [String!],
               $definitionId: String, $dryRun: Boolean) {
  purgeRuns(olderThan: $olderThan, keepLatest: $keepLatest, statuses: $statuses,
            definitionId: $definitionId, dryRun: $dryRun) { count runIds }
}
"""
# Every table that holds a row of a run, and how to count that run's rows in it.
OWNED = {
    "runs": "SELECT count(*) FROM runs WHERE id = ANY(:ids)",
    "transcripts": "SELECT count(*) FROM transcripts WHERE run_id = ANY(:ids)",
    "probe_results": "SELECT count(*) FROM probe_results WHERE run_id = ANY(:ids)",
    "selections": "SELECT count(*) FROM run_scenario_selections WHERE run_id = ANY(:ids)",
    "leases": "SELECT count(*) FROM provider_leases WHERE run_id = ANY(:ids)",
    "jobs": "SELECT count(*) FROM procrastinate_jobs WHERE args->>'runId' = ANY(:ids)",
}
# A queued job, a provider lease and a scenario selection for a run.
BELONGINGS = """
INSERT INTO procrastinate_jobs (queue_name, task_name, args, status)
VALUES ('probe_x', 'probe_scenario', jsonb_build_object('runId', CAST(:run AS text)), 'succeeded');
INSERT INTO provider_leases (provider_id, run_id, model_id, expires_at)
SELECT id, CAST(:run AS text), 'sim-steady', now() FROM llm_providers LIMIT 1;
INSERT INTO run_scenario_selections (id, run_id, scenario_id)
VALUES ('sel-' || CAST(:run AS text), CAST(:run AS text), CAST(:scenario AS text));
"""


def days_ago(days: int) -> datetime:
    return datetime.now(UTC) - timedelta(days=days)


async def _scenario(db: Database, definition: Any) -> str:
    async with db.engine.connect() as connection:
        query = sa.text("SELECT id FROM scenarios WHERE definition_id = :d LIMIT 1")
        return str((await connection.execute(query, {"d": definition.id})).scalar_one())


async def _run(db: Database, definition: Any, status: str, age_days: int) -> str:
    run = await make_run(db, definition, status=status, created_at=days_ago(age_days))
    scenario = await _scenario(db, definition)
    await add_slot(db, run, scenario, "sim-steady", decision_code="3")
    async with db.engine.begin() as connection:
        for statement in BELONGINGS.strip().split(";\n"):
            await connection.execute(sa.text(statement), {"run": run.id, "scenario": scenario})
    return str(run.id)


async def _counts(db: Database, ids: list[str]) -> dict[str, int]:
    async with db.engine.connect() as connection:
        return {
            name: int((await connection.execute(sa.text(sql), {"ids": ids})).scalar_one())
            for name, sql in OWNED.items()
        }


async def test_purge_removes_exactly_what_it_reports_and_spares_active_runs(
    app_client: httpx.AsyncClient, db: Database, admin_key: str
) -> None:
    definition = await make_definition(db)
    old = [
        await _run(db, definition, "COMPLETED", 40),
        await _run(db, definition, "FAILED", 35),
        await _run(db, definition, "CANCELLED", 31),
    ]
    kept = [
        await _run(db, definition, "RUNNING", 50),
        await _run(db, definition, "PAUSED", 45),
        await _run(db, definition, "COMPLETED", 2),
    ]
    cutoff = days_ago(30).isoformat()
    before = await _counts(db, old + kept)

    dry = await gql(app_client, PURGE, {"olderThan": cutoff, "dryRun": True}, key=admin_key)
    assert dry["data"]["purgeRuns"] == {"count": 3, "runIds": old}
    assert await _counts(db, old + kept) == before

    done = await gql(app_client, PURGE, {"olderThan": cutoff}, key=admin_key)
    assert done["data"]["purgeRuns"] == {"count": 3, "runIds": old}
    assert set((await _counts(db, old)).values()) == {0}
    assert await _counts(db, kept) == {name: 3 for name in OWNED}


async def test_keep_latest_keeps_the_newest_finished_runs(
    app_client: httpx.AsyncClient, db: Database, admin_key: str
) -> None:
    definition = await make_definition(db)
    other = await make_definition(db, name="Another")
    runs = [await _run(db, definition, "COMPLETED", age) for age in (4, 3, 2, 1)]
    active = await _run(db, definition, "RUNNING", 0)
    elsewhere = await _run(db, other, "COMPLETED", 9)

    variables = {"keepLatest": 1, "definitionId": definition.id}
    body = await gql(app_client, PURGE, variables, key=admin_key)
    assert body["data"]["purgeRuns"] == {"count": 3, "runIds": runs[:3]}
    assert (await _counts(db, [runs[3], active, elsewhere]))["runs"] == 3

    variables = {"keepLatest": 0, "olderThan": days_ago(5).isoformat(), "statuses": ["FAILED"]}
    body = await gql(app_client, PURGE, variables, key=admin_key)
    assert body["data"]["purgeRuns"] == {"count": 0, "runIds": []}


async def test_purge_refusals(
    app_client: httpx.AsyncClient, db: Database, admin_key: str, viewer_key: str
) -> None:
    cases = [
        ({}, "purgeRuns needs olderThan or keepLatest (or both)"),
        ({"keepLatest": -1}, "keepLatest must be 0 or more, got -1"),
        (
            {"keepLatest": 1, "statuses": ["RUNNING"]},
            "Invalid status: RUNNING. purgeRuns deletes finished runs only: statuses must be "
            "among COMPLETED, FAILED, CANCELLED",
        ),
    ]
    for variables, message in cases:
        body = await gql(app_client, PURGE, variables, key=admin_key)
        assert error_codes(body) == ["VALIDATION_ERROR"]
        assert body["errors"][0]["message"] == message
    body = await gql(app_client, PURGE, {"keepLatest": 0}, key=viewer_key)
    assert error_codes(body) == ["FORBIDDEN"]
