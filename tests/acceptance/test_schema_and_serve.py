"""The committed SDL matches the code; `valuerank serve` comes up, prints its lines, answers."""

from __future__ import annotations

import json
import logging
import re
import signal
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import httpx
import pytest

from app.graphql.schema import schema
from app.llm import service as llm_service
from tests.factories import error_codes, gql
from tests.serve import start_server, stop_server

ROOT = Path(__file__).resolve().parents[2]


def test_schema_graphql_is_current() -> None:
    committed = (ROOT / "schema.graphql").read_text()
    assert committed == schema.as_str() + "\n", "schema.graphql is stale: run `make schema`"


def test_seed_operations_validate_against_the_schema() -> None:
    from graphql import parse, validate

    seed_ops = """
    query GetRun($id: ID!) { run(id: $id) { id status definition { id name } config
      progress { total completed failed } transcripts { id modelId decisionCode decisionText }
      createdAt startedAt completedAt } }
    query ListRuns($definitionId: String $status: String $limit: Int $offset: Int) {
      runs(definitionId: $definitionId status: $status limit: $limit offset: $offset) {
        id status definition { id name } progress { total completed failed } createdAt } }
    """
    assert validate(schema._schema, parse(seed_ops)) == []


async def test_unexpected_errors_are_masked_and_logged(
    app_client: httpx.AsyncClient,
    admin_key: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    async def broken(*args: Any, **kwargs: Any) -> None:
        raise RuntimeError("secret internals")

    monkeypatch.setattr(llm_service, "list_providers", broken)
    with caplog.at_level(logging.ERROR, logger="app.graphql"):
        body = await gql(app_client, "{ llmProviders { id } }", key=admin_key)
    assert body["errors"][0]["message"] == "Unexpected error."
    assert "secret" not in json.dumps(body)
    assert error_codes(body) == ["INTERNAL_SERVER_ERROR"]
    request_id = body["errors"][0]["extensions"]["requestId"]
    logged = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert any(request_id in r.getMessage() and r.exc_info for r in logged)


def _post(url: str, query: str, key: str | None) -> dict[str, Any]:
    """The JSON body of a POST, whatever its status (a missing key is a 401 with a body)."""
    headers = {"Content-Type": "application/json"}
    if key:
        headers["Authorization"] = f"Bearer {key}"
    request = urllib.request.Request(
        url, data=json.dumps({"query": query}).encode(), headers=headers
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            body: dict[str, Any] = json.loads(response.read())
    except urllib.error.HTTPError as refused:
        body = json.loads(refused.read())
    return body


def test_serve_prints_its_lines_answers_and_reuses_data(database_url: str, tmp_path: Path) -> None:
    server = start_server(database_url, tmp_path)
    lines = {"GraphiQL": server.url, "API key": server.key}
    try:
        assert re.match(r"^http://127\.0\.0\.1:\d+/graphql$", lines["GraphiQL"])
        body = _post(
            lines["GraphiQL"],
            "{ llmProviders { name models { modelId status } } }",
            lines["API key"],
        )
        assert {"openai", "anthropic", "simulated"} <= {
            p["name"] for p in body["data"]["llmProviders"]
        }
        refused = _post(lines["GraphiQL"], "{ llmProviders { name } }", None)
        assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED"
        models_first = len(
            _post(lines["GraphiQL"], "{ llmModels { id } }", lines["API key"])["data"]["llmModels"]
        )
    finally:
        assert stop_server(server) == -signal.SIGTERM
    assert (tmp_path / "admin-api-key").stat().st_mode & 0o777 == 0o600

    again = start_server(database_url, tmp_path)
    lines_again = {"GraphiQL": again.url, "API key": again.key}
    try:
        assert lines_again["API key"] == lines["API key"]  # the same local key, no new one
        body = _post(
            lines_again["GraphiQL"], "{ llmModels { id } definitionCount }", lines["API key"]
        )
        assert len(body["data"]["llmModels"]) == models_first
        assert body["data"]["definitionCount"] == 1
    finally:
        assert stop_server(again) == -signal.SIGTERM
