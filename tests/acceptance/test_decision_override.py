"""updateTranscriptDecision through GraphQL: ValueRank's override, kept beside the parsed
decision, counted by runStats; each refusal with its code and message."""

from __future__ import annotations

from typing import Any

import httpx

from app.db import Database
from tests.acceptance.test_run_history import scenario_ids
from tests.factories import (
    add_slot,
    definition_content,
    dimension,
    error_codes,
    gql,
    make_definition,
    make_run,
)
from tests.workers import execute

UPDATE = """mutation($id: ID!, $state: String!, $favored: String, $strength: String) {
  updateTranscriptDecision(transcriptId: $id, decisionState: $state, favoredValueKey: $favored,
                           strength: $strength) { id decisionCode decisionMetadata } }"""
DISTRIBUTION = "{ runStats { perModel { decisionDistribution { code count } } } }"
PAIR = {"value_first": {"token": "Honesty"}, "value_second": {"token": "Loyalty"}}


async def transcript_with_pair(db: Database, *, pair: bool = True) -> Any:
    content = definition_content(dimension("stakes", "low", "high"))
    if pair:
        content["components"] = PAIR
    definition = await make_definition(db, content=content)
    s0, _ = await scenario_ids(db, definition.id)
    run = await make_run(db, definition)
    transcript = await add_slot(db, run, s0, "sim-steady", decision_code="2")
    # As a worker writes it: the run's definition snapshot travels with the transcript.
    await execute(
        db,
        """UPDATE transcripts t SET definition_snapshot = r.config->'definitionSnapshot'
           FROM runs r WHERE r.id = t.run_id AND t.id = :t""",
        t=transcript.id,
    )
    return transcript


async def update(client: httpx.AsyncClient, api_key: str, **variables: Any) -> dict[str, Any]:
    return await gql(client, UPDATE, variables, key=api_key)


async def test_an_override_is_kept_and_counted(
    app_client: httpx.AsyncClient, admin_key: str, db: Database
) -> None:
    transcript = await transcript_with_pair(db)
    body = await update(
        app_client,
        admin_key,
        id=transcript.id,
        state="resolved",
        favored="Loyalty",
        strength="strong",
    )
    assert "errors" not in body, body
    found = body["data"]["updateTranscriptDecision"]
    assert found["decisionCode"] == "2"  # the parser's reading stays visible
    override = found["decisionMetadata"]["manualOverride"]
    assert override["appliedDecision"] == {
        "favoredValueKey": "Loyalty",
        "opposedValueKey": "Honesty",
        "direction": "favor_second",
        "strength": "strong",
    }
    assert (override["decisionCode"], override["previousValue"]) == ("5", None)
    assert override["overriddenBy"] == "test admin" and override["overriddenAt"]
    stats = await gql(app_client, DISTRIBUTION, key=admin_key)
    assert stats["data"]["runStats"]["perModel"][0]["decisionDistribution"] == [
        {"code": "5", "count": 1}
    ]
    again = await update(app_client, admin_key, id=transcript.id, state="neutral")
    second = again["data"]["updateTranscriptDecision"]["decisionMetadata"]["manualOverride"]
    assert second["previousValue"] == override["appliedDecision"]
    assert second["decisionCode"] == "3"
    refused = await update(app_client, admin_key, id=transcript.id, state="refusal")
    assert "errors" not in refused
    stats = await gql(app_client, DISTRIBUTION, key=admin_key)
    assert stats["data"]["runStats"]["perModel"][0]["decisionDistribution"] == [
        {"code": "other", "count": 1}
    ]


async def test_each_refusal_has_its_code_and_message(
    app_client: httpx.AsyncClient, admin_key: str, viewer_key: str, db: Database
) -> None:
    transcript = await transcript_with_pair(db)
    bare = await transcript_with_pair(db, pair=False)
    resolved = {"state": "resolved", "favored": "Loyalty", "strength": "lean"}
    cases: list[tuple[dict[str, Any], str, str]] = [
        (
            {"id": transcript.id, "state": "decided"},
            "VALIDATION_ERROR",
            "decisionState must be one of: resolved, neutral, unknown, refusal",
        ),
        ({"id": "nope", "state": "neutral"}, "NOT_FOUND", "Transcript not found: nope"),
        (
            {"id": transcript.id, "state": "resolved", "strength": "lean"},
            "VALIDATION_ERROR",
            'favoredValueKey is required when decisionState="resolved"',
        ),
        (
            {"id": transcript.id, "state": "resolved", "favored": "Loyalty", "strength": "very"},
            "VALIDATION_ERROR",
            'strength must be "strong" or "lean" when decisionState="resolved"',
        ),
        (
            {"id": transcript.id, **resolved, "favored": "Courage"},
            "VALIDATION_ERROR",
            'favoredValueKey "Courage" does not match either value in the vignette pair '
            "(Honesty, Loyalty)",
        ),
        (
            {"id": bare.id, **resolved},
            "VALIDATION_ERROR",
            "Cannot apply a resolved override — vignette definition is missing its value pair",
        ),
    ]
    for variables, code, message in cases:
        body = await update(app_client, admin_key, **variables)
        assert error_codes(body) == [code], (variables, body)
        assert body["errors"][0]["message"] == message
    denied = await update(app_client, viewer_key, id=transcript.id, state="neutral")
    assert error_codes(denied) == ["FORBIDDEN"]
    read = await gql(
        app_client,
        "query($id: ID!) { transcript(id: $id) { decisionMetadata } }",
        {"id": transcript.id},
        key=admin_key,
    )
    assert read["data"]["transcript"]["decisionMetadata"] is None  # nothing was written
