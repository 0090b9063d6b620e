"""Export over HTTP: transcripts as CSV and JSONL, the run history, a run's manifest, and the
refusals (401, 404, 400), on real PostgreSQL."""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import httpx
import sqlalchemy as sa

from app.db import Database
from tests.exports import fill_transcripts
from tests.factories import add_slot, make_definition, make_run

BIG = 10_000


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def _big_run(db: Database) -> Any:
    run = await make_run(db, await make_definition(db), status="COMPLETED")
    async with db.transaction() as session:
        await fill_transcripts(session, run.id, BIG)
    return run


async def _expected(db: Database, run_id: str) -> list[dict[str, Any]]:
    async with db.engine.connect() as connection:
        rows = await connection.execute(
            sa.text(
                "SELECT id, model_id, sample_index, decision_code, decision_text, input_tokens,"
                " output_tokens, estimated_cost, dimension_values, content FROM transcripts"
                " WHERE run_id = :r ORDER BY model_id, created_at, id"
            ),
            {"r": run_id},
        )
        return [dict(r) for r in rows.mappings()]


async def test_transcripts_csv_parses_back_row_for_row(
    app_client: httpx.AsyncClient, db: Database, viewer_key: str
) -> None:
    run = await _big_run(db)
    response = await app_client.get(
        f"/export/runs/{run.id}/transcripts.csv", headers=bearer(viewer_key)
    )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.text)))
    expected = await _expected(db, run.id)
    assert len(rows) == len(expected) == BIG
    for row, want in zip(rows, expected, strict=True):
        assert row["transcript_id"] == want["id"]
        assert row["model_id"] == want["model_id"]
        assert int(row["sample_index"]) == want["sample_index"]
        assert row["decision_code"] == (want["decision_code"] or "")
        assert row["decision_text"] == (want["decision_text"] or "")
        assert int(row["total_tokens"]) == want["input_tokens"] + want["output_tokens"]
        assert float(row["estimated_cost"]) == want["estimated_cost"]
        assert json.loads(row["dimension_values"]) == want["dimension_values"]
    assert rows[0]["scenario_name"] and rows[0]["created_at"].endswith("Z")
    assert 'Says "yes", then\nhesitates' in response.text.replace('""', '"')


async def test_transcripts_jsonl_carries_the_conversation(
    app_client: httpx.AsyncClient, db: Database, viewer_key: str
) -> None:
    run = await _big_run(db)
    response = await app_client.get(
        f"/export/runs/{run.id}/transcripts.jsonl", headers=bearer(viewer_key)
    )
    assert response.status_code == 200
    lines = response.text.splitlines()
    expected = await _expected(db, run.id)
    assert len(lines) == BIG
    for line, want in zip(lines, expected, strict=True):
        row = json.loads(line)
        assert row["transcript_id"] == want["id"]
        assert row["content"] == want["content"]
        assert row["decision_text"] == want["decision_text"]
        assert row["dimension_values"] == want["dimension_values"]
        assert row["estimated_cost"] == want["estimated_cost"]


async def _small_run(db: Database, **overrides: Any) -> Any:
    definition = await make_definition(db)
    async with db.engine.connect() as connection:
        scenario = (
            await connection.execute(
                sa.text("SELECT id FROM scenarios WHERE definition_id = :d LIMIT 1"),
                {"d": definition.id},
            )
        ).scalar_one()
    run = await make_run(db, definition, **overrides)
    await add_slot(db, run, scenario, "sim-steady", decision_code="4", cost=0.25)
    await add_slot(db, run, scenario, "sim-steady", sample_index=1, success=False)
    return run


async def test_manifest_has_config_totals_and_timestamps(
    app_client: httpx.AsyncClient, db: Database, viewer_key: str
) -> None:
    run = await _small_run(db, status="COMPLETED")
    response = await app_client.get(
        f"/export/runs/{run.id}/manifest.json", headers=bearer(viewer_key)
    )
    assert response.status_code == 200
    manifest = response.json()
    assert manifest["run"]["id"] == run.id
    assert manifest["run"]["status"] == "COMPLETED"
    assert manifest["config"]["models"] == ["sim-steady"]
    assert manifest["totals"]["completed"] == 1
    assert manifest["totals"]["failed"] == 1
    assert manifest["totals"]["transcript_count"] == 1
    assert manifest["totals"]["total_tokens"] == 30
    assert manifest["totals"]["total_cost"] == 0.25
    assert manifest["timestamps"]["created_at"] is not None
    assert manifest["per_model"] == [
        {
            "model_id": "sim-steady",
            "completed": 1,
            "failed": 1,
            "transcript_count": 1,
            "total_tokens": 30,
            "total_cost": 0.25,
            "avg_duration_ms": 5.0,
        }
    ]
    # The status log's trigger wrote the run's creation (made COMPLETED by the factory).
    assert [e["status"] for e in manifest["events"]] == ["COMPLETED"]
    assert [s["name"] for s in manifest["stages"]] == ["PROBING", "SUMMARIZING"]
    assert "provenance" in manifest


async def test_run_history_json_and_csv_with_filters(
    app_client: httpx.AsyncClient, db: Database, viewer_key: str
) -> None:
    done = await _small_run(db, status="COMPLETED", name="done")
    await _small_run(db, status="FAILED", name="broken")
    response = await app_client.get(
        "/export/runs.json", params={"status": "COMPLETED"}, headers=bearer(viewer_key)
    )
    assert response.status_code == 200
    [run] = response.json()
    assert run["id"] == done.id and run["name"] == "done"
    assert (run["completed"], run["failed"], run["transcript_count"]) == (1, 1, 1)
    assert run["total_cost"] == 0.25 and run["models"] == ["sim-steady"]

    response = await app_client.get("/export/runs.csv", headers=bearer(viewer_key))
    rows = list(csv.DictReader(io.StringIO(response.text)))
    assert [r["name"] for r in rows] == ["broken", "done"]
    assert rows[1]["total_tokens"] == "30" and rows[1]["models"] == "sim-steady"

    later = await app_client.get(
        "/export/runs.json",
        params={"createdAfter": "2999-01-01T00:00:00Z"},
        headers=bearer(viewer_key),
    )
    assert later.json() == []


async def test_refusals(app_client: httpx.AsyncClient, db: Database, viewer_key: str) -> None:
    run = await _small_run(db)
    anonymous = await app_client.get(f"/export/runs/{run.id}/transcripts.csv")
    assert anonymous.status_code == 401
    assert anonymous.json()["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
    wrong = await app_client.get("/export/runs.json", headers=bearer("vr_not-a-key"))
    assert wrong.status_code == 401
    assert wrong.json()["errors"][0]["message"] == "Invalid API key: it is unknown or revoked."

    for path in ("transcripts.csv", "transcripts.jsonl", "manifest.json"):
        missing = await app_client.get(f"/export/runs/nope/{path}", headers=bearer(viewer_key))
        assert missing.status_code == 404
        assert missing.json() == {
            "errors": [{"message": "Run not found: nope", "extensions": {"code": "NOT_FOUND"}}]
        }

    cases = {
        "status": ("DONE", "Invalid status: DONE. Must be one of: PENDING, RUNNING, PAUSED,"),
        "createdAfter": ("yesterday", "Invalid createdAfter: yesterday. Expected an ISO 8601"),
        "colour": ("red", "Unknown parameter: colour."),
    }
    for name, (value, message) in cases.items():
        bad = await app_client.get(
            "/export/runs.csv", params={name: value}, headers=bearer(viewer_key)
        )
        assert bad.status_code == 400
        error = bad.json()["errors"][0]
        assert error["extensions"]["code"] == "VALIDATION_ERROR"
        assert error["message"].startswith(message)
