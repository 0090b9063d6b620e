"""The read side of runs over the tables: every Run and Transcript field resolves."""

from __future__ import annotations

import httpx
import sqlalchemy as sa
from starlette.applications import Starlette

from app.db import Database
from app.definitions import service as definitions
from app.paging import Page
from app.runs import service as runs
from tests.conftest import StatementCounter
from tests.factories import add_slot, error_codes, gql, make_definition, make_run

GET_RUN = """
query GetRun($id: ID!) {
  run(id: $id) {
    id status definition { id name } config
    progress { total completed failed }
    transcripts { id modelId decisionCode decisionText }
    createdAt startedAt completedAt
  }
}
"""

EVERY_RUN_FIELD = """
query($id: ID!) {
  run(id: $id) {
    id name definitionId definitionVersion definitionSnapshot experimentId experiment { id }
    status runCategory config samplesPerScenario selectedScenarios
    progress { total completed failed percentComplete byModel { modelId completed failed } }
    runProgress { total completed failed percentComplete }
    summarizeProgress { total completed failed percentComplete }
    transcripts(limit: 1) { id runId run { id } scenarioId scenario { id name } modelId modelVersion
      sampleIndex definitionSnapshot content turnCount tokenCount durationMs estimatedCost
      decisionCode decisionText decisionMetadata decisionModelV2 summarizedAt summarizeDurationMs
      dimensionValues createdAt lastAccessedAt contentExpiresAt }
    transcriptCount
    failedProbes { id modelId scenarioId status errorCode errorMessage retryCount }
    probeResults(status: "SUCCESS") { id status transcriptId }
    recentTasks { scenarioId modelId status error completedAt }
    stalledModels executionMetrics { totalActive } estimatedCosts { total }
    models { modelId displayName }
    tags { id name } isAggregate
    analysis { actualCost { total perModel { modelId inputTokens outputTokens cost probeCount } } }
    analysisStatus mirroredRuns { id }
    unresolvableTranscriptCount { total byModel { modelId count } }
    startedAt completedAt createdAt updatedAt lastAccessedAt deletedAt
  }
}
"""


async def _run_with_slots(db: Database) -> tuple[object, list[str]]:
    definition = await make_definition(db)
    async with db.session() as session:
        scenario_ids = [
            s.id
            for s in await definitions.list_scenarios(session, definition.id, paging=Page(10, 0))
        ]
    run = await make_run(db, definition, models=["sim-steady", "sim-instant"])
    await add_slot(db, run, scenario_ids[0], "sim-steady", decision_code="4", cost=0.002)
    await add_slot(db, run, scenario_ids[1], "sim-steady", decision_code="other", cost=0.001)
    await add_slot(db, run, scenario_ids[0], "sim-instant", success=False)
    return run, scenario_ids


async def test_seed_get_run_operation(
    app_client: httpx.AsyncClient, admin_key: str, db: Database
) -> None:
    run, _ = await _run_with_slots(db)
    body = await gql(app_client, GET_RUN, {"id": run.id}, key=admin_key)
    assert "errors" not in body, body
    data = body["data"]["run"]
    assert data["status"] == "PENDING"
    assert data["progress"] == {"total": 4, "completed": 2, "failed": 1}
    assert sorted(t["decisionCode"] for t in data["transcripts"]) == ["4", "other"]
    assert data["config"]["models"] == ["sim-steady", "sim-instant"]


async def test_every_run_and_transcript_field_resolves(
    app_client: httpx.AsyncClient, admin_key: str, db: Database
) -> None:
    run, _ = await _run_with_slots(db)
    body = await gql(app_client, EVERY_RUN_FIELD, {"id": run.id}, key=admin_key)
    assert "errors" not in body, body
    data = body["data"]["run"]
    assert data["progress"]["percentComplete"] == 75.0
    assert data["progress"]["byModel"] == [
        {"modelId": "sim-instant", "completed": 0, "failed": 1},
        {"modelId": "sim-steady", "completed": 2, "failed": 0},
    ]
    assert data["summarizeProgress"] == {
        "total": 2,
        "completed": 2,
        "failed": 0,
        "percentComplete": 100.0,
    }
    assert data["transcriptCount"] == 2 and len(data["transcripts"]) == 1
    assert data["transcripts"][0]["run"] == {"id": run.id}
    assert data["failedProbes"][0]["errorCode"] == "RATE_LIMIT"
    assert len(data["probeResults"]) == 2
    assert len(data["recentTasks"]) == 3
    assert data["analysis"]["actualCost"]["total"] == 0.003
    assert data["unresolvableTranscriptCount"] == {
        "total": 1,
        "byModel": [{"modelId": "sim-steady", "count": 1}],
    }
    assert data["isAggregate"] is False and data["mirroredRuns"] == []
    assert data["definitionSnapshot"]["version"] == 1


async def test_runs_list_filters_paging_and_soft_delete(
    app_client: httpx.AsyncClient, admin_key: str, db: Database
) -> None:
    definition = await make_definition(db)
    other = await make_definition(db, name="other")
    first = await make_run(db, definition, status="COMPLETED")
    second = await make_run(db, definition, run_category="PILOT")
    third = await make_run(db, other, models=["gpt-4o-mini"])
    deleted = await make_run(db, definition)
    async with db.transaction() as session:
        await session.exec(
            sa.text("UPDATE runs SET deleted_at = now() WHERE id = :id"), params={"id": deleted.id}
        )
    query = """query($d: String, $s: String, $c: String, $m: String, $limit: Int) {
      runs(definitionId: $d, status: $s, runCategory: $c, modelId: $m, limit: $limit) { id }
      runCount(definitionId: $d, status: $s, runCategory: $c, modelId: $m) }"""

    async def ids(**variables: object) -> tuple[list[str], int]:
        body = await gql(app_client, query, variables, key=admin_key)
        return [r["id"] for r in body["data"]["runs"]], body["data"]["runCount"]

    assert await ids() == ([third.id, second.id, first.id], 3)
    assert await ids(d=definition.id) == ([second.id, first.id], 2)
    assert await ids(s="COMPLETED") == ([first.id], 1)
    assert await ids(c="PILOT") == ([second.id], 1)
    assert await ids(m="gpt-4o-mini") == ([third.id], 1)
    assert await ids(limit=1) == ([third.id], 3)
    body = await gql(
        app_client,
        "query($id: ID!) { run(id: $id) { id } withDeleted: run(id: $id, includeDeleted: true) { id deletedAt } }",
        {"id": deleted.id},
        key=admin_key,
    )
    assert body["data"]["run"] is None
    assert body["data"]["withDeleted"]["id"] == deleted.id
    bad = await gql(app_client, '{ runs(status: "DONE") { id } }', key=admin_key)
    assert error_codes(bad) == ["VALIDATION_ERROR"]
    assert bad["errors"][0]["message"].startswith("Invalid status: DONE. Must be one of: PENDING")


async def test_standalone_active_runs(
    app_client: httpx.AsyncClient, admin_key: str, db: Database
) -> None:
    definition = await make_definition(db)
    active = await make_run(db, definition, status="PAUSED")
    await make_run(db, definition, status="CANCELLED")
    body = await gql(app_client, "{ standaloneActiveRuns { id status } }", key=admin_key)
    assert body["data"]["standaloneActiveRuns"] == [{"id": active.id, "status": "PAUSED"}]


async def test_viewing_sets_last_accessed_without_touching_updated(
    app: Starlette, app_client: httpx.AsyncClient, admin_key: str, db: Database
) -> None:
    run, _ = await _run_with_slots(db)
    async with db.session() as session:
        transcript_id = (
            await session.exec(sa.text("SELECT id FROM transcripts LIMIT 1"))
        ).scalar_one()
    await gql(app_client, GET_RUN, {"id": run.id}, key=admin_key)
    await gql(
        app_client,
        "query($id: ID!) { transcript(id: $id) { id } }",
        {"id": transcript_id},
        key=admin_key,
    )
    await app.state.runtime.access.drain()
    async with db.session() as session:
        row = await runs.get_run(session, run.id)
        accessed = (
            await session.exec(
                sa.text("SELECT last_accessed_at FROM transcripts WHERE id = :id"),
                params={"id": transcript_id},
            )
        ).scalar_one()
    assert row is not None and row.last_accessed_at is not None
    assert row.updated_at == run.updated_at
    assert accessed is not None


async def test_list_statements_do_not_grow_with_rows(
    app_client: httpx.AsyncClient, admin_key: str, db: Database, statements: StatementCounter
) -> None:
    definition = await make_definition(db)
    query = """{ runs(limit: 100) { id definition { name } progress { total completed }
      transcriptCount models { modelId provider { name } } tags { name } selectedScenarios
      failedProbes { id } transcripts(limit: 5) { id scenario { name } } } }"""

    async def statements_for(run_count: int) -> int:
        while (await runs_total(app_client, admin_key)) < run_count:
            await make_run(db, definition, models=["sim-steady", "gpt-4o-mini"])
        before = statements.count
        body = await gql(app_client, query, key=admin_key)
        assert "errors" not in body and len(body["data"]["runs"]) == run_count
        return statements.count - before

    small, large = await statements_for(2), await statements_for(12)
    assert small == large
    assert large <= 12  # auth + list + one per loaded field


async def runs_total(client: httpx.AsyncClient, key: str) -> int:
    body = await gql(client, "{ runCount }", key=key)
    return int(body["data"]["runCount"])


async def test_valuerank_run_filters(
    app_client: httpx.AsyncClient, admin_key: str, db: Database
) -> None:
    survey = await make_definition(db, name="[Survey] values")
    plain = await make_definition(db, name="plain")
    survey_run = await make_run(db, survey)
    plain_run = await make_run(db, plain)
    async with db.transaction() as session:
        await session.exec(sa.text("INSERT INTO tags (id, name) VALUES ('t1', 'ethics')"))
        await session.exec(
            sa.text("INSERT INTO definition_tags (definition_id, tag_id) VALUES (:d, 't1')"),
            params={"d": plain.id},
        )
    query = """query($t: String, $tags: [ID!], $h: Boolean, $a: String) {
      runs(runType: $t, definitionTagIds: $tags, hasAnalysis: $h, analysisStatus: $a) { id }
      runCount(runType: $t, definitionTagIds: $tags, hasAnalysis: $h, analysisStatus: $a) }"""

    async def ids(**variables: object) -> list[str]:
        body = await gql(app_client, query, variables, key=admin_key)
        assert body["data"]["runCount"] == len(body["data"]["runs"])
        return [r["id"] for r in body["data"]["runs"]]

    assert await ids(t="SURVEY") == [survey_run.id]
    assert await ids(t="NON_SURVEY") == [plain_run.id]
    assert await ids(t="ALL") == [plain_run.id, survey_run.id]
    assert await ids(tags=["t1"]) == [plain_run.id]
    assert await ids(h=True) == [] and await ids(a="CURRENT") == []
    assert len(await ids(h=False)) == 2
    bad = await gql(app_client, '{ runs(runType: "OTHER") { id } }', key=admin_key)
    assert (
        bad["errors"][0]["message"]
        == "Invalid runType: OTHER. Must be one of: ALL, SURVEY, NON_SURVEY"
    )
