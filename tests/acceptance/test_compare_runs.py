"""compareRuns through GraphQL: two runs with known differences, figures by hand."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from app.db import Database
from app.definitions import service as definitions
from tests.acceptance.test_run_history import day, override, scenario_ids
from tests.factories import (
    add_slot,
    definition_content,
    dimension,
    error_codes,
    gql,
    make_definition,
    make_run,
)

COMPARE = """query($base: ID!, $other: ID!) { compareRuns(baseRunId: $base, otherRunId: $other) {
  baseRun { id } otherRun { id }
  configChanges { key base other }
  perModel { modelId meanDelta
    base { transcriptCount meanDecision decisionDistribution { code count } avgTokens
           avgDurationMs cost }
    other { transcriptCount meanDecision decisionDistribution { code count } avgTokens
            avgDurationMs cost } }
  matchedSlotCount changedDecisionCount
  changedDecisions(limit: 10) { scenarioId modelId sampleIndex baseCode otherCode
                                baseTranscriptId otherTranscriptId }
  costDelta tokenDelta durationDeltaSeconds } }"""


def config(definition: Any, models: list[str], temperature: float) -> dict[str, Any]:
    snapshot = {"content": definition.content, "version": definition.version}
    return {"models": models, "temperature": temperature, "definitionSnapshot": snapshot}


async def compare(client: httpx.AsyncClient, key: str, base: str, other: str) -> dict[str, Any]:
    return await gql(client, COMPARE, {"base": base, "other": other}, key=key)


async def test_two_runs_with_known_differences(
    app_client: httpx.AsyncClient, admin_key: str, db: Database
) -> None:
    definition = await make_definition(db)
    s0, s1 = await scenario_ids(db, definition.id)
    both = ["sim-steady", "sim-instant"]
    base = await make_run(
        db,
        definition,
        config=config(definition, both, 0.0),
        status="COMPLETED",
        started_at=day(0),
        completed_at=day(0) + timedelta(seconds=100),
    )
    await add_slot(db, base, s0, "sim-steady", decision_code="4", cost=0.002)
    await add_slot(db, base, s1, "sim-steady", decision_code="2", cost=0.001)
    await add_slot(db, base, s0, "sim-instant", decision_code="3", cost=0.003)
    other = await make_run(
        db,
        definition,
        config=config(definition, ["sim-steady"], 0.7),
        status="COMPLETED",
        started_at=day(1),
        completed_at=day(1) + timedelta(seconds=40),
    )
    await add_slot(db, other, s0, "sim-steady", decision_code="4", cost=0.004)
    changed = await add_slot(db, other, s1, "sim-steady", decision_code="2", cost=0.001)
    await override(db, changed.id, "5")  # a person's reading decides: "2" became "5"
    body = await compare(app_client, admin_key, base.id, other.id)
    assert "errors" not in body, body
    found = body["data"]["compareRuns"]
    assert (found["baseRun"]["id"], found["otherRun"]["id"]) == (base.id, other.id)
    assert found["configChanges"] == [
        {"key": "models", "base": both, "other": ["sim-steady"]},
        {"key": "temperature", "base": 0.0, "other": 0.7},
    ]
    instant, steady = found["perModel"]
    assert instant["modelId"] == "sim-instant" and instant["meanDelta"] is None
    assert instant["base"]["meanDecision"] == 3.0 and instant["other"]["transcriptCount"] == 0
    assert steady["modelId"] == "sim-steady"
    assert steady["base"] == {
        "transcriptCount": 2,
        "meanDecision": 3.0,
        "avgTokens": 30.0,
        "avgDurationMs": 5.0,
        "cost": 0.003,
        "decisionDistribution": [{"code": "2", "count": 1}, {"code": "4", "count": 1}],
    }
    assert steady["other"]["meanDecision"] == 4.5
    assert steady["other"]["decisionDistribution"] == [
        {"code": "4", "count": 1},
        {"code": "5", "count": 1},
    ]
    assert steady["meanDelta"] == 1.5
    assert (found["matchedSlotCount"], found["changedDecisionCount"]) == (2, 1)
    [decision] = found["changedDecisions"]
    assert decision["otherTranscriptId"] == changed.id
    assert {
        k: decision[k] for k in ("scenarioId", "modelId", "sampleIndex", "baseCode", "otherCode")
    } == {
        "scenarioId": s1,
        "modelId": "sim-steady",
        "sampleIndex": 0,
        "baseCode": "2",
        "otherCode": "5",
    }
    assert abs(found["costDelta"] - (0.005 - 0.006)) < 1e-12
    assert found["tokenDelta"] == 2 * 30 - 3 * 30
    assert found["durationDeltaSeconds"] == 40 - 100


async def test_runs_of_different_versions_match_by_scenario_id(
    app_client: httpx.AsyncClient, admin_key: str, db: Database
) -> None:
    definition = await make_definition(db)
    s0, _ = await scenario_ids(db, definition.id)
    first = await make_run(db, definition)
    await add_slot(db, first, s0, "sim-steady", decision_code="4")
    async with db.transaction() as session:
        edited = await definitions.update_definition(
            session, definition.id, content=definition_content(dimension("stakes", "lo", "hi"))
        )
    n0, _ = await scenario_ids(db, definition.id)
    second = await make_run(db, edited)
    await add_slot(db, second, n0, "sim-steady", decision_code="1")
    body = await compare(app_client, admin_key, first.id, second.id)
    found = body["data"]["compareRuns"]
    # The edit re-expanded the scenarios under new ids: nothing to pair decision by decision.
    assert (found["matchedSlotCount"], found["changedDecisions"]) == (0, [])
    assert {"key": "definitionVersion", "base": 1, "other": 2} in found["configChanges"]
    assert found["perModel"][0]["meanDelta"] == 1 - 4


async def test_an_unknown_run_is_not_found(
    app_client: httpx.AsyncClient, admin_key: str, db: Database
) -> None:
    definition = await make_definition(db)
    run = await make_run(db, definition)
    body = await compare(app_client, admin_key, run.id, "nope")
    assert error_codes(body) == ["NOT_FOUND"]
    assert body["errors"][0]["message"] == "Run not found: nope"
