"""The catalog through GraphQL: definitions, scenarios, providers and models."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from app.seed import DEMO_DEFINITION_ID
from tests.factories import definition_content, dimension, error_codes, gql

CREATE_DEFINITION = """
mutation($input: CreateDefinitionInput!) {
  createDefinition(input: $input) { id name version scenarioCount content
    scenarios(limit: 10) { name content definitionId } }
}
"""
UPDATE_DEFINITION = """
mutation($id: String!, $input: UpdateDefinitionInput!) {
  updateDefinition(id: $id, input: $input) { id name version scenarioCount }
}
"""
COUNTS = "{ definitionCount llmModels { id } }"
LLM_MODEL_FIELDS = """
  id providerId modelId displayName costInputPerMillion costOutputPerMillion status
  isDefault isAvailable apiConfig createdAt updatedAt provider { name }
"""


async def counts(client: httpx.AsyncClient, key: str) -> tuple[int, int]:
    body = await gql(client, COUNTS, key=key)
    return body["data"]["definitionCount"], len(body["data"]["llmModels"])


async def model_id_of(client: httpx.AsyncClient, key: str, model_id: str) -> str:
    body = await gql(client, "{ llmModels { id modelId } }", key=key)
    return next(m["id"] for m in body["data"]["llmModels"] if m["modelId"] == model_id)


async def test_create_definition_expands_scenarios(
    app_client: httpx.AsyncClient, admin_key: str
) -> None:
    content = definition_content(
        dimension("stakes", "low", "high"),
        dimension("urgency", "later", "now"),
        template="Stakes [stakes], urgency [urgency].",
    )
    body = await gql(
        app_client,
        CREATE_DEFINITION,
        {"input": {"name": "Dilemma", "content": content}},
        key=admin_key,
    )
    created = body["data"]["createDefinition"]
    assert (created["name"], created["version"], created["scenarioCount"]) == ("Dilemma", 1, 4)
    assert created["scenarios"][1] == {
        "name": "stakes=low, urgency=now",
        "content": {
            "prompt": "Stakes low, urgency now.",
            "dimension_values": {"stakes": 1, "urgency": 2},
        },
        "definitionId": created["id"],
    }
    listed = await gql(
        app_client,
        "query($d: ID!) { scenarios(definitionId: $d, limit: 2, offset: 2) { name } scenarioCount(definitionId: $d) }",
        {"d": created["id"]},
        key=admin_key,
    )
    assert listed["data"] == {
        "scenarios": [{"name": "stakes=high, urgency=later"}, {"name": "stakes=high, urgency=now"}],
        "scenarioCount": 4,
    }


async def test_update_definition_reexpands_on_content_change(
    app_client: httpx.AsyncClient, admin_key: str
) -> None:
    variables = {
        "id": DEMO_DEFINITION_ID,
        "input": {"content": definition_content(dimension("x", "a"))},
    }
    body = await gql(app_client, UPDATE_DEFINITION, variables, key=admin_key)
    assert body["data"]["updateDefinition"] == {
        "id": DEMO_DEFINITION_ID,
        "name": "Demo: a colleague's mistake",
        "version": 2,
        "scenarioCount": 1,
    }


async def test_delete_definition_soft_deletes_it_and_its_forks(
    app_client: httpx.AsyncClient, admin_key: str
) -> None:
    fork = await gql(
        app_client,
        CREATE_DEFINITION,
        {
            "input": {
                "name": "Fork",
                "content": definition_content(),
                "parentId": DEMO_DEFINITION_ID,
            }
        },
        key=admin_key,
    )
    fork_id = fork["data"]["createDefinition"]["id"]
    parent = await gql(
        app_client,
        "query($id: ID!) { definition(id: $id) { children { id } } }",
        {"id": DEMO_DEFINITION_ID},
        key=admin_key,
    )
    assert parent["data"]["definition"]["children"] == [{"id": fork_id}]
    body = await gql(
        app_client,
        "mutation($id: String!) { deleteDefinition(id: $id) { deletedIds count } }",
        {"id": DEMO_DEFINITION_ID},
        key=admin_key,
    )
    assert body["data"]["deleteDefinition"]["count"] == 2
    assert set(body["data"]["deleteDefinition"]["deletedIds"]) == {DEMO_DEFINITION_ID, fork_id}
    after = await gql(
        app_client,
        """query($id: ID!) { definition(id: $id) { id } definitions { id } definitionCount
           deleted: definition(id: $id, includeDeleted: true) { id } }""",
        {"id": DEMO_DEFINITION_ID},
        key=admin_key,
    )
    assert after["data"] == {
        "definition": None,
        "definitions": [],
        "definitionCount": 0,
        "deleted": {"id": DEMO_DEFINITION_ID},
    }


async def test_scenarios_of_unknown_definition_is_not_found(
    app_client: httpx.AsyncClient, admin_key: str
) -> None:
    body = await gql(app_client, '{ scenarios(definitionId: "nope") { id } }', key=admin_key)
    assert error_codes(body) == ["NOT_FOUND"]
    assert body["errors"][0]["message"] == "Definition not found: nope"


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("just a string", "Content must be a JSON object"),
        ({"dimensions": []}, "content.template must be a non-empty string"),
        (
            {
                "template": "t",
                "dimensions": [{"name": "a", "levels": [{"score": 0, "label": "x"}]}],
            },
            "content.dimensions[0].levels[0].score must be an integer from 1 to 5",
        ),
    ],
)
async def test_malformed_content_is_refused_and_nothing_written(
    app_client: httpx.AsyncClient, admin_key: str, content: Any, message: str
) -> None:
    before = await counts(app_client, admin_key)
    body = await gql(
        app_client, CREATE_DEFINITION, {"input": {"name": "Bad", "content": content}}, key=admin_key
    )
    assert error_codes(body) == ["VALIDATION_ERROR"]
    assert body["errors"][0]["message"] == message
    assert await counts(app_client, admin_key) == before


async def test_definition_over_the_cap_is_refused_and_nothing_written(
    app_client: httpx.AsyncClient, admin_key: str
) -> None:
    levels = [{"score": 1 + i % 5, "label": f"l{i}"} for i in range(11)]
    content = definition_content(*({"name": f"d{i}", "levels": levels} for i in range(4)))
    before = await counts(app_client, admin_key)
    body = await gql(
        app_client,
        CREATE_DEFINITION,
        {"input": {"name": "Huge", "content": content}},
        key=admin_key,
    )
    assert error_codes(body) == ["VALIDATION_ERROR"]
    assert (
        body["errors"][0]["message"] == "Definition expands to 14641 scenarios; the limit is 10000"
    )
    assert await counts(app_client, admin_key) == before


async def test_update_with_malformed_content_changes_nothing(
    app_client: httpx.AsyncClient, admin_key: str
) -> None:
    body = await gql(
        app_client,
        UPDATE_DEFINITION,
        {"id": DEMO_DEFINITION_ID, "input": {"content": []}},
        key=admin_key,
    )
    assert error_codes(body) == ["VALIDATION_ERROR"]
    after = await gql(
        app_client,
        "query($id: ID!) { definition(id: $id) { version scenarioCount } }",
        {"id": DEMO_DEFINITION_ID},
        key=admin_key,
    )
    assert after["data"]["definition"] == {"version": 1, "scenarioCount": 6}


async def test_unknown_parent_is_not_found(app_client: httpx.AsyncClient, admin_key: str) -> None:
    before = await counts(app_client, admin_key)
    body = await gql(
        app_client,
        CREATE_DEFINITION,
        {"input": {"name": "Orphan", "content": definition_content(), "parentId": "missing"}},
        key=admin_key,
    )
    assert error_codes(body) == ["NOT_FOUND"]
    assert body["errors"][0]["message"] == "Parent definition not found: missing"
    assert await counts(app_client, admin_key) == before


async def test_providers_models_and_available_models(
    app_client: httpx.AsyncClient, admin_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    monkeypatch.delenv("OPENAI_BASE_URL", raising=False)
    body = await gql(
        app_client,
        f"""{{
          llmProvider(id: "simulated") {{ name displayName isEnabled maxParallelRequests
            defaultModel {{ modelId }} activeModels {{ modelId }} balance }}
          llmModels(providerId: "simulated", status: "ACTIVE") {{ {LLM_MODEL_FIELDS} }}
          availableModels(availableOnly: true) {{ id providerId versions defaultVersion isAvailable isDefault }}
          openai: llmModels(providerId: "openai") {{ modelId isAvailable }}
        }}""",
        key=admin_key,
    )
    assert "errors" not in body, body
    data = body["data"]
    assert data["llmProvider"]["defaultModel"] == {"modelId": "sim-steady"}
    assert data["llmProvider"]["balance"] is None
    assert {m["modelId"] for m in data["llmModels"]} == {
        "sim-steady",
        "sim-instant",
        "sim-flaky",
        "sim-demo-slow",
    }
    assert all(
        m["isAvailable"] and m["provider"] == {"name": "simulated"} for m in data["llmModels"]
    )
    assert {m["providerId"] for m in data["availableModels"]} == {"simulated"}
    steady = next(m for m in data["availableModels"] if m["id"] == "sim-steady")
    assert steady == {
        "id": "sim-steady",
        "providerId": "simulated",
        "versions": ["sim-steady"],
        "defaultVersion": "sim-steady",
        "isAvailable": True,
        "isDefault": True,
    }
    assert not any(m["isAvailable"] for m in data["openai"])
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    again = await gql(
        app_client, '{ llmModels(providerId: "openai") { isAvailable } }', key=admin_key
    )
    assert all(m["isAvailable"] for m in again["data"]["llmModels"])


async def test_model_lifecycle(app_client: httpx.AsyncClient, admin_key: str) -> None:
    created = await gql(
        app_client,
        f"""mutation($input: CreateLlmModelInput!) {{ createLlmModel(input: $input) {{ {LLM_MODEL_FIELDS} }} }}""",
        {
            "input": {
                "providerId": "simulated",
                "modelId": "sim-new",
                "displayName": "Simulated: new",
                "costInputPerMillion": 1.5,
                "costOutputPerMillion": 3,
                "setAsDefault": True,
            }
        },
        key=admin_key,
    )
    model = created["data"]["createLlmModel"]
    assert (model["isDefault"], model["status"], model["costOutputPerMillion"]) == (
        True,
        "ACTIVE",
        3.0,
    )
    steady = await model_id_of(app_client, admin_key, "sim-steady")

    body = await gql(
        app_client,
        """mutation($id: String!) { setDefaultLlmModel(id: $id) { model { modelId isDefault }
             previousDefault { modelId isDefault } } }""",
        {"id": steady},
        key=admin_key,
    )
    assert body["data"]["setDefaultLlmModel"] == {
        "model": {"modelId": "sim-steady", "isDefault": True},
        "previousDefault": {"modelId": "sim-new", "isDefault": False},
    }
    body = await gql(
        app_client,
        """mutation($id: String!, $input: UpdateLlmModelInput!) { updateLlmModel(id: $id, input: $input)
             { displayName costInputPerMillion apiConfig } }""",
        {
            "id": model["id"],
            "input": {
                "displayName": "Renamed",
                "costInputPerMillion": 0,
                "apiConfig": {"latencyMs": 5},
            },
        },
        key=admin_key,
    )
    assert body["data"]["updateLlmModel"] == {
        "displayName": "Renamed",
        "costInputPerMillion": 0.0,
        "apiConfig": {"latencyMs": 5},
    }
    body = await gql(
        app_client,
        """mutation($id: String!) { deprecateLlmModel(id: $id) { model { status isDefault }
             newDefault { modelId isDefault } } }""",
        {"id": steady},
        key=admin_key,
    )
    deprecated = body["data"]["deprecateLlmModel"]
    assert deprecated["model"] == {"status": "DEPRECATED", "isDefault": False}
    assert deprecated["newDefault"]["isDefault"] is True
    refused = await gql(
        app_client,
        "mutation($id: String!) { setDefaultLlmModel(id: $id) { model { id } } }",
        {"id": steady},
        key=admin_key,
    )
    assert error_codes(refused) == ["VALIDATION_ERROR"]
    body = await gql(
        app_client,
        "mutation($id: String!) { reactivateLlmModel(id: $id) { status } }",
        {"id": steady},
        key=admin_key,
    )
    assert body["data"]["reactivateLlmModel"] == {"status": "ACTIVE"}
    new_default = await model_id_of(app_client, admin_key, deprecated["newDefault"]["modelId"])
    body = await gql(
        app_client,
        "mutation($id: String!) { unsetDefaultLlmModel(id: $id) { isDefault } }",
        {"id": new_default},
        key=admin_key,
    )
    assert body["data"]["unsetDefaultLlmModel"] == {"isDefault": False}
    provider = await gql(
        app_client, '{ llmProvider(id: "simulated") { defaultModel { id } } }', key=admin_key
    )
    assert provider["data"]["llmProvider"]["defaultModel"] is None


async def test_update_provider(app_client: httpx.AsyncClient, admin_key: str) -> None:
    body = await gql(
        app_client,
        """mutation { updateLlmProvider(id: "openai", input: {isEnabled: false, maxParallelRequests: 3,
             requestsPerMinute: 30}) { name isEnabled maxParallelRequests requestsPerMinute
             models { isAvailable } } }""",
        key=admin_key,
    )
    provider = body["data"]["updateLlmProvider"]
    assert (
        provider["isEnabled"],
        provider["maxParallelRequests"],
        provider["requestsPerMinute"],
    ) == (False, 3, 30)
    assert not any(m["isAvailable"] for m in provider["models"])


@pytest.mark.parametrize(
    ("overrides", "code", "message"),
    [
        ({"providerId": "nope"}, "NOT_FOUND", "LlmProvider not found: nope"),
        (
            {"costInputPerMillion": -1},
            "VALIDATION_ERROR",
            "costInputPerMillion must be a non-negative number",
        ),
        (
            {"costOutputPerMillion": -0.5},
            "VALIDATION_ERROR",
            "costOutputPerMillion must be a non-negative number",
        ),
        (
            {"modelId": "sim-steady"},
            "VALIDATION_ERROR",
            "Model sim-steady already exists for provider simulated",
        ),
        ({"displayName": "  "}, "VALIDATION_ERROR", "displayName must not be empty"),
        (
            {"displayName": "x" * 256},
            "VALIDATION_ERROR",
            "displayName must be 255 characters or less",
        ),
        ({"modelId": "m" * 100_000}, "VALIDATION_ERROR", "modelId must be 255 characters or less"),
    ],
)
async def test_bad_model_input_is_refused_and_nothing_written(
    app_client: httpx.AsyncClient,
    admin_key: str,
    overrides: dict[str, Any],
    code: str,
    message: str,
) -> None:
    before = await counts(app_client, admin_key)
    model = {
        "providerId": "simulated",
        "modelId": "sim-x",
        "displayName": "X",
        "costInputPerMillion": 1,
        "costOutputPerMillion": 1,
        "setAsDefault": True,
    }
    body = await gql(
        app_client,
        "mutation($input: CreateLlmModelInput!) { createLlmModel(input: $input) { id } }",
        {"input": {**model, **overrides}},
        key=admin_key,
    )
    assert error_codes(body) == [code]
    assert body["errors"][0]["message"] == message
    assert await counts(app_client, admin_key) == before
    default = await gql(
        app_client, '{ llmProvider(id: "simulated") { defaultModel { modelId } } }', key=admin_key
    )
    assert default["data"]["llmProvider"]["defaultModel"] == {"modelId": "sim-steady"}


BASE_URL_RULE = (
    "apiConfig.baseUrl must be an http or https URL with a host (no user info, query or "
    "fragment), at most 2048 characters"
)


@pytest.mark.parametrize(
    ("api_config", "message"),
    [
        ({"baseUrl": "file:///etc/passwd"}, BASE_URL_RULE),
        ({"baseUrl": "http://"}, BASE_URL_RULE),
        ({"baseUrl": "https://user:secret@api.example/v1"}, BASE_URL_RULE),
        ({"baseUrl": "https://api.example/v1?key=1"}, BASE_URL_RULE),
        ({"baseUrl": "https://api.example:port/v1"}, BASE_URL_RULE),
        ({"baseUrl": "https://" + "a" * 2048 + ".example"}, BASE_URL_RULE),
        ({"baseUrl": None}, BASE_URL_RULE),
        (
            {"timeoutSeconds": 0},
            "apiConfig.timeoutSeconds must be a number greater than 0 and at most 600",
        ),
        (
            {"timeoutSeconds": 1e308},
            "apiConfig.timeoutSeconds must be a number greater than 0 and at most 600",
        ),
        (
            {"timeoutSeconds": "30"},
            "apiConfig.timeoutSeconds must be a number greater than 0 and at most 600",
        ),
        ({"failureRate": 1e308}, "apiConfig.failureRate must be a number at least 0 and at most 1"),
        ({"failureRate": -0.1}, "apiConfig.failureRate must be a number at least 0 and at most 1"),
        ({"failureRate": True}, "apiConfig.failureRate must be a number at least 0 and at most 1"),
        (
            {"latencyMs": 86_400_000},
            "apiConfig.latencyMs must be a number at least 0 and at most 60000",
        ),
        ({"failAlways": "yes"}, "apiConfig.failAlways must be true or false"),
        (
            {"failureKind": "QUOTA"},
            "apiConfig.failureKind must be one of RATE_LIMITED, SERVER_ERROR, TIMEOUT, "
            "QUOTA_EXHAUSTED, AUTH, REFUSAL, EMPTY",
        ),
        (
            {"latencyMs": 5, "maxTokens": 100},
            "apiConfig: unknown key maxTokens. Allowed keys: baseUrl, timeoutSeconds, latencyMs, "
            "failureRate, failAlways, failureKind",
        ),
        ([{"baseUrl": "https://api.example"}], "apiConfig must be a JSON object"),
    ],
)
async def test_bad_api_config_is_refused_and_nothing_stored(
    app_client: httpx.AsyncClient, admin_key: str, api_config: Any, message: str
) -> None:
    model_id = await model_id_of(app_client, admin_key, "sim-flaky")
    body = await gql(
        app_client,
        """mutation($id: String!, $input: UpdateLlmModelInput!) {
             updateLlmModel(id: $id, input: $input) { apiConfig } }""",
        {"id": model_id, "input": {"displayName": "Changed", "apiConfig": api_config}},
        key=admin_key,
    )
    assert error_codes(body) == ["VALIDATION_ERROR"]
    assert body["errors"][0]["message"] == message
    after = await gql(
        app_client,
        "query($id: String!) { llmModel(id: $id) { displayName apiConfig } }",
        {"id": model_id},
        key=admin_key,
    )
    assert after["data"]["llmModel"] == {
        "displayName": "Simulated: flaky (20% failures)",
        "apiConfig": {"latencyMs": 200, "failureRate": 0.2},
    }


async def test_every_known_api_config_key_in_range_is_stored(
    app_client: httpx.AsyncClient, admin_key: str
) -> None:
    api_config = {
        "baseUrl": "http://gpu-box.lan:8000/v1",
        "timeoutSeconds": 600,
        "latencyMs": 0,
        "failureRate": 1,
        "failAlways": False,
    }
    body = await gql(
        app_client,
        """mutation($id: String!, $input: UpdateLlmModelInput!) {
             updateLlmModel(id: $id, input: $input) { apiConfig } }""",
        {
            "id": await model_id_of(app_client, admin_key, "sim-flaky"),
            "input": {"apiConfig": api_config},
        },
        key=admin_key,
    )
    assert body["data"]["updateLlmModel"] == {"apiConfig": api_config}


@pytest.mark.parametrize(
    ("patch", "message"),
    [
        ("maxParallelRequests: 0", "maxParallelRequests must be between 1 and 1000"),
        ("requestsPerMinute: -5", "requestsPerMinute must be between 1 and 100000"),
    ],
)
async def test_bad_provider_limits_are_refused(
    app_client: httpx.AsyncClient, admin_key: str, patch: str, message: str
) -> None:
    body = await gql(
        app_client,
        f'mutation {{ updateLlmProvider(id: "simulated", input: {{isEnabled: false, {patch}}}) {{ id }} }}',
        key=admin_key,
    )
    assert error_codes(body) == ["VALIDATION_ERROR"]
    assert body["errors"][0]["message"] == message
    after = await gql(app_client, '{ llmProvider(id: "simulated") { isEnabled } }', key=admin_key)
    assert after["data"]["llmProvider"]["isEnabled"] is True


async def test_unknown_model_ids_are_not_found(
    app_client: httpx.AsyncClient, admin_key: str
) -> None:
    body = await gql(
        app_client, 'mutation { deprecateLlmModel(id: "missing") { model { id } } }', key=admin_key
    )
    assert error_codes(body) == ["NOT_FOUND"]
    assert body["errors"][0]["message"] == "LlmModel not found: missing"
    lookup = await gql(
        app_client,
        '{ llmModel(id: "missing") { id } llmProvider(id: "missing") { id } }',
        key=admin_key,
    )
    assert lookup["data"] == {"llmModel": None, "llmProvider": None}


async def test_invalid_status_filter_is_refused(
    app_client: httpx.AsyncClient, admin_key: str
) -> None:
    body = await gql(app_client, '{ llmModels(status: "RETIRED") { id } }', key=admin_key)
    assert error_codes(body) == ["VALIDATION_ERROR"]
    assert (
        body["errors"][0]["message"]
        == "Invalid status: RETIRED. Must be one of: ACTIVE, DEPRECATED"
    )
