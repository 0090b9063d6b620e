"""Small factories and helpers shared by the test tiers."""

from __future__ import annotations

from typing import Any

import httpx

from app import auth
from app.db import Database
from app.definitions import service as definitions
from app.definitions.models import Definition


async def create_key(db: Database, role: str) -> str:
    async with db.transaction() as session:
        _, raw = await auth.create_api_key(session, role=role, name=f"test {role.lower()}")
    return raw


def dimension(name: str, *labels: str) -> dict[str, Any]:
    return {
        "name": name,
        "levels": [{"score": i + 1, "label": label} for i, label in enumerate(labels)],
    }


def definition_content(*dimensions: dict[str, Any], template: str | None = None) -> dict[str, Any]:
    names = " ".join(f"[{d['name']}]" for d in dimensions)
    return {
        "schema_version": 2,
        "template": template or f"Consider {names}. Rate 1-5.",
        "dimensions": list(dimensions),
    }


async def make_definition(db: Database, **overrides: Any) -> Definition:
    values: dict[str, Any] = {
        "name": "A definition",
        "content": definition_content(dimension("stakes", "low", "high")),
    }
    values.update(overrides)
    async with db.transaction() as session:
        return await definitions.create_definition(session, **values)


async def gql(
    client: httpx.AsyncClient,
    query: str,
    variables: dict[str, Any] | None = None,
    *,
    key: str | None = None,
) -> dict[str, Any]:
    headers = {"Authorization": f"Bearer {key}"} if key else {}
    response = await client.post(
        "/graphql", json={"query": query, "variables": variables or {}}, headers=headers
    )
    body: dict[str, Any] = response.json()
    return body


def error_codes(body: dict[str, Any]) -> list[str]:
    return [e.get("extensions", {}).get("code") for e in body.get("errors", [])]


async def make_run(db: Database, definition: Definition, **overrides: Any) -> Any:
    """A run row as startRun will create it (startRun itself arrives with the runs API)."""
    from app.runs.models import Run

    models = overrides.pop("models", ["sim-steady"])
    values: dict[str, Any] = {
        "definition_id": definition.id,
        "definition_version": definition.version,
        "config": {
            "models": models,
            "definitionSnapshot": {"content": definition.content, "version": definition.version},
        },
        "total_slots": 2 * len(models),
    }
    values.update(overrides)
    async with db.transaction() as session:
        run = Run(**values)
        session.add(run)
        await session.flush()
        await session.refresh(run)
        return run


async def add_slot(
    db: Database,
    run: Any,
    scenario_id: str,
    model_id: str,
    *,
    sample_index: int = 0,
    success: bool = True,
    decision_code: str | None = None,
    cost: float = 0.001,
) -> Any:
    """A finished slot: a probe result, and a transcript when it succeeded."""
    from app.runs.models import ProbeResult
    from app.transcripts.models import Transcript

    async with db.transaction() as session:
        transcript = None
        if success:
            transcript = Transcript(
                run_id=run.id,
                scenario_id=scenario_id,
                model_id=model_id,
                sample_index=sample_index,
                content={
                    "messages": [
                        {"role": "user", "content": "q"},
                        {"role": "assistant", "content": "Rating: 4"},
                    ]
                },
                turn_count=1,
                token_count=30,
                input_tokens=10,
                output_tokens=20,
                duration_ms=5,
                estimated_cost=cost,
                decision_code=decision_code,
                summary_status="SUMMARIZED" if decision_code else "PENDING",
            )
            session.add(transcript)
            await session.flush()
        session.add(
            ProbeResult(
                run_id=run.id,
                scenario_id=scenario_id,
                model_id=model_id,
                sample_index=sample_index,
                status="SUCCESS" if success else "FAILED",
                transcript_id=transcript.id if transcript else None,
                error_code=None if success else "RATE_LIMIT",
                error_message=None if success else "rate limited after 4 attempts",
            )
        )
        return transcript
