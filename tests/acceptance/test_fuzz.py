"""Property tests of the /graphql boundary over the whole schema: whatever a client sends, the
answer is never a 5xx, every error carries `extensions.code`, nothing is masked as "Unexpected
error." and nothing is logged at ERROR (tests/fuzzing.py draws the requests and states the
contract).

Hypothesis is synchronous and the app runs on the test's event loop, so each property runs in
a worker thread and hands its requests to the loop. Examples are derandomized: CI replays the
same requests every time, and a failure shrinks to one small request.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections import Counter
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, example, given, settings

from app.db import Database
from app.definitions import service as definitions
from app.paging import Page
from tests import fuzzing
from tests.factories import add_slot, gql, make_definition, make_run

EXAMPLES = 150
# Generation, not the server, is what hypothesis would otherwise flag as slow on a busy machine.
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
)
KNOWN = """{ definitions(limit: 20) { id scenarios(limit: 3) { id } runs(limit: 5) { id } }
  llmProviders { id name } llmModels { id modelId } }"""


class Boundary:
    """Sends fuzzing.Requests from hypothesis' thread to the app on the test's event loop, and
    checks each answer, and the log, against the contract."""

    def __init__(
        self, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, keys: fuzzing.Keys
    ) -> None:
        self.client = client
        self.caplog = caplog
        self.keys = keys
        self.loop = asyncio.get_running_loop()
        self.outcomes: Counter[str] = Counter()

    def check(self, request: fuzzing.Request) -> None:
        self.caplog.clear()
        response = self._send(request)
        problems = fuzzing.violations(
            request,
            response.status_code,
            response.headers.get("content-type", ""),
            response.content,
        )
        codes = fuzzing.error_codes(response.json()) if problems == [] else []
        # "<status> <codes>", e.g. "200 NOT_FOUND": what the examples reached, for `reached`.
        self.outcomes[f"{response.status_code} {' '.join(sorted(set(codes))) or 'ok'}"] += 1
        logged = [r.getMessage() for r in self.caplog.records if r.levelno >= logging.ERROR]
        problems += [f"logged at ERROR: {message}" for message in logged]
        assert problems == [], (request, response.status_code, response.text[:2000])

    def _send(self, request: fuzzing.Request) -> httpx.Response:
        url = f"/graphql?{request.query_string}" if request.query_string else "/graphql"
        sending = self.client.request(
            request.method, url, headers=request.headers, content=request.content or None
        )
        # A deadline against a stalled request, not a measure of speed.
        return asyncio.run_coroutine_threadsafe(sending, self.loop).result(timeout=300)

    def assert_reached(self, *outcomes: str) -> None:
        """The examples drew answers of each kind: else the property proved little."""
        missing = [outcome for outcome in outcomes if not self.outcomes[outcome]]
        assert missing == [], self.outcomes.most_common()

    async def run(self, prop: Callable[[], None]) -> None:
        await asyncio.to_thread(prop)
        health = await gql(self.client, "{ definitionCount }", key=self.keys.admin)
        assert "errors" not in health


@pytest.fixture
def logged(caplog: pytest.LogCaptureFixture) -> Iterator[pytest.LogCaptureFixture]:
    with caplog.at_level(logging.WARNING):
        yield caplog


@pytest.fixture
async def boundary(
    app_client: httpx.AsyncClient,
    db: Database,
    admin_key: str,
    viewer_key: str,
    logged: pytest.LogCaptureFixture,
) -> Boundary:
    await _runs_with_results(db)
    return Boundary(app_client, logged, fuzzing.Keys(admin=admin_key, viewer=viewer_key))


async def _runs_with_results(db: Database) -> None:
    """A run with a transcript and a failed probe beside the demo data, so that generated
    ids reach rows of every kind."""
    definition = await make_definition(db)
    async with db.session() as session:
        scenario = (await definitions.list_scenarios(session, definition.id, paging=Page(1, 0)))[0]
    run = await make_run(db, definition, models=["sim-steady"])
    await add_slot(db, run, scenario.id, "sim-steady", sample_index=0, success=True)
    await add_slot(db, run, scenario.id, "sim-steady", sample_index=1, success=False)


async def known_ids(boundary: Boundary) -> list[str]:
    """Every id the database holds now, for generated arguments to name."""
    body = await gql(boundary.client, KNOWN, key=boundary.keys.admin)
    assert "errors" not in body, body
    return sorted(_strings_under(body["data"], {"id", "modelId", "name"}))


def _strings_under(value: Any, keys: set[str]) -> set[str]:
    if isinstance(value, list):
        return set().union(*(_strings_under(v, keys) for v in value))
    if isinstance(value, dict):
        own = {v for k, v in value.items() if k in keys and isinstance(v, str)}
        return own.union(*(_strings_under(v, keys) for v in value.values()))
    return set()


async def test_valid_operations_keep_the_contract(boundary: Boundary) -> None:
    """Queries and mutations the schema allows, literals or variables, admin or viewer."""
    known = await known_ids(boundary)

    @FUZZ
    @given(fuzzing.operations(known, boundary.keys, valid=True))
    def prop(request: fuzzing.Request) -> None:
        boundary.check(request)

    await boundary.run(prop)
    boundary.assert_reached("200 ok", "200 NOT_FOUND", "200 FORBIDDEN", "400 BAD_USER_INPUT")


async def test_operations_with_a_schema_violation_keep_the_contract(boundary: Boundary) -> None:
    """A wrong argument type, a missing required argument, an unknown enum value, ..."""
    known = await known_ids(boundary)

    @FUZZ
    @given(fuzzing.operations(known, boundary.keys, valid=False))
    def prop(request: fuzzing.Request) -> None:
        boundary.check(request)

    await boundary.run(prop)
    boundary.assert_reached("400 GRAPHQL_VALIDATION_FAILED")


async def test_values_that_reach_the_database_keep_the_contract(boundary: Boundary) -> None:
    """JSON values (NaN, infinities, huge numbers, NUL, surrogates) bound for jsonb, as
    variables or literals, and numbers past what a double or int() can take."""
    body = await gql(boundary.client, "{ llmModels { id } }", key=boundary.keys.admin)
    model_ids = [model["id"] for model in body["data"]["llmModels"]]

    nan = {"query": fuzzing.UPDATE_API_CONFIG, "variables": {"id": model_ids[0], "c": [math.nan]}}
    admin = fuzzing.authorized(boundary.keys.admin)

    @FUZZ
    @given(fuzzing.stored_values(model_ids, boundary.keys))
    # The bug this property found, whichever examples the generator draws.
    @example(fuzzing.Request("POST", admin, fuzzing.body(nan)))
    def prop(request: fuzzing.Request) -> None:
        boundary.check(request)

    await boundary.run(prop)
    boundary.assert_reached("200 ok", "400 BAD_USER_INPUT", "400 BAD_REQUEST")


async def test_malformed_requests_keep_the_contract(boundary: Boundary) -> None:
    """Bodies, encodings, content types, keys and variables that are wrong somewhere."""

    @FUZZ
    @given(fuzzing.malformed(boundary.keys))
    def prop(request: fuzzing.Request) -> None:
        boundary.check(request)

    await boundary.run(prop)
    boundary.assert_reached("401 UNAUTHENTICATED", "400 BAD_REQUEST", "415 BAD_REQUEST")
