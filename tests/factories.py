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
