"""The maintenance job's retention, run by a real worker process: runs soft-deleted long enough
ago go for good, expired conversations are cleared (decisions and metrics stay), and finished
queue jobs past their retention are cleaned by Procrastinate's own facility."""

from __future__ import annotations

import httpx

from app.db import Database
from tests.factories import add_slot, gql, make_definition, make_run
from tests.workers import execute, scalar, wait_until, workers

RETENTION = {
    "DELETED_RUN_RETENTION_DAYS": "0",
    "TRANSCRIPT_CONTENT_TTL_DAYS": "0",
    "FINISHED_JOB_RETENTION_HOURS": "1",
}
# A job that finished three hours ago, and one that just did.
FINISHED_JOBS = """
WITH jobs AS (
    INSERT INTO procrastinate_jobs (queue_name, task_name, args, status)
    VALUES ('probe_x', 'probe_scenario', '{"old": true}', 'succeeded'),
           ('probe_x', 'probe_scenario', '{"old": false}', 'succeeded')
    RETURNING id, args
)
INSERT INTO procrastinate_events (job_id, type, at)
SELECT id, 'succeeded',
       CASE WHEN (args->>'old')::boolean THEN now() - interval '3 hours' ELSE now() END
FROM jobs
"""
TRANSCRIPT = """query($id: ID!) { transcript(id: $id) {
  content contentExpiresAt decisionCode tokenCount durationMs estimatedCost } }"""
DONE = """
SELECT NOT EXISTS (SELECT 1 FROM runs WHERE id = :deleted)
   AND EXISTS (SELECT 1 FROM transcripts WHERE id = :kept AND content = '{}'::jsonb)
   AND NOT EXISTS (SELECT 1 FROM procrastinate_jobs WHERE args->>'old' = 'true')
"""


async def test_maintenance_purges_deleted_runs_expires_content_and_cleans_jobs(
    app_client: httpx.AsyncClient, db: Database, database_url: str, admin_key: str
) -> None:
    definition = await make_definition(db)
    scenario = await scalar(
        db, "SELECT id FROM scenarios WHERE definition_id = :d LIMIT 1", d=definition.id
    )
    deleted = await make_run(db, definition, status="CANCELLED")
    await add_slot(db, deleted, scenario, "sim-steady")
    await execute(db, "UPDATE runs SET deleted_at = now() WHERE id = :id", id=deleted.id)
    live = await make_run(db, definition, status="COMPLETED")
    kept = await add_slot(db, live, scenario, "sim-steady", decision_code="4", cost=0.5)
    await execute(db, FINISHED_JOBS)

    with workers(database_url, **RETENTION):
        await wait_until(db, DONE, within=90, deleted=deleted.id, kept=kept.id)

    for table in ("transcripts", "probe_results"):
        left = await scalar(db, f"SELECT count(*) FROM {table} WHERE run_id = :r", r=deleted.id)
        assert left == 0
    assert await scalar(db, "SELECT count(*) FROM procrastinate_jobs WHERE args ? 'old'") == 1
    body = await gql(app_client, TRANSCRIPT, {"id": kept.id}, key=admin_key)
    transcript = body["data"]["transcript"]
    assert transcript["content"] == {}
    assert transcript["contentExpiresAt"] is not None
    assert (transcript["decisionCode"], transcript["tokenCount"]) == ("4", 30)
    assert (transcript["durationMs"], transcript["estimatedCost"]) == (5, 0.5)
    assert await scalar(db, "SELECT count(*) FROM runs WHERE id = :id", id=live.id) == 1
