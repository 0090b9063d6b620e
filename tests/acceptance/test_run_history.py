"""Run history through GraphQL: runStats figures computed by hand, the `runs` date filters,
per-run duration, tokens, the status log and the stages derived from it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import sqlalchemy as sa

from app.db import Database
from app.definitions import service as definitions
from app.paging import Page
from tests.conftest import StatementCounter
from tests.factories import add_slot, error_codes, gql, make_definition, make_run

STATS = """
query($status: String, $after: DateTime, $before: DateTime, $model: String) {
  runStats(status: $status, createdAfter: $after, createdBefore: $before, modelId: $model) {
    totalRuns byStatus { status count } completed failed cancelled successRate
    avgDurationSeconds totalTokens totalCost transcriptCount
    perModel { modelId runCount transcriptCount failedCount avgTokens avgDurationMs totalCost
               decisionDistribution { code count } }
  }
}
"""
T0 = datetime(2026, 1, 1, tzinfo=UTC)


def day(n: int) -> datetime:
    return T0 + timedelta(days=n)


async def scenario_ids(db: Database, definition_id: str) -> list[str]:
    async with db.session() as session:
        found = await definitions.list_scenarios(session, definition_id, paging=Page(10, 0))
    return [s.id for s in found]


async def override(db: Database, transcript_id: str, code: str) -> None:
    """A person's override as updateTranscriptDecision stores it."""
    async with db.transaction() as session:
        await session.exec(
            sa.text(
                "UPDATE transcripts SET decision_metadata = jsonb_build_object("
                "'manualOverride', jsonb_build_object('decisionCode', CAST(:c AS text))) "
                "WHERE id = :id"
            ).bindparams(c=code, id=transcript_id)
        )


async def four_runs(db: Database) -> dict[str, Any]:
    """A COMPLETED run (60 s, two models, one override), a FAILED one (30 s), a CANCELLED
    one that never started, and a RUNNING one; created a month apart."""
    definition = await make_definition(db)
    s0, s1 = await scenario_ids(db, definition.id)
    both = ["sim-steady", "sim-instant"]
    a = await make_run(
        db,
        definition,
        models=both,
        status="COMPLETED",
        created_at=day(0),
        started_at=day(0),
        completed_at=day(0) + timedelta(seconds=60),
    )
    await add_slot(db, a, s0, "sim-steady", decision_code="4", cost=0.002)
    overridden = await add_slot(db, a, s1, "sim-steady", decision_code="2", cost=0.001)
    await add_slot(db, a, s0, "sim-instant", decision_code="4", cost=0.003)
    await add_slot(db, a, s1, "sim-instant", success=False)
    b = await make_run(
        db,
        definition,
        status="FAILED",
        created_at=day(31),
        started_at=day(31),
        completed_at=day(31) + timedelta(seconds=30),
    )
    await add_slot(db, b, s0, "sim-steady", success=False)
    await add_slot(db, b, s1, "sim-steady", decision_code="other", cost=0.004)
    c = await make_run(
        db,
        definition,
        models=["sim-instant"],
        status="CANCELLED",
        created_at=day(59),
        completed_at=day(59),
    )
    d = await make_run(db, definition, status="RUNNING", created_at=day(90), started_at=day(90))
    await add_slot(db, d, s0, "sim-steady", cost=0.0005)
    return {"a": a, "b": b, "c": c, "d": d, "overridden": overridden}


async def stats(client: httpx.AsyncClient, key: str, **variables: Any) -> dict[str, Any]:
    body = await gql(client, STATS, variables, key=key)
    assert "errors" not in body, body
    result: dict[str, Any] = body["data"]["runStats"]
    return result


async def test_run_stats_figures_by_hand_with_an_override(
    app_client: httpx.AsyncClient, admin_key: str, db: Database
) -> None:
    runs = await four_runs(db)
    await override(db, runs["overridden"].id, "5")  # its parsed "2" no longer counts
    found = await stats(app_client, admin_key)
    assert found["totalRuns"] == 4
    assert found["byStatus"] == [
        {"status": s, "count": 1} for s in ("CANCELLED", "COMPLETED", "FAILED", "RUNNING")
    ]
    assert (found["completed"], found["failed"], found["cancelled"]) == (1, 1, 1)
    assert found["successRate"] == 1 / 3  # 1 completed of 3 finished
    assert found["avgDurationSeconds"] == 45.0  # (60 + 30) / 2; C never started, D runs
    assert found["transcriptCount"] == 5
    assert found["totalTokens"] == 5 * 30
    assert abs(found["totalCost"] - (0.002 + 0.001 + 0.003 + 0.004 + 0.0005)) < 1e-12
    instant, steady = found["perModel"]
    assert instant == {
        "modelId": "sim-instant",
        "runCount": 2,
        "transcriptCount": 1,
        "failedCount": 1,
        "avgTokens": 30.0,
        "avgDurationMs": 5.0,
        "totalCost": 0.003,
        "decisionDistribution": [{"code": "4", "count": 1}],
    }
    assert steady["modelId"] == "sim-steady"
    assert (steady["runCount"], steady["transcriptCount"], steady["failedCount"]) == (3, 4, 1)
    assert abs(steady["totalCost"] - 0.0075) < 1e-12
    assert steady["decisionDistribution"] == [
        {"code": "4", "count": 1},
        {"code": "5", "count": 1},
        {"code": "other", "count": 1},
        {"code": None, "count": 1},
    ]


async def test_run_stats_and_runs_take_the_same_filters_dates_included(
    app_client: httpx.AsyncClient, admin_key: str, db: Database
) -> None:
    runs = await four_runs(db)
    window = {"after": day(15).isoformat(), "before": day(75).isoformat()}
    listed = await gql(
        app_client,
        """query($after: DateTime, $before: DateTime) {
          runs(createdAfter: $after, createdBefore: $before) { id }
          after: runs(createdAfter: $after) { id }
          before: runs(createdBefore: $before) { id } }""",
        window,
        key=admin_key,
    )
    data = listed["data"]
    assert [r["id"] for r in data["runs"]] == [runs["c"].id, runs["b"].id]
    assert [r["id"] for r in data["after"]] == [runs["d"].id, runs["c"].id, runs["b"].id]
    assert [r["id"] for r in data["before"]] == [runs["c"].id, runs["b"].id, runs["a"].id]
    found = await stats(app_client, admin_key, **window)
    assert (found["totalRuns"], found["failed"], found["cancelled"]) == (2, 1, 1)
    assert found["transcriptCount"] == 1 and found["successRate"] == 0.0
    only = await stats(app_client, admin_key, status="COMPLETED", model="sim-instant")
    assert (only["totalRuns"], only["transcriptCount"], only["avgDurationSeconds"]) == (1, 3, 60)
    bad = await gql(app_client, STATS, {"status": "DONE"}, key=admin_key)
    assert error_codes(bad) == ["VALIDATION_ERROR"]
    assert bad["errors"][0]["message"] == (
        "Invalid status: DONE. Must be one of: PENDING, RUNNING, PAUSED, SUMMARIZING, "
        "COMPLETED, FAILED, CANCELLED"
    )


async def test_run_stats_statements_do_not_grow_with_runs(
    app_client: httpx.AsyncClient, admin_key: str, db: Database, statements: StatementCounter
) -> None:
    async def count() -> int:
        before = statements.count
        await stats(app_client, admin_key)
        return statements.count - before

    await four_runs(db)
    few = await count()
    await four_runs(db)
    await four_runs(db)
    assert await count() == few


EVENTS = """query($id: ID!) { run(id: $id) {
  status durationSeconds totalTokens
  events { status previousStatus at reason actor }
  stages { name status startedAt endedAt seconds } } }"""


async def sql(db: Database, statement: str, **params: Any) -> None:
    """A status change made by code that names no actor: a worker's, as far as the log knows."""
    async with db.transaction() as session:
        await session.exec(sa.text(statement).bindparams(**params))


async def read_run(client: httpx.AsyncClient, key: str, run_id: str) -> dict[str, Any]:
    body = await gql(client, EVENTS, {"id": run_id}, key=key)
    assert "errors" not in body, body
    run: dict[str, Any] = body["data"]["run"]
    return run


async def mutate(client: httpx.AsyncClient, key: str, verb: str, run_id: str) -> None:
    body = await gql(
        client, f"mutation($id: ID!) {{ {verb}(runId: $id) {{ id }} }}", {"id": run_id}, key=key
    )
    assert "errors" not in body, body


async def test_every_status_change_is_logged_with_who_and_why(
    app_client: httpx.AsyncClient, admin_key: str, db: Database
) -> None:
    started = await gql(
        app_client,
        """mutation { startRun(input: {definitionId: "demo-definition-honesty",
             models: ["sim-steady"]}) { run { id } } }""",
        key=admin_key,
    )
    run_id = started["data"]["startRun"]["run"]["id"]
    await sql(db, "UPDATE runs SET status = 'RUNNING', started_at = now() WHERE id = :r", r=run_id)
    await mutate(app_client, admin_key, "pauseRun", run_id)
    await mutate(app_client, admin_key, "resumeRun", run_id)
    await sql(
        db,
        "UPDATE runs SET status = 'PAUSED', pause_reason = 'BUDGET_EXHAUSTED' WHERE id = :r",
        r=run_id,
    )
    await mutate(app_client, admin_key, "resumeRun", run_id)
    await sql(db, "UPDATE runs SET name = 'renamed' WHERE id = :r", r=run_id)  # no status change
    await sql(db, "UPDATE runs SET status = 'SUMMARIZING' WHERE id = :r", r=run_id)
    await sql(
        db, "UPDATE runs SET status = 'COMPLETED', completed_at = now() WHERE id = :r", r=run_id
    )
    run = await read_run(app_client, admin_key, run_id)
    logged = [(e["previousStatus"], e["status"], e["actor"], e["reason"]) for e in run["events"]]
    assert logged == [
        (None, "PENDING", "test admin", "startRun"),
        ("PENDING", "RUNNING", "worker", None),
        ("RUNNING", "PAUSED", "test admin", "pauseRun"),
        ("PAUSED", "RUNNING", "test admin", "resumeRun"),
        ("RUNNING", "PAUSED", "budget", "BUDGET_EXHAUSTED"),
        ("PAUSED", "RUNNING", "test admin", "resumeRun"),
        ("RUNNING", "SUMMARIZING", "worker", None),
        ("SUMMARIZING", "COMPLETED", "worker", None),
    ]
    at = [datetime.fromisoformat(e["at"]) for e in run["events"]]
    assert at == sorted(at)
    probing, summarizing = run["stages"]
    assert probing == {
        "name": "PROBING",
        "status": "COMPLETED",
        "startedAt": run["events"][1]["at"],
        "endedAt": run["events"][6]["at"],
        "seconds": (at[6] - at[1]).total_seconds(),
    }
    assert summarizing == {
        "name": "SUMMARIZING",
        "status": "COMPLETED",
        "startedAt": run["events"][6]["at"],
        "endedAt": run["events"][7]["at"],
        "seconds": (at[7] - at[6]).total_seconds(),
    }
    assert run["durationSeconds"] is not None and run["durationSeconds"] >= 0
    assert run["totalTokens"] == 0


async def test_the_log_is_append_only_and_names_recovery(
    app_client: httpx.AsyncClient, admin_key: str, db: Database
) -> None:
    definition = await make_definition(db)
    s0, s1 = await scenario_ids(db, definition.id)
    run = await make_run(db, definition, status="RUNNING", started_at=day(0))
    await add_slot(db, run, s0, "sim-steady", cost=0.01)
    await add_slot(db, run, s1, "sim-steady", cost=0.01)
    body = await gql(
        app_client,
        "mutation($id: ID!) { recoverRun(runId: $id) { action run { status } } }",
        {"id": run.id},
        key=admin_key,
    )
    assert body["data"]["recoverRun"] == {"action": "ADVANCED", "run": {"status": "SUMMARIZING"}}
    found = await read_run(app_client, admin_key, run.id)
    assert [(e["status"], e["actor"]) for e in found["events"]] == [
        ("RUNNING", "worker"),
        ("SUMMARIZING", "recovery"),
    ]
    assert found["totalTokens"] == 60
    assert [s["status"] for s in found["stages"]] == ["COMPLETED", "SUMMARIZING"]
    assert found["stages"][1]["seconds"] is None
    try:
        await sql(db, "UPDATE run_events SET actor = 'someone else' WHERE run_id = :r", r=run.id)
    except sa.exc.DBAPIError as exc:
        assert "run_events is append-only" in str(exc)
    else:
        raise AssertionError("run_events accepted an update")


async def test_a_bare_progress_selection_is_refused_as_the_readme_says(
    app_client: httpx.AsyncClient, admin_key: str
) -> None:
    body = await gql(app_client, "{ runs { id progress } }", key=admin_key)
    assert error_codes(body) == ["GRAPHQL_VALIDATION_FAILED"]
    assert "must have a selection of subfields" in body["errors"][0]["message"]
