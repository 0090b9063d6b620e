"""Headers every HTTP response carries: X-Request-ID (matched to masked errors and logs) and
CORS for the browser origins in ALLOWED_ORIGINS."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.llm import service as llm_service
from app.main import create_app
from tests import conftest

DASHBOARD = "https://dash.example"


async def test_every_response_has_a_request_id(app_client: httpx.AsyncClient) -> None:
    first = await app_client.get("/healthz")
    second = await app_client.post("/graphql", json={"query": "{ __typename }"})
    ids = {first.headers["x-request-id"], second.headers["x-request-id"]}
    assert len(ids) == 2 and all(len(i) == 16 for i in ids)


async def test_a_usable_client_request_id_is_echoed_and_a_bad_one_replaced(
    app_client: httpx.AsyncClient,
) -> None:
    echoed = await app_client.get("/healthz", headers={"X-Request-ID": "lb-7f3a.2:1"})
    assert echoed.headers["x-request-id"] == "lb-7f3a.2:1"
    for bad in ("a b", "x" * 129, "line\tbreak", ""):
        replaced = await app_client.get("/healthz", headers={"X-Request-ID": bad})
        assert replaced.headers["x-request-id"] != bad


async def test_a_masked_error_carries_the_responses_request_id(
    app_client: httpx.AsyncClient,
    admin_key: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("a bug")

    monkeypatch.setattr(llm_service, "list_providers", broken)
    with caplog.at_level(logging.ERROR, logger="app.graphql"):
        response = await app_client.post(
            "/graphql",
            json={"query": "{ llmProviders { id } }"},
            headers={"Authorization": f"Bearer {admin_key}", "X-Request-ID": "support-ticket-42"},
        )
    assert response.headers["x-request-id"] == "support-ticket-42"
    assert response.json()["errors"][0]["extensions"]["requestId"] == "support-ticket-42"
    assert any("support-ticket-42" in r.getMessage() for r in caplog.records)


@pytest.fixture
async def cors_client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(conftest.test_settings(allowed_origins=[DASHBOARD]), database_url=database_url)
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def test_cors_preflight_allows_the_listed_origin_only(
    cors_client: httpx.AsyncClient,
) -> None:
    preflight = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }
    allowed = await cors_client.options("/graphql", headers={"Origin": DASHBOARD, **preflight})
    assert allowed.status_code == 200
    assert allowed.headers["access-control-allow-origin"] == DASHBOARD
    assert "authorization" in allowed.headers["access-control-allow-headers"].lower()

    refused = await cors_client.options(
        "/graphql", headers={"Origin": "https://evil.example", **preflight}
    )
    assert refused.status_code == 400
    assert "access-control-allow-origin" not in refused.headers


async def test_a_cross_origin_answer_exposes_the_request_id(
    cors_client: httpx.AsyncClient, admin_key: str
) -> None:
    response = await cors_client.post(
        "/graphql",
        json={"query": "{ definitionCount }"},
        headers={"Origin": DASHBOARD, "Authorization": f"Bearer {admin_key}"},
    )
    assert response.status_code == 200
    assert response.headers["access-control-allow-origin"] == DASHBOARD
    assert "x-request-id" in response.headers["access-control-expose-headers"].lower()
