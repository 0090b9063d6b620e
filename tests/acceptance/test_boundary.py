"""The HTTP boundary of /graphql: what a careless or hostile client sends is refused with a
status, a code and a message that says what to fix, before it costs the server anything, and
nothing a client causes is logged as a bug."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from starlette.testclient import TestClient
from websockets.exceptions import ConnectionClosed

from app.db import Database
from app.definitions import service as definitions
from app.main import create_app
from app.paging import Page
from tests import conftest
from tests.factories import add_slot, error_codes, gql, make_definition, make_run
from tests.live import Socket, connect, receive
from tests.serve import served

PROVIDERS = "{ llmProviders { name } }"
UPDATE_API_CONFIG = (
    "mutation($id: String!, $c: JSON) { updateLlmModel(id: $id, input: {apiConfig: $c}) { id } }"
)


@pytest.fixture
def no_errors_logged(caplog: pytest.LogCaptureFixture) -> Any:
    """Fails the test if anything logs at ERROR: client mistakes are not bugs."""
    with caplog.at_level(logging.WARNING):
        yield
    assert [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR] == []


async def _post(
    client: httpx.AsyncClient, key: str, content: bytes, content_type: str = "application/json"
) -> httpx.Response:
    return await client.post(
        "/graphql",
        content=content,
        headers={"Authorization": f"Bearer {key}", "Content-Type": content_type},
    )


def _refusal(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["data"] is None if "data" in body else True
    assert error_codes(body) == [code], body
    message: str = body["errors"][0]["message"]
    assert message and message != "Unexpected error."
    return message


@pytest.mark.parametrize(
    ("content", "fix"),
    [
        (b"\xff\xfe{", "UTF-8"),
        (b"{not json", "JSON"),
        (b"null", "object"),
        (b"123", "object"),
        (b"[]", "object"),
        (b'"query"', "object"),
        (b"{}", "query"),
        (b'{"query": 5}', "query"),
        (b'{"query": "{ __typename }", "variables": []}', "variables"),
        (b'{"query": "{ __typename }", "operationName": 1}', "operationName"),
        (b'{"query": "{ __typename }", "extra": 1}', "extra"),
        (b'{"query": "{ __typename }", "extensions": {"persistedQuery": {}}}', "extensions"),
    ],
)
async def test_malformed_bodies_are_400_saying_what_to_fix(
    app_client: httpx.AsyncClient, admin_key: str, content: bytes, fix: str, no_errors_logged: Any
) -> None:
    message = _refusal(await _post(app_client, admin_key, content), 400, "BAD_REQUEST")
    assert fix in message


async def test_a_body_over_the_cap_is_413_before_it_is_read_whole(
    app_client: httpx.AsyncClient, admin_key: str, no_errors_logged: Any
) -> None:
    padding = " " * (1_048_576 + 1)
    content = json.dumps({"query": "{ __typename }" + padding}).encode()
    message = _refusal(await _post(app_client, admin_key, content), 413, "PAYLOAD_TOO_LARGE")
    assert "1,048,576" in message or "1 MiB" in message


async def test_a_body_that_is_not_json_is_415(
    app_client: httpx.AsyncClient, admin_key: str, no_errors_logged: Any
) -> None:
    response = await _post(
        app_client, admin_key, b"query=%7B%7D", "application/x-www-form-urlencoded"
    )
    _refusal(response, 415, "BAD_REQUEST")


async def test_the_key_is_checked_before_the_body_is_read(app_client: httpx.AsyncClient) -> None:
    response = await app_client.post(
        "/graphql", content=b"\xff" * 2_000_000, headers={"Content-Type": "application/json"}
    )
    _refusal(response, 401, "UNAUTHENTICATED")


@pytest.mark.parametrize(
    ("query", "variables", "code"),
    [
        ("{ llmProviders { name ", None, "GRAPHQL_PARSE_FAILED"),
        ("{ llmProviders { nope } }", None, "GRAPHQL_VALIDATION_FAILED"),
        ("query($id: ID!) { run(id: $id) { id } }", {"id": {"a": 1}}, "BAD_USER_INPUT"),
        ("query($id: ID!) { run(id: $id) { id } }", {"id": None}, "BAD_USER_INPUT"),
        ("query($id: ID!) { run(id: $id) { id } }", {}, "BAD_USER_INPUT"),
        (
            "mutation($i: StartRunInput!) { startRun(input: $i) { run { id } } }",
            {"i": {"definitionId": "x", "models": ["m"], "unknownField": 1}},
            "BAD_USER_INPUT",
        ),
        ("query($n: Int) { runs(limit: $n) { id } }", {"n": "ten"}, "BAD_USER_INPUT"),
        ('{ run(id: "a\\u0000b") { id } }', None, "BAD_USER_INPUT"),
        ("query($id: ID!) { run(id: $id) { id } }", {"id": "a\u0000b"}, "BAD_USER_INPUT"),
        ("query($id: ID!) { run(id: $id) { id } }", {"id": "\ud800"}, "BAD_USER_INPUT"),
        ("subscription { runsChanged { runId } }", None, "BAD_REQUEST"),
        # Found by fuzzing: these reached int() or PostgreSQL and came back as "Unexpected
        # error." with an ERROR in the log.
        ("{ runs(limit: 1" + "0" * 5_000 + ") { id } }", None, "GRAPHQL_VALIDATION_FAILED"),
        (
            UPDATE_API_CONFIG.replace("$c: JSON", "").replace("$c", "{ x: 1e400 }"),
            {"id": "m"},
            "BAD_USER_INPUT",
        ),
        (
            UPDATE_API_CONFIG.replace("$c: JSON", "").replace("$c", "{ x: 1" + "0" * 400 + " }"),
            {"id": "m"},
            "BAD_USER_INPUT",
        ),
    ],
)
async def test_client_mistakes_in_documents_and_variables_are_coded_400s(
    app_client: httpx.AsyncClient,
    admin_key: str,
    query: str,
    variables: dict[str, Any] | None,
    code: str,
    no_errors_logged: Any,
) -> None:
    # json.dumps writes a lone surrogate as the escape "\ud800", as a client's encoder would.
    content = json.dumps({"query": query, "variables": variables}).encode()
    _refusal(await _post(app_client, admin_key, content), 400, code)


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("NaN", "BAD_REQUEST"),
        ("Infinity", "BAD_REQUEST"),
        ("-Infinity", "BAD_REQUEST"),
        ("1e400", "BAD_USER_INPUT"),
    ],
)
async def test_numbers_that_are_not_finite_are_refused(
    app_client: httpx.AsyncClient, admin_key: str, number: str, code: str, no_errors_logged: Any
) -> None:
    """Python's json reads NaN and Infinity (not JSON) and reads 1e400 as infinity; PostgreSQL's
    jsonb refused them, as a bug (found by fuzzing)."""
    variables = '{"id": "m", "c": {"x": ' + number + "}}"
    content = '{"query": ' + json.dumps(UPDATE_API_CONFIG) + ', "variables": ' + variables + "}"
    message = _refusal(await _post(app_client, admin_key, content.encode()), 400, code)
    assert number in message or "too large" in message


@pytest.mark.parametrize(("depth", "code"), [(33, "BAD_USER_INPUT"), (100_000, "BAD_REQUEST")])
async def test_variables_nested_deeper_than_the_limit_are_refused(
    app_client: httpx.AsyncClient, admin_key: str, depth: int, code: str, no_errors_logged: Any
) -> None:
    deep = "[" * depth + '"leaf"' + "]" * depth
    content = ('{"query": "{ __typename }", "variables": {"v": ' + deep + "}}").encode()
    message = _refusal(await _post(app_client, admin_key, content), 400, code)
    assert "32" in message


async def test_several_operations_need_an_operation_name(
    app_client: httpx.AsyncClient, admin_key: str, no_errors_logged: Any
) -> None:
    document = "query A { definitionCount } mutation B { pauseQueue { isPaused } }"
    unnamed = json.dumps({"query": document}).encode()
    message = _refusal(
        await _post(app_client, admin_key, unnamed), 400, "OPERATION_RESOLUTION_FAILURE"
    )
    assert "operationName" in message
    unknown = json.dumps({"query": document, "operationName": "C"}).encode()
    _refusal(await _post(app_client, admin_key, unknown), 400, "OPERATION_RESOLUTION_FAILURE")

    named = json.dumps({"query": document, "operationName": "A"}).encode()
    response = await _post(app_client, admin_key, named)
    assert response.status_code == 200 and "errors" not in response.json()
    queue = await gql(app_client, "{ queueStatus { isPaused } }", key=admin_key)
    assert queue["data"]["queueStatus"]["isPaused"] is False  # B did not run


async def test_get_runs_queries_and_refuses_mutations(
    app_client: httpx.AsyncClient, admin_key: str, no_errors_logged: Any
) -> None:
    auth = {"Authorization": f"Bearer {admin_key}"}
    ok = await app_client.get("/graphql", params={"query": "{ definitionCount }"}, headers=auth)
    assert ok.status_code == 200 and isinstance(ok.json()["data"]["definitionCount"], int)
    mutation = "mutation { pauseQueue { isPaused } }"
    refused = await app_client.get("/graphql", params={"query": mutation}, headers=auth)
    assert refused.status_code == 405
    assert error_codes(refused.json()) == ["METHOD_NOT_ALLOWED"]
    queue = await gql(app_client, "{ queueStatus { isPaused } }", key=admin_key)
    assert queue["data"]["queueStatus"]["isPaused"] is False


def _doubling_fragments(levels: int) -> str:
    """Each fragment spreads the next twice: 2**levels fields once expanded, a few hundred
    bytes written. A walk that expands spreads instead of memoising them never ends."""
    fragments = [f"fragment F{i} on Query {{ ...F{i + 1} ...F{i + 1} }}" for i in range(levels)] + [
        f"fragment F{levels} on Query {{ definitionCount }}"
    ]
    return "query { ...F0 } " + " ".join(fragments)


async def test_the_exponential_fragment_document_is_refused(
    app_client: httpx.AsyncClient, viewer_key: str, no_errors_logged: Any
) -> None:
    document = _doubling_fragments(60)
    body = await gql(app_client, document, key=viewer_key)
    assert body.get("data") is None
    assert error_codes(body) == ["QUERY_TOO_COMPLEX"]
    health = await app_client.get("/health")
    assert health.status_code == 200


def _amplifying_aliases(count: int) -> str:
    fields = " ".join(
        f"a{i}: definitions {{ scenarios {{ definition {{ runs {{ id name status }} }} }} }}"
        for i in range(count)
    )
    return "{ " + fields + " }"


async def test_the_amplification_document_is_refused_naming_the_limit(
    app_client: httpx.AsyncClient, viewer_key: str, no_errors_logged: Any
) -> None:
    body = await gql(app_client, _amplifying_aliases(150), key=viewer_key)
    assert body.get("data") is None
    assert error_codes(body) == ["QUERY_TOO_COMPLEX"]
    assert "50,000" in body["errors"][0]["message"]


async def test_a_query_within_the_limits_still_runs(
    app_client: httpx.AsyncClient, viewer_key: str
) -> None:
    body = await gql(
        app_client, _amplifying_aliases(1).replace("runs {", "runs(limit: 5) {"), key=viewer_key
    )
    assert "errors" not in body


@pytest.fixture
async def tight_client(database_url: str) -> AsyncIterator[httpx.AsyncClient]:
    """The app with a field limit a few dozen failed probes exceed, although the pre-execution
    estimate (50 failed probes per run) stays under it."""
    application = create_app(conftest.test_settings(max_query_cost=300), database_url=database_url)
    async with application.router.lifespan_context(application):
        transport = httpx.ASGITransport(app=application)
        async with httpx.AsyncClient(transport=transport, base_url="http://test") as client:
            yield client


async def test_a_result_larger_than_its_estimate_stops_at_the_field_limit(
    tight_client: httpx.AsyncClient, db: Database, admin_key: str, no_errors_logged: Any
) -> None:
    definition = await make_definition(db)
    async with db.session() as session:
        scenario = (await definitions.list_scenarios(session, definition.id, paging=Page(1, 0)))[0]
    run = await make_run(db, definition, models=["sim-steady"])
    for sample in range(80):
        await add_slot(db, run, scenario.id, "sim-steady", sample_index=sample, success=False)
    query = "query($id: ID!) { run(id: $id) { failedProbes { id modelId scenarioId status errorCode } } }"

    body = await gql(tight_client, query, {"id": run.id}, key=admin_key)
    assert body["data"] is None
    assert error_codes(body) == ["QUERY_TOO_COMPLEX"]
    assert "300" in body["errors"][0]["message"]

    within = await gql(
        tight_client, query.replace("status errorCode ", ""), {"id": run.id}, key=admin_key
    )
    assert "errors" not in within and len(within["data"]["run"]["failedProbes"]) == 80


async def test_an_expected_error_beside_a_loading_sibling_keeps_the_session(
    app_client: httpx.AsyncClient, db: Database, admin_key: str, no_errors_logged: Any
) -> None:
    """A coded error in one nested field while its siblings still load from the database:
    the request's session stays open until every resolver is done (it was closed under them,
    giving HTTP 500)."""
    definition = await make_definition(db)
    run = await make_run(db, definition, models=["sim-steady"])
    # `transcripts` is non-null: its error nulls the whole run at once, while `definition`,
    # `transcriptCount` and the others are still reading.
    query = """query($id: ID!) { run(id: $id) {
      transcripts(limit: -1) { id }
      definition { name scenarios { id name } }
      transcriptCount failedProbes { id } tags { name } } }"""
    response = await app_client.post(
        "/graphql",
        json={"query": query, "variables": {"id": run.id}},
        headers={"Authorization": f"Bearer {admin_key}"},
    )
    assert response.status_code == 200
    body = response.json()
    assert error_codes(body) == ["VALIDATION_ERROR"]
    assert body["data"] == {"run": None}


WS_MISTAKES = [
    ("{ llmProviders { name @ } }", {}, "GRAPHQL_PARSE_FAILED"),
    ("{ llmProviders { nope } }", {}, "GRAPHQL_VALIDATION_FAILED"),
    ('{ run(id: "a\\u0000b") { id } }', {}, "BAD_USER_INPUT"),
    ("query A { definitionCount } query B { definitionCount }", {}, "OPERATION_RESOLUTION_FAILURE"),
    ("query($id: ID!) { run(id: $id) { id } }", {"id": "\ud800"}, "BAD_USER_INPUT"),
    ("query($id: ID!) { run(id: $id) { id } }", {"id": "a\u0000b"}, "BAD_USER_INPUT"),
    ("query($v: JSON) { __typename }", {"v": json.loads("[" * 40 + "]" * 40)}, "BAD_USER_INPUT"),
]


def test_websocket_mistakes_are_coded_errors_and_the_connection_stays(
    database_url: str, admin_key: str, no_errors_logged: Any
) -> None:
    app = create_app(conftest.test_settings(seed_demo=True), database_url=database_url)
    with TestClient(app) as client, connect(client, admin_key) as connection:
        for query, variables, code in WS_MISTAKES:
            operation = connection.subscribe(query, variables)
            reply = receive(connection.ws)
            assert reply["id"] == operation
            errors = reply["payload"] if reply["type"] == "error" else reply["payload"]["errors"]
            assert [e["extensions"]["code"] for e in errors] == [code], reply
        # the connection still serves
        answer = connection.subscribe("{ definitionCount }")
        assert connection.results(answer)[0]["data"]["definitionCount"] >= 0


async def test_a_websocket_message_over_the_cap_closes_with_1009(
    database_url: str, tmp_path: Path
) -> None:
    with served(database_url, tmp_path, MAX_REQUEST_BYTES="65536") as server:
        socket = await Socket.open(server.ws_url, server.key)
        await socket.subscribe("{ definitionCount }", {"pad": "x" * 70_000})
        with pytest.raises(ConnectionClosed) as closed:
            await socket.next("definitionCount")
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS"])
async def test_other_methods_are_a_coded_405(
    app_client: httpx.AsyncClient, method: str, no_errors_logged: Any
) -> None:
    """Found by bench/fuzz.py: the route answered these itself, in plain text with no code."""
    response = await app_client.request(method, "/graphql")
    _refusal(response, 405, "METHOD_NOT_ALLOWED")
    assert response.headers["allow"] == "GET, POST"
