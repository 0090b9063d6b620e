"""Every operation needs a key (HTTP 401 without one); every mutation the ADMIN role;
refusals change nothing."""

from __future__ import annotations

import httpx

from tests.factories import error_codes, gql

PROVIDERS = "{ llmProviders { name } }"
CREATE_MODEL = """
mutation($input: CreateLlmModelInput!) { createLlmModel(input: $input) { id } }
"""
NEW_MODEL = {
    "providerId": "openai",
    "modelId": "gpt-new",
    "displayName": "New",
    "costInputPerMillion": 1.0,
    "costOutputPerMillion": 2.0,
}


async def _model_count(client: httpx.AsyncClient, key: str) -> int:
    body = await gql(client, "{ llmModels { id } }", key=key)
    return len(body["data"]["llmModels"])


async def test_query_without_key_is_401_unauthenticated(app_client: httpx.AsyncClient) -> None:
    response = await app_client.post("/graphql", json={"query": PROVIDERS})
    assert response.status_code == 401
    assert response.headers["www-authenticate"].startswith("Bearer")
    body = response.json()
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert body["data"] is None
    assert "Bearer" in body["errors"][0]["message"]


async def test_unknown_key_is_401_unauthenticated(app_client: httpx.AsyncClient) -> None:
    response = await app_client.post(
        "/graphql",
        json={"query": PROVIDERS},
        headers={"Authorization": "Bearer vrk_not-a-real-key"},
    )
    assert response.status_code == 401
    assert response.json()["errors"][0] == {
        "message": "Invalid API key: it is unknown or revoked.",
        "extensions": {"code": "UNAUTHENTICATED"},
    }


async def test_malformed_header_is_unauthenticated(
    app_client: httpx.AsyncClient, admin_key: str
) -> None:
    response = await app_client.post(
        "/graphql", json={"query": PROVIDERS}, headers={"Authorization": f"Token {admin_key}"}
    )
    assert error_codes(response.json()) == ["UNAUTHENTICATED"]


async def test_viewer_may_query(app_client: httpx.AsyncClient, viewer_key: str) -> None:
    body = await gql(app_client, PROVIDERS, key=viewer_key)
    assert "errors" not in body
    assert "simulated" in {p["name"] for p in body["data"]["llmProviders"]}


async def test_viewer_may_not_mutate_and_nothing_changes(
    app_client: httpx.AsyncClient, viewer_key: str, admin_key: str
) -> None:
    before = await _model_count(app_client, admin_key)
    body = await gql(app_client, CREATE_MODEL, {"input": NEW_MODEL}, key=viewer_key)
    assert error_codes(body) == ["FORBIDDEN"]
    assert body["errors"][0]["message"] == "Admin access required"
    assert await _model_count(app_client, admin_key) == before


async def test_mutation_without_key_is_unauthenticated(
    app_client: httpx.AsyncClient, admin_key: str
) -> None:
    before = await _model_count(app_client, admin_key)
    body = await gql(app_client, CREATE_MODEL, {"input": NEW_MODEL})
    assert error_codes(body) == ["UNAUTHENTICATED"]
    assert await _model_count(app_client, admin_key) == before


async def test_admin_may_mutate(app_client: httpx.AsyncClient, admin_key: str) -> None:
    body = await gql(app_client, CREATE_MODEL, {"input": NEW_MODEL}, key=admin_key)
    assert "errors" not in body, body


async def test_introspection_needs_a_key_too(app_client: httpx.AsyncClient) -> None:
    """Nothing is decided from the document before the key: no shape of it can pass as
    introspection (a fragment or alias named `__x` once did)."""
    body = await gql(app_client, "{ __schema { queryType { name } } }")
    assert error_codes(body) == ["UNAUTHENTICATED"]


async def test_viewer_may_introspect(app_client: httpx.AsyncClient, viewer_key: str) -> None:
    body = await gql(app_client, "{ __schema { queryType { name } } }", key=viewer_key)
    assert body == {"data": {"__schema": {"queryType": {"name": "Query"}}}}


async def test_graphiql_is_served_on_get(app_client: httpx.AsyncClient) -> None:
    response = await app_client.get("/graphql", headers={"Accept": "text/html"})
    assert response.status_code == 200 and "graphiql" in response.text.lower()


async def test_keys_are_never_readable(app_client: httpx.AsyncClient, admin_key: str) -> None:
    body = await gql(
        app_client, '{ __type(name: "LlmProvider") { fields { name } } }', key=admin_key
    )
    names = {f["name"] for f in body["data"]["__type"]["fields"]}
    assert not {n for n in names if "key" in n.lower()}
