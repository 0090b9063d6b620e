"""Where a provider's key may go: the hostile case end to end (an editor points a model's
apiConfig.baseUrl at a listener of their own, then starts a run), with real worker processes
and two local servers speaking OpenAI's wire format, each recording the headers it receives."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest

from app.db import Database
from tests.factories import gql
from tests.stubs.vendors import StubServer, serve
from tests.workers import wait_for_status, workers

KEY = "sk-operator-0123456789abcdef"
MODEL = "gpt-4o-mini"
DEMO = "demo-definition-honesty"


@pytest.fixture
def own(monkeypatch: pytest.MonkeyPatch) -> Iterator[StubServer]:
    """The provider's own base URL (OPENAI_BASE_URL), where its key belongs."""
    with serve() as server:
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        monkeypatch.setenv("OPENAI_BASE_URL", server.openai_base_url)
        monkeypatch.delenv("PROVIDER_HOST_ALLOWLIST", raising=False)
        yield server


@pytest.fixture
def elsewhere() -> Iterator[StubServer]:
    """Another listener: same machine, another port, so another origin."""
    with serve() as server:
        yield server


async def point_model_at(client: httpx.AsyncClient, key: str, base_url: str) -> None:
    found = await gql(client, "{ llmModels { id modelId } }", key=key)
    (model_id,) = [m["id"] for m in found["data"]["llmModels"] if m["modelId"] == MODEL]
    body = await gql(
        client,
        """mutation($id: String!, $input: UpdateLlmModelInput!) {
             updateLlmModel(id: $id, input: $input) { apiConfig } }""",
        {"id": model_id, "input": {"apiConfig": {"baseUrl": base_url}}},
        key=key,
    )
    assert "errors" not in body, body


async def run_to_the_end(
    client: httpx.AsyncClient, key: str, db: Database, database_url: str, **env: str
) -> list[dict[str, Any]]:
    """Start a run of MODEL, let one worker process finish it; its probe results."""
    body = await gql(
        client,
        "mutation($input: StartRunInput!) { startRun(input: $input) { run { id } } }",
        {"input": {"definitionId": DEMO, "models": [MODEL]}},
        key=key,
    )
    assert "errors" not in body, body
    run_id = body["data"]["startRun"]["run"]["id"]
    with workers(database_url, **env):
        await wait_for_status(db, run_id, {"SUMMARIZING", "COMPLETED", "FAILED"})
    results = await gql(
        client,
        "query($id: ID!) { run(id: $id) { probeResults { status errorCode errorMessage } } }",
        {"id": run_id},
        key=key,
    )
    probes: list[dict[str, Any]] = results["data"]["run"]["probeResults"]
    return probes


def key_headers(server: StubServer) -> set[str | None]:
    """The Authorization headers the server saw (one request per turn, every one with it)."""
    assert server.script.received, "no request arrived"
    return {r.headers.get("authorization") for r in server.script.received}


async def test_a_key_never_reaches_a_base_url_the_operator_did_not_allow(
    own: StubServer,
    elsewhere: StubServer,
    app_client: httpx.AsyncClient,
    admin_key: str,
    db: Database,
    database_url: str,
) -> None:
    await point_model_at(app_client, admin_key, elsewhere.openai_base_url)

    probes = await run_to_the_end(app_client, admin_key, db, database_url)

    # Refused, not sent keyless: the listener saw nothing at all, nor did the vendor.
    assert elsewhere.script.received == [] and own.script.received == []
    host = urlsplit(elsewhere.url).netloc
    assert len(probes) == 6
    assert {(p["status"], p["errorCode"], p["errorMessage"]) for p in probes} == {
        (
            "FAILED",
            "UNTRUSTED_HOST",
            f"the openai API key is not sent to {host}: it is not the provider's base URL; "
            "an operator may list it in PROVIDER_HOST_ALLOWLIST",
        )
    }


async def test_an_allowlisted_host_gets_the_key(
    own: StubServer,
    elsewhere: StubServer,
    app_client: httpx.AsyncClient,
    admin_key: str,
    db: Database,
    database_url: str,
) -> None:
    await point_model_at(app_client, admin_key, elsewhere.openai_base_url)
    allowed = urlsplit(elsewhere.url).netloc  # 127.0.0.1:<port>

    probes = await run_to_the_end(
        app_client, admin_key, db, database_url, PROVIDER_HOST_ALLOWLIST=f"gpu-box, {allowed}"
    )

    assert {p["status"] for p in probes} == {"SUCCESS"}
    assert key_headers(elsewhere) == {f"Bearer {KEY}"}
    assert own.script.received == []


async def test_the_providers_own_base_url_gets_the_key(
    own: StubServer, app_client: httpx.AsyncClient, admin_key: str, db: Database, database_url: str
) -> None:
    probes = await run_to_the_end(app_client, admin_key, db, database_url)

    assert {p["status"] for p in probes} == {"SUCCESS"}
    assert key_headers(own) == {f"Bearer {KEY}"}
